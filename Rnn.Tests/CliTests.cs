using System.Globalization;
using Rnn.Init;
using Rnn.IO;
using Rnn.Models;
using Rnn.Samples.Adding;
using Rnn.Samples.Addition;
using Rnn.Samples.Common;
using static Rnn.Tests.SampleCli;

namespace Rnn.Tests;

/// <summary>Tests that swap Console.Out/Error (or set process-wide state through a sample) run alone.</summary>
[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>The samples' command line: the same options everywhere, usage errors on stderr with exit code 2.</summary>
[Collection("Console")]
public class CliTests
{
    private static readonly string[] AllSamples = ["adding", "imdb", "classify", "addition", "charrnn", "info"];
    private static readonly string[] TrainingSamples = ["adding", "imdb", "addition", "charrnn"];

    public static TheoryData<string> All() => new(AllSamples);
    public static TheoryData<string> Training() => new(TrainingSamples);

    [Theory]
    [MemberData(nameof(All))]
    public void UnknownOptionIsAUsageError(string sample)
    {
        var (code, stdout, err) = Run(sample, "--bogus");
        Assert.Equal(2, code);
        Assert.Contains($"{sample}: unknown option '--bogus'", err);
        Assert.Equal("", stdout);
    }

    [Theory]
    [MemberData(nameof(Training))]
    public void BadEpochsIsAUsageErrorInBothForms(string sample)
    {
        foreach (var args in new[] { new[] { sample, "--epochs", "abc" }, [sample, "--epochs=abc"] })
        {
            var (code, _, err) = Run(args);
            Assert.Equal(2, code);
            Assert.Contains($"{sample}: --epochs expects an integer", err);
            Assert.Contains("got 'abc'", err);
        }
    }

    /// <summary>classify and info do not train: --epochs is unknown there, still exit code 2 with a message.</summary>
    [Theory]
    [InlineData("classify")]
    [InlineData("info")]
    public void EpochsOnANonTrainingSampleIsAUsageError(string sample)
    {
        var (code, _, err) = Run(sample, "--epochs", "abc");
        Assert.Equal(2, code);
        Assert.Contains($"{sample}: unknown option '--epochs'", err);
    }

    [Theory]
    [MemberData(nameof(Training))]
    public void BadValuesOfEverySharedOptionAreUsageErrors(string sample)
    {
        string missing = Path.Combine(Path.GetTempPath(), "rnn-no-such-folder-" + Guid.NewGuid().ToString("N"), "x");
        (string[] Args, string Message)[] cases =
        [
            (["--lr", "fast"], "--lr expects a number"),
            (["--lr=-1"], "--lr expects a number"),
            (["--seed", "-3"], "--seed expects a non-negative integer"),
            (["--threads", "0"], "--threads expects an integer in [1, "),
            (["--threads", "100000"], "--threads expects an integer in [1, "), // beyond Engine.Threads's range: a usage error, not a crash
            (["--epochs", "0"], "--epochs expects an integer in [1, 1000000]"),
            (["--report", missing], "--report: the folder"),
            (["--plot=" + missing], "--plot: the folder"),
            (["--save", missing], "--save: the folder"),
            (["--lr", "--seed", "2"], "--lr expects a value (X), got the option '--seed'"),
            (["--seed"], "--seed expects a value (N), got nothing"),
            (["--quiet=yes"], "--quiet takes no value"),
            (["stray"], "unexpected argument 'stray'"),
        ];
        foreach (var (args, message) in cases)
        {
            var (code, _, err) = Run([sample, .. args]);
            Assert.True(code == 2, $"{sample} {string.Join(' ', args)}: exit code {code}, stderr: {err}");
            Assert.Contains($"{sample}: {message}", err);
        }
    }

    [Theory]
    [MemberData(nameof(All))]
    public void BadThreadsIsAUsageErrorEverywhere(string sample)
    {
        foreach (var value in new[] { "abc", "0", "100000" })
        {
            var (code, _, err) = Run(sample, "--threads", value);
            Assert.Equal(2, code);
            Assert.Contains($"{sample}: --threads expects an integer in [1, {Environment.ProcessorCount * 4}], got '{value}'", err);
        }
    }

    /// <summary>Input files and folders that do not exist are usage errors too, not unhandled exceptions.</summary>
    [Theory]
    [InlineData("imdb", "--data", "--data: folder")]
    [InlineData("imdb", "--word-index", "--word-index: file")]
    [InlineData("charrnn", "--data", "--data: file")]
    [InlineData("classify", "--model", "--model: file")]
    [InlineData("classify", "--file", "--file: file")]
    public void MissingInputIsAUsageError(string sample, string option, string message)
    {
        string missing = Path.Combine(Path.GetTempPath(), "rnn-no-such-input-" + Guid.NewGuid().ToString("N"));
        string[] args = option == "--file" ? [sample, "--model", typeof(CliTests).Assembly.Location, option, missing] : [sample, option, missing];
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains($"{sample}: {message} '{missing}' not found", err);
    }

    [Theory]
    [MemberData(nameof(Training))]
    public void EveryTrainingSampleListsTheSharedOptions(string sample)
    {
        var (code, stdout, err) = Run(sample, "--help");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        foreach (var name in new[] { "--epochs N", "--lr X", "--seed N", "--threads N", "--report FILE", "--plot FILE.svg", "--save FILE", "--quiet", "--help" })
            Assert.Contains("\n  " + name + " ", stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void TopLevelHelpListsEverySampleOnOneLine()
    {
        var (code, stdout, _) = Run("--help");
        Assert.Equal(0, code);
        var lines = stdout.Replace("\r\n", "\n").Split('\n');
        foreach (var s in AllSamples)
            Assert.Single(lines, l => l.StartsWith($"  {s} ", StringComparison.Ordinal));

        var (none, noneOut, noneErr) = Run();
        Assert.Equal(2, none);
        Assert.Equal("", noneOut);
        Assert.Contains("usage: Rnn.Samples <sample>", noneErr);

        var (unknown, _, unknownErr) = Run("nosuch", "--epochs", "1");
        Assert.Equal(2, unknown);
        Assert.Contains("unknown sample 'nosuch'", unknownErr);
    }

    [Fact]
    public void BothFormsParseToTheSameValues()
    {
        Cli Make() => new Cli("t", "test").Common(epochs: 3, lr: 0.5, saveHelp: "save").Option("name", "S", "a name", "x");
        var a = Make(); Assert.True(a.Parse(["--epochs", "7", "--lr", "0.25", "--name", "a=b", "--quiet"]));
        var b = Make(); Assert.True(b.Parse(["--epochs=7", "--lr=0.25", "--name=a=b", "--quiet"]));
        foreach (var cli in new[] { a, b })
        {
            var o = TrainOptions.Read(cli);
            Assert.Equal(7, o.Epochs);
            Assert.Equal(0.25, o.LearningRate);
            Assert.Equal(1UL, o.Seed);
            Assert.True(o.Quiet);
            Assert.Null(o.Save);
            Assert.Equal("a=b", cli.Get("name")); // only the first '=' splits
        }
        var d = Make(); Assert.True(d.Parse([]));
        Assert.Equal(3, TrainOptions.Read(d).Epochs);
        Assert.Equal(0.5, TrainOptions.Read(d).LearningRate);
        Assert.False(TrainOptions.Read(d).Quiet);
    }

    /// <summary>adding --save (new) writes a checkpoint that loads back into the same network; the --name=value form throughout.</summary>
    [Fact]
    public void AddingSavesACheckpointThatLoads()
    {
        string dir = Directory.CreateTempSubdirectory("rnn-cli-").FullName;
        try
        {
            string ckpt = Path.Combine(dir, "adding.safetensors"), report = Path.Combine(dir, "r.json"), plot = Path.Combine(dir, "p.svg");
            var (code, stdout, err) = Run("adding", "--epochs=2", "--batches=2", "--batch=4", "--hidden=5", "--seed=9",
                $"--save={ckpt}", $"--report={report}", $"--plot={plot}", "--quiet");
            Assert.True(code == 0, err);
            Assert.Contains($"saved {ckpt}", stdout);
            using var model = Checkpoint.LoadModel<float>(ckpt, out var meta);
            Assert.Equal("5", meta["adding.hidden"]);
            Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "fc.weight", "fc.bias"],
                model.NamedParameters.Select(p => p.Name));
            Assert.Equal(100, ((RecurrentSpec)model.Specs[0]).GradClipping);
            using (var file = SafeTensors.Load(ckpt))
            {
                var w = new float[10];
                file.ReadFloat("fc.weight", w);
                Assert.Equal(w, model.Parameters[6].Value);
                Assert.Contains(w, v => v != 0);
            }
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
            Assert.Equal(2, json.RootElement.GetProperty("epochs").GetArrayLength());
            Assert.False(json.RootElement.GetProperty("summary").GetProperty("interrupted").GetBoolean());
            Assert.Equal(2, json.RootElement.GetProperty("summary").GetProperty("epochs_completed").GetInt32());
            Assert.StartsWith("<svg", File.ReadAllText(plot));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>addition --save writes a model checkpoint (architecture and every parameter) that loads back.</summary>
    [Fact]
    public void AdditionSavesACheckpointThatLoads()
    {
        string dir = Directory.CreateTempSubdirectory("rnn-cli-").FullName;
        try
        {
            string ckpt = Path.Combine(dir, "addition.safetensors");
            var (code, stdout, err) = Run("addition", "--epochs", "1", "--examples", "300", "--batch", "64", "--hidden", "8", "--cell", "gru",
                "--save", ckpt, "--quiet");
            Assert.True(code == 0, err);
            Assert.Contains($"saved {ckpt}", stdout);
            using var model = Checkpoint.LoadModel<float>(ckpt);
            using var built = AdditionSample.Build("gru", 8, 3, new Rng(5));
            Assert.Equal(built.Specs, model.Specs);
            Assert.Equal(built.NamedParameters.Select(p => p.Name), model.NamedParameters.Select(p => p.Name));
            var meta = Checkpoint.ReadMetadata(ckpt);
            Assert.Equal("gru", meta["addition.cell"]);
            Assert.Equal("8", meta["addition.hidden"]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void RedirectedProgressIsPlainLines()
    {
        var w = new StringWriter();
        var p = new Progress(quiet: false, w, terminal: false);
        p.StartEpoch();
        p.Update(1, 2, 1, 10, 32, 0.69314718);   // first update prints
        p.Update(1, 2, 2, 10, 64, 0.5);          // within 10 s: skipped
        p.Update(1, 2, 10, 10, 320, 0.4);        // last batch: the epoch's own line follows instead
        p.Clear();
        string text = w.ToString();
        var lines = text.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.Matches(@"^epoch 1/2  batch 1/10  \d+ samples/s  ETA \d+\.\ds  loss 0\.69315$", line);
        Assert.DoesNotContain(text.Replace(Environment.NewLine, ""), c => char.IsControl(c));
    }

    [Fact]
    public void TerminalProgressRedrawsInPlaceAndClears()
    {
        var w = new StringWriter();
        var p = new Progress(quiet: false, w, terminal: true);
        p.Update(3, 4, 1, 5, 10, 1.5);
        Assert.StartsWith("\repoch 3/4  batch 1/5", w.ToString());
        Assert.DoesNotContain('\n', w.ToString());
        p.Clear();
        Assert.EndsWith("\r", w.ToString());

        var quiet = new StringWriter();
        new Progress(quiet: true, quiet, terminal: false).Update(1, 1, 1, 2, 1, 1);
        Assert.Equal("", quiet.ToString());
    }

    [Fact]
    public void ProgressFormatIsCultureInvariant()
    {
        var old = CultureInfo.CurrentCulture;
        try
        {
            // a culture with a decimal comma (cloned: the tests may run in globalization-invariant mode)
            var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ",";
            comma.NumberFormat.NumberGroupSeparator = ".";
            CultureInfo.CurrentCulture = comma;
            Assert.Equal("6,0", 6.0.ToString("F1")); // the culture is in effect
            string s = Progress.Format(2, 5, 25, 100, 800, 2.0, 0.123456);
            // 800 samples in 2 s = 400/s; 25 of 100 batches in 2 s leaves 75 batches = 6 s.
            Assert.Equal("epoch 2/5  batch 25/100  400 samples/s  ETA 6.0s  loss 0.12346", s);
        }
        finally { CultureInfo.CurrentCulture = old; }
    }
}
