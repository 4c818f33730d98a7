using System.Diagnostics;
using System.Globalization;
using System.Text;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench workloads [--threads N] [--only a,b] [--quick]`: the standard workloads of WORKLOADS.md,
/// one JSON object per line on stdout, in the peers' protocol, so our figures merge with theirs.
/// Timing follows the policy the peers ran with (workloads.json): warm up ≥ 3 calls and ≥ 0.3 s, then
/// reps = clamp(⌈3 s / time per call⌉, 10, 200), each timed alone; report median and min.
/// --quick: 1 warm-up call, reps = clamp(⌈0.3 s / t⌉, 3, 5).
/// </summary>
public static class Workloads
{
    private sealed record Timing(int WarmupReps, double WarmupSeconds, double TargetSeconds, int MinReps, int MaxReps);

    /// <summary>One workload phase: a name, its matmul FLOPs, and a setup returning the timed action.</summary>
    public sealed record Case(string Workload, string Phase, long Flops, Func<Action> Setup);

    /// <summary>Runs the selected workloads; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        int threads = 1; string? only = null; bool quick = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out threads) && threads >= 1: i++; break;
                case "--only" when i + 1 < args.Length: only = args[++i]; break;
                case "--quick": quick = true; break;
                default:
                    Console.Error.WriteLine($"workloads: unexpected argument '{args[i]}'; expected --threads N, --only a,b, --quick.");
                    return 2;
            }
        }
        Engine.Threads = threads;
        var timing = quick ? new Timing(1, 0, 0.3, 3, 5) : new Timing(3, 0.3, 3.0, 10, 200);
        var selected = only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string version = typeof(Engine).Assembly.GetName().Version?.ToString() ?? "0";
        Console.Error.WriteLine($"rnn workloads: threads {threads}, kernel path {KernelPath()}, {(quick ? "quick" : "full")} timing");
        foreach (var c in Cases())
        {
            if (selected != null && !selected.Contains(c.Workload)) continue;
            var action = c.Setup();
            var ts = Time(timing, action);
            double med = Median(ts), min = ts.Min();
            var ci = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append(ci, $"{{\"engine\":\"rnn\",\"version\":\"{version}\",\"workload\":\"{c.Workload}\",\"phase\":\"{c.Phase}\",\"threads\":{threads},");
            sb.Append(ci, $"\"median_ms\":{Math.Round(med * 1e3, 4)},\"min_ms\":{Math.Round(min * 1e3, 4)},\"reps\":{ts.Count},");
            sb.Append(ci, $"\"flops\":{c.Flops},\"gflops\":{Math.Round(c.Flops / med / 1e9, 3)}}}");
            Console.Out.WriteLine(sb.ToString());
            Console.Out.Flush();
        }
        return 0;
    }

    private static string KernelPath() => Dispatch.KernelPath;

    private static List<double> Time(Timing t, Action fn)
    {
        long t0 = Stopwatch.GetTimestamp();
        int n = 0;
        while (n < t.WarmupReps || Stopwatch.GetElapsedTime(t0).TotalSeconds < t.WarmupSeconds) { fn(); n++; }
        double est = Stopwatch.GetElapsedTime(t0).TotalSeconds / n;
        int reps = (int)Math.Min(t.MaxReps, Math.Max(t.MinReps, Math.Ceiling(t.TargetSeconds / Math.Max(est, 1e-9))));
        var ts = new List<double>(reps);
        for (int i = 0; i < reps; i++)
        {
            long s = Stopwatch.GetTimestamp();
            fn();
            ts.Add(Stopwatch.GetElapsedTime(s).TotalSeconds);
        }
        return ts;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        int m = s.Count / 2;
        return s.Count % 2 == 1 ? s[m] : 0.5 * (s[m - 1] + s[m]);
    }

    /// <summary>FLOPs of a recurrent phase as WORKLOADS.md counts them (matmuls only).</summary>
    public static long RecurrentFlops(int gates, int input, int hidden, int batch, int seq, bool backward, bool inputGrad)
    {
        long f = 2L * seq * batch * gates * hidden * (input + hidden);
        if (!backward) return f;
        return f + f + 2L * seq * batch * gates * hidden * hidden + (inputGrad ? 2L * seq * batch * gates * hidden * input : 0);
    }

    /// <summary>Every workload phase.</summary>
    public static IEnumerable<Case> Cases()
    {
        foreach (var c in Recurrent("adding", 1, 2, 100, 100, 55, finalOnly: true,
                     (rng) => new SimpleRnn<float>(2, 100, rng, new SimpleRnnOptions { ReturnSequences = false, TwoBiases = true })))
            yield return c;
        yield return new Case("sgemm", "fwd", 2L * 1024 * 1024 * 1024, () =>
        {
            var rng = new Rng(1);
            var a = new float[1024 * 1024]; var b = new float[1024 * 1024]; var c = new float[1024 * 1024];
            Initializers.Uniform<float>(a, rng, -1, 1); Initializers.Uniform<float>(b, rng, -1, 1);
            return () => Gemm.Multiply<float>(c, a, b, false, false, 1f, 0f, 1024, 1024, 1024);
        });
    }

    /// <summary>fwd and fwdbwd of one recurrent layer; weights U(±1/√H), loss = sum of the last step (finalOnly) or of all outputs.</summary>
    public static IEnumerable<Case> Recurrent(string name, int gates, int input, int hidden, int batch, int seq, bool finalOnly,
        Func<Rng, IRecurrentLayer<float>> make)
    {
        (IRecurrentLayer<float> l, float[] x, float[] y, float[] dy) Build()
        {
            var rng = new Rng(1);
            var l = make(rng);
            double a = 1 / Math.Sqrt(hidden);
            foreach (var p in l.Parameters) Initializers.Uniform<float>(p.Value, rng, -a, a);
            var x = new float[batch * seq * input]; Initializers.Uniform<float>(x, rng, -1, 1);
            var y = new float[batch * l.OutputLength(seq)];
            var dy = Enumerable.Repeat(1f, y.Length).ToArray(); // d(sum)/dy = 1
            return (l, x, y, dy);
        }
        yield return new Case(name, "fwd", RecurrentFlops(gates, input, hidden, batch, seq, false, false), () =>
        {
            var (l, x, y, _) = Build();
            l.Training = false;
            return () => l.Forward(y, x, default, batch, seq);
        });
        yield return new Case(name, "fwdbwd", RecurrentFlops(gates, input, hidden, batch, seq, true, false), () =>
        {
            var (l, x, y, dy) = Build();
            return () => { l.ZeroGrad(); l.Forward(y, x, default, batch, seq); l.Backward(default, dy, batch, seq); };
        });
    }
}
