using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Rnn.Kernels;
using Rnn.Losses;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench profile [--workload imdb|lstm-infer-1] [--threads N] [--steps N]`: the imdb fwd and train_step (or the
/// float32 lstm-infer-1 Forward) phase by phase, from
/// the engine's own phase marks (<see cref="PhaseProfile"/>, off in every other command). Per phase: wall time per
/// step on the driving thread (t0); t0's time in its own chunks of dispatched work, serial (outside any dispatch) and
/// waiting for the workers; each worker's time in chunks and idle (spinning or asleep); dispatches per step and the
/// workers' mean wake-up lag. Then each thread's run-queue delay (runnable, not running) and the host's steal time
/// per step, from /proc: what a busy machine takes from the step.
/// </summary>
public static unsafe partial class Profile
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec, Nsec; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    /// <summary>The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID), 0 where unavailable.</summary>
    private static long ThreadCpuNs() => ClockGetTime(3, out var ts) == 0 ? ts.Sec * 1_000_000_000 + ts.Nsec : 0;

    /// <summary>Prints the profile tables (markdown); returns the exit code.</summary>
    public static int Run(string[] args)
    {
        int threads = 1, steps = 200; string workload = "imdb";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out threads) && threads >= 1: i++; break;
                case "--steps" when i + 1 < args.Length && int.TryParse(args[i + 1], out steps) && steps >= 1: i++; break;
                case "--workload" when i + 1 < args.Length: workload = args[++i]; break;
                default:
                    Console.Error.WriteLine($"profile: unexpected argument '{args[i]}'; expected --workload imdb|lstm-infer-1, --threads N, --steps N.");
                    return 2;
            }
        }
        if (workload is not ("imdb" or "lstm-infer-1"))
        {
            Console.Error.WriteLine($"profile: expected --workload imdb or lstm-infer-1, got '{workload}'.");
            return 2;
        }
        Engine.Threads = threads;
        if (OperatingSystem.IsLinux()) PhaseProfile.ThreadCpu = &ThreadCpuNs;
        if (workload == "lstm-infer-1")
        {
            // The float32 workload: Forward over 100 steps of batch 1 (the scan's own phase marks).
            var (l, x) = Workloads.LstmInfer1Layer();
            var y = new float[l.OutputLength(100)];
            Console.WriteLine($"lstm-infer-1, {threads} thread(s), kernel path {Dispatch.KernelPath}, {steps} calls after 30 warm-up calls; ms per call");
            Measure(workload, "fwd", steps, threads, () => l.Forward(y, x, default, 1, 100));
            return 0;
        }
        const int B = 32, S = 100;
        var (model, tokens, labels) = Workloads.ImdbModel();
        var adam = new Rnn.Optimizers.Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8);
        Console.WriteLine($"imdb, {threads} thread(s), kernel path {Dispatch.KernelPath}, {steps} steps after 30 warm-up steps; ms per step");
        model.Training = false;
        Measure(workload, "fwd", steps, threads, () => BinaryCrossEntropy.Forward<float>(model.Forward(tokens, default, B, S), labels));
        model.Training = true;
        Measure(workload, "train_step", steps, threads, () =>
        {
            PhaseProfile.Enter(StepPhase.ZeroGrad);
            model.ZeroGrad();
            PhaseProfile.Enter(StepPhase.Other);
            var logits = model.Forward(tokens, default, B, S);
            BinaryCrossEntropy.Forward<float>(logits, labels);
            var d = model.OutputGrad;
            d.Clear();
            BinaryCrossEntropy.Backward<float>(d, logits, labels, 1f);
            model.Backward(d, default, B, S);
            adam.Step();
        });
        return 0;
    }

    private static void Measure(string workload, string phase, int steps, int threads, Action step)
    {
        for (int i = 0; i < 30; i++) step();
        var tids = Tids();
        var sched0 = tids.Select(Sched).ToArray();
        long steal0 = Steal();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        PhaseProfile.Enabled = true;
        PhaseProfile.Reset();
        for (int i = 0; i < steps; i++) step();
        PhaseProfile.Flush();
        PhaseProfile.Enabled = false;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / steps;
        var sched1 = tids.Select(Sched).ToArray();
        long steal1 = Steal();

        double ms(long ticks) => ticks * 1e3 / Stopwatch.Frequency / steps;
        int workers = Math.Min(threads, PhaseProfile.MaxThreads);
        long wallTotal = PhaseProfile.Wall.Sum();
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"### {workload} {phase}, {threads} thread(s): {ms(wallTotal):F3} ms wall, {cpu:F3} ms process CPU per step"));
        Console.WriteLine();
        Console.WriteLine("Per step, ms. t0 drives the step: CPU (spinning included), wall outside any dispatch (serial), in its own chunks, waiting for the others;");
        Console.WriteLine("a worker: CPU and wall time in its chunks (the rest of the phase it idles). Wake lag: dispatch to a worker's start.");
        Console.WriteLine();
        bool hasCpu = PhaseProfile.ThreadCpu != null;
        double cms(long ns) => ns / 1e6 / steps;
        var head = "| phase | wall | t0 CPU | t0 serial | t0 in chunks | t0 waiting |";
        var rule = "|---|---|---|---|---|---|";
        for (int p = 1; p < workers; p++) { head += $" t{p} CPU | t{p} in chunks |"; rule += "---|---|"; }
        Console.WriteLine(head + " dispatches | wake lag µs |");
        Console.WriteLine(rule + "---|---|");
        var sum = new double[5 + 2 * workers];
        for (int f = 0; f < (int)StepPhase.Count; f++)
        {
            long wall = PhaseProfile.Wall[f];
            if (wall == 0) continue;
            long busy0 = PhaseProfile.Busy[f * PhaseProfile.MaxThreads], wait = PhaseProfile.Wait[f];
            double[] v = [ms(wall), cms(PhaseProfile.Cpu[f * PhaseProfile.MaxThreads]), ms(wall - busy0 - wait), ms(busy0), ms(wait)];
            var line = $"| {Name((StepPhase)f)} |";
            for (int i = 0; i < v.Length; i++) { sum[i] += v[i]; line += (i == 1 && !hasCpu ? " – |" : string.Create(inv, $" {v[i]:F3} |")); }
            for (int p = 1; p < workers; p++)
            {
                double c = cms(PhaseProfile.Cpu[f * PhaseProfile.MaxThreads + p]), b = ms(PhaseProfile.Busy[f * PhaseProfile.MaxThreads + p]);
                line += hasCpu ? string.Create(inv, $" {c:F3} |") : " – |";
                line += string.Create(inv, $" {b:F3} |");
                sum[3 + 2 * p] += c; sum[4 + 2 * p] += b;
            }
            long n = PhaseProfile.Dispatches[f];
            double lag = n == 0 || workers < 2 ? 0 : PhaseProfile.Lag[f] * 1e6 / Stopwatch.Frequency / n / (workers - 1);
            Console.WriteLine(line + string.Create(inv, $" {(double)n / steps:F1} | {lag:F1} |"));
        }
        var total = "| **step** |";
        for (int i = 0; i < 5; i++) total += string.Create(inv, $" {sum[i]:F3} |");
        for (int p = 1; p < workers; p++) total += string.Create(inv, $" {sum[3 + 2 * p]:F3} | {sum[4 + 2 * p]:F3} |");
        Console.WriteLine(total + " | |");
        Console.WriteLine();
        for (int i = 0; i < tids.Length; i++)
        {
            if (sched0[i].Run < 0 || sched1[i].Run < 0) continue;
            Console.WriteLine(string.Create(inv,
                $"- thread {tids[i].Name}: on CPU {(sched1[i].Run - sched0[i].Run) / 1e6 / steps:F3} ms, runnable but waiting for a CPU {(sched1[i].Delay - sched0[i].Delay) / 1e6 / steps:F3} ms per step"));
        }
        if (steal0 >= 0 && steal1 >= 0)
            Console.WriteLine(string.Create(inv, $"- host steal time (all CPUs): {(steal1 - steal0) * 10.0 / steps:F3} ms per step"));
    }

    private static string Name(StepPhase f) => f switch
    {
        StepPhase.Other => "head, loss, model glue",
        StepPhase.ZeroGrad => "zero grads",
        StepPhase.EmbeddingGather => "embedding gather",
        StepPhase.ScanInput => "LSTM input checks + scan-order copy",
        StepPhase.ScanPrepare => "LSTM bias + pack W_hhᵀ",
        StepPhase.InputGemm => "input GEMM x·W_ihᵀ",
        StepPhase.ForwardLoop => "forward time loop",
        StepPhase.ScanOutput => "LSTM output copy",
        StepPhase.BackwardPrepare => "backward checks + pack W_hh",
        StepPhase.BackwardLoop => "backward time loop",
        StepPhase.WeightGradients => "weight gradients dGᵀ·[h | x], bias",
        StepPhase.InputGradient => "dx = dG·W_ih + batch-order copy",
        StepPhase.EmbeddingScatter => "embedding scatter-add",
        StepPhase.Optimizer => "Adam (+ grad norm)",
        _ => f.ToString(),
    };

    /// <summary>The main thread and the pool's workers: (name, tid).</summary>
    private static (string Name, int Tid)[] Tids()
    {
        var list = new List<(string, int)> { ("t0 (main)", Environment.ProcessId) };
        try
        {
            foreach (var dir in Directory.GetDirectories("/proc/self/task"))
            {
                string comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                if (comm.StartsWith("Rnn kernel ", StringComparison.Ordinal))
                    list.Add(("t" + comm["Rnn kernel ".Length..], int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)));
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return [.. list.OrderBy(t => t.Item1, StringComparer.Ordinal)];
    }

    /// <summary>/proc/self/task/TID/schedstat: ns on CPU and ns runnable but waiting; −1 where unreadable.</summary>
    private static (long Run, long Delay) Sched((string Name, int Tid) t)
    {
        try
        {
            var f = File.ReadAllText($"/proc/self/task/{t.Tid}/schedstat").Split(' ');
            return (long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture));
        }
        catch (IOException) { return (-1, -1); }
        catch (UnauthorizedAccessException) { return (-1, -1); }
    }

    /// <summary>The host's steal time over all CPUs from /proc/stat, in clock ticks (1/100 s); −1 where unreadable.</summary>
    private static long Steal()
    {
        try
        {
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return f.Length > 8 ? long.Parse(f[8], CultureInfo.InvariantCulture) : -1;
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }
}
