using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Rnn.IO;
using Xunit.Abstractions;

namespace Rnn.Tests;

/// <summary>
/// Ctrl+C end to end: the real imdb sample in a child process gets SIGINT mid-training, stops after the batch,
/// exits 0 and leaves a valid report, plot and checkpoint of what ran.
/// </summary>
[Collection("Console")]
public class CtrlCTests(ITestOutputHelper output)
{
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private const int SIGINT = 2, SIGTERM = 15;

    /// <summary>
    /// True when this process ignores SIGINT (a non-interactive shell starts background jobs so, and the child
    /// inherits it): then SIGINT cannot reach the sample and the test sends SIGTERM, which takes the same path.
    /// </summary>
    private static bool SigintIgnored()
    {
        if (!File.Exists("/proc/self/status")) return false;
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line != null && (Convert.ToUInt64(line[7..].Trim(), 16) & (1UL << (SIGINT - 1))) != 0;
    }

    /// <summary>The dotnet host: the one the CLI says it is, this process if it is the muxer, else "dotnet" on PATH.</summary>
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        string? self = Environment.ProcessPath;
        if (self != null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    [Fact]
    public void ImdbStopsCleanlyOnSigintAndWritesWhatRan()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return; // SIGINT via kill(2): Unix only; CI runs Linux
        string dll = Path.Combine(AppContext.BaseDirectory, "Rnn.Samples.dll");
        Assert.True(File.Exists(dll), $"expected {dll} next to the tests (Rnn.Tests references Rnn.Samples)");
        string dir = Directory.CreateTempSubdirectory("rnn-ctrlc-").FullName;
        string report = Path.Combine(dir, "r.json"), plot = Path.Combine(dir, "p.svg"), ckpt = Path.Combine(dir, "c.safetensors");
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { dll, "imdb", "--epochs", "50", "--train-limit", "3200", "--no-baseline",
                                  "--report", report, "--plot", plot, "--save", ckpt, "--quiet" })
            psi.ArgumentList.Add(a);
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        using var started = new ManualResetEventSlim();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (stdout) stdout.AppendLine(e.Data);
            if (e.Data.StartsWith("imdb:", StringComparison.Ordinal)) started.Set();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        try
        {
            Assert.True(p.Start());
            p.BeginOutputReadLine(); p.BeginErrorReadLine();
            // The header is printed once the data is generated; then let a few batches run.
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)), $"no 'imdb:' header within 30 s; stdout: {stdout} stderr: {stderr}");
            Thread.Sleep(2000);
            Assert.False(p.HasExited, $"exited before the signal; stdout: {stdout} stderr: {stderr}");
            int signal = SigintIgnored() ? SIGTERM : SIGINT;
            output.WriteLine($"sending signal {signal}");
            Assert.Equal(0, Kill(p.Id, signal));
            Assert.True(p.WaitForExit(60_000), "did not exit within 60 s of SIGINT");
            p.WaitForExit(); // drains the output events
            string log = $"stdout: {stdout}\nstderr: {stderr}";
            output.WriteLine(log);
            Assert.True(p.ExitCode == 0, $"exit code {p.ExitCode}; {log}");
            Assert.Contains("interrupted", stdout.ToString());

            using var json = JsonDocument.Parse(File.ReadAllText(report));
            var root = json.RootElement;
            Assert.True(root.GetProperty("summary").GetProperty("interrupted").GetBoolean(), log);
            int epochs = root.GetProperty("epochs").GetArrayLength();
            Assert.InRange(epochs, 0, 50);
            Assert.InRange(root.GetProperty("summary").GetProperty("epochs_completed").GetInt32(), 0, epochs);
            if (epochs > 0)
            {
                var last = root.GetProperty("epochs")[epochs - 1];
                Assert.True(last.GetProperty("batches").GetDouble() >= 1);
                Assert.True(double.IsFinite(last.GetProperty("train_loss").GetDouble()));
            }

            output.WriteLine(File.ReadAllText(report));
            string svg = File.ReadAllText(plot);
            Assert.StartsWith("<svg", svg);
            Assert.Contains("</svg>", svg);

            using var model = Checkpoint.Load<float>(ckpt);
            Assert.Equal(20000, model.Spec.Vocab);
            Assert.Equal(128, model.Spec.Hidden);
            Assert.Contains("imdb.vocab", Checkpoint.ReadMetadata(ckpt).Keys);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            Directory.Delete(dir, recursive: true);
        }
    }
}
