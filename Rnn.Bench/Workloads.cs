using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench workloads [--threads N] [--only a,b] [--quick]`: the standard workloads of WORKLOADS.md,
/// one JSON object per line on stdout, in the peers' protocol, so our figures merge with theirs.
/// Timing follows the policy the peers ran with (workloads.json): warm up ≥ 3 calls and ≥ 0.3 s, then
/// reps = clamp(⌈3 s / time per call⌉, 10, 200), each timed alone; report median and min.
/// --quick: 1 warm-up call, reps = clamp(⌈0.3 s / t⌉, 3, 5).
/// Extra fields beside the protocol's: cpu_ms (median process CPU time per call, which a loaded machine
/// inflates less than wall time) and alloc_bytes (managed bytes the calling thread allocated per call).
/// </summary>
public static class Workloads
{
    private sealed record Timing(int WarmupReps, double WarmupSeconds, double TargetSeconds, int MinReps, int MaxReps);

    /// <summary>
    /// One workload phase: a name, its matmul FLOPs, a setup returning the timed action, and the engine row it reports
    /// under. An action running several steps (<paramref name="StepsPerCall"/>) is reported per step.
    /// </summary>
    public sealed record WorkloadCase(string Workload, string Phase, long Flops, Func<Action> Setup, string Engine = "rnn", int StepsPerCall = 1);

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
        Console.Error.WriteLine($"rnn workloads: threads {threads}, kernel path {Dispatch.KernelPath}, {(quick ? "quick" : "full")} timing");
        foreach (var c in Cases())
        {
            if (selected != null && !selected.Contains(c.Workload) && !selected.Contains(c.Workload + ":" + c.Phase) && !selected.Contains(c.Engine)) continue;
            var action = c.Setup();
            var r = Time(timing, action);
            int k = c.StepsPerCall;
            double med = Median(r.Wall) / k, min = r.Wall.Min() / k;
            var ci = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.Append(ci, $"{{\"engine\":\"{c.Engine}\",\"version\":\"{version} ({Dispatch.KernelPath})\",\"workload\":\"{c.Workload}\",\"phase\":\"{c.Phase}\",\"threads\":{threads},");
            sb.Append(ci, $"\"median_ms\":{Math.Round(med * 1e3, 4)},\"min_ms\":{Math.Round(min * 1e3, 4)},\"reps\":{r.Wall.Count},");
            sb.Append(ci, $"\"flops\":{c.Flops},\"gflops\":{Math.Round(c.Flops / med / 1e9, 3)}");
            if (k > 1) sb.Append(ci, $",\"batches\":{k}");
            if (r.Cpu.Count > 0) sb.Append(ci, $",\"cpu_ms\":{Math.Round(Median(r.Cpu) / k * 1e3, 4)}");
            sb.Append(ci, $",\"alloc_bytes\":{r.AllocPerCall / k}}}");
            Console.Out.WriteLine(sb.ToString());
            Console.Out.Flush();
        }
        return 0;
    }

    private sealed record Result(List<double> Wall, List<double> Cpu, long AllocPerCall);

    private static Result Time(Timing t, Action fn)
    {
        long t0 = Stopwatch.GetTimestamp();
        int n = 0;
        while (n < t.WarmupReps || Stopwatch.GetElapsedTime(t0).TotalSeconds < t.WarmupSeconds) { fn(); n++; }
        double est = Stopwatch.GetElapsedTime(t0).TotalSeconds / n;
        int reps = (int)Math.Min(t.MaxReps, Math.Max(t.MinReps, Math.Ceiling(t.TargetSeconds / Math.Max(est, 1e-9))));
        var wall = new List<double>(reps); var cpu = new List<double>(reps);
        bool haveCpu = CpuClock.Seconds() >= 0;
        long alloc = 0;
        for (int i = 0; i < reps; i++)
        {
            double c0 = haveCpu ? CpuClock.Seconds() : 0;
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            long s = Stopwatch.GetTimestamp();
            fn();
            double w = Stopwatch.GetElapsedTime(s).TotalSeconds;
            alloc += GC.GetAllocatedBytesForCurrentThread() - a0;
            if (haveCpu) cpu.Add(CpuClock.Seconds() - c0);
            wall.Add(w);
        }
        return new Result(wall, cpu, alloc / reps);
    }

    /// <summary>Process CPU time (Linux clock_gettime(CLOCK_PROCESS_CPUTIME_ID)); −1 where unavailable.</summary>
    private static class CpuClock
    {
        [StructLayout(LayoutKind.Sequential)] private struct TimeSpec { public long Sec, Nsec; }
        [DllImport("libc", EntryPoint = "clock_gettime")] private static extern int ClockGetTime(int clock, out TimeSpec ts);
        private static readonly bool s_ok = OperatingSystem.IsLinux() && Probe();
        private static bool Probe() { try { return ClockGetTime(2, out _) == 0; } catch (Exception) { return false; } }
        public static double Seconds() => s_ok && ClockGetTime(2, out var ts) == 0 ? ts.Sec + ts.Nsec * 1e-9 : -1;
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

    /// <summary>Every workload phase, in WORKLOADS.md's order.</summary>
    public static IEnumerable<WorkloadCase> Cases()
    {
        yield return Adding(false); yield return Adding(true);
        yield return Imdb(false); yield return Imdb(true);
        yield return ImdbLong(packed: true); yield return ImdbLong(packed: false);
        yield return LstmLarge(false); yield return LstmLarge(true);
        yield return LstmInfer1();
        yield return LstmInfer1Stream(WeightPrecision.BFloat16); yield return LstmInfer1Stream(WeightPrecision.Int8);
        yield return GruCase(false); yield return GruCase(true);
        yield return Sgemm();
    }

    /// <summary>adding: tanh RNN, I 2, H 100, B 100, S 55; fwdbwd loss = sum of h_T.</summary>
    public static WorkloadCase Adding(bool bwd) => Recurrent("adding", bwd, 1, 2, 100, 100, 55, rng =>
        new SimpleRnn<float>(2, 100, rng, new SimpleRnnOptions { ReturnSequences = false, TwoBiases = true }));

    /// <summary>lstm-large: LSTM I 512, H 512, B 64, S 100; fwdbwd loss = sum of all outputs.</summary>
    public static WorkloadCase LstmLarge(bool bwd) => Recurrent("lstm-large", bwd, 4, 512, 512, 64, 100, rng =>
        new Lstm<float>(512, 512, rng, new LstmOptions { TwoBiases = true, UnitForgetBias = false, Init = InitScheme.PyTorch }));

    /// <summary>lstm-infer-1: LSTM I 128, H 256, B 1, S 100, inference (streaming latency).</summary>
    public static WorkloadCase LstmInfer1() => Recurrent("lstm-infer-1", false, 4, 128, 256, 1, 100, rng =>
        new Lstm<float>(128, 256, rng, new LstmOptions { TwoBiases = true, UnitForgetBias = false, Init = InitScheme.PyTorch }));

    /// <summary>
    /// lstm-infer-1 with reduced-precision weights, as engines rnn-bf16 and rnn-int8: the same layer, weights and input,
    /// run as 100 streaming steps (the inference path that takes a precision) from a zero state, the stream made once.
    /// </summary>
    public static WorkloadCase LstmInfer1Stream(WeightPrecision precision)
    {
        var inner = LstmInfer1();
        string engine = precision == WeightPrecision.Int8 ? "rnn-int8" : precision == WeightPrecision.BFloat16 ? "rnn-bf16" : "rnn-stream";
        return new WorkloadCase(inner.Workload, inner.Phase, inner.Flops, () =>
        {
            var (l, x) = LstmInfer1Layer();
            var s = l.NewStream(1, precision);
            var y = new float[100 * 256];
            return () => RunStream(l, s, x, y, 128, 256, 100);
        }, engine);
    }

    /// <summary>
    /// `precision`: lstm-infer-1 (100 steps) through Forward (float32), then through streams at each precision: the
    /// largest |Δh| over every step and unit against Forward, and the largest |h|.
    /// </summary>
    public static int PrecisionReport()
    {
        var (l, x) = LstmInfer1Layer();
        var reference = new float[100 * 256];
        l.Forward(reference, x, default, 1, 100);
        double maxH = reference.Max(v => Math.Abs(v));
        foreach (var p in new[] { WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8 })
        {
            using var s = l.NewStream(1, p);
            var y = new float[100 * 256];
            RunStream(l, s, x, y, 128, 256, 100);
            double d = 0;
            for (int i = 0; i < y.Length; i++) d = Math.Max(d, Math.Abs(y[i] - reference[i]));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lstm-infer-1 {p}: largest |Δh| vs Forward {d:G3} (largest |h| {maxH:G3}), reduced-precision weight bytes per step {s.Arena.QuantBytes}"));
        }
        return 0;
    }

    /// <summary>The lstm-infer-1 layer and input as <see cref="Recurrent"/> makes them (same draws).</summary>
    public static (Lstm<float> Layer, float[] X) LstmInfer1Layer()
    {
        var rng = new Rng(1);
        var l = new Lstm<float>(128, 256, rng, new LstmOptions { TwoBiases = true, UnitForgetBias = false, Init = InitScheme.PyTorch });
        double a = 1 / Math.Sqrt(256);
        foreach (var p in l.Parameters) Initializers.Uniform<float>(p.Value, rng, -a, a);
        var x = new float[100 * 128]; Initializers.Uniform<float>(x, rng, -1, 1);
        l.Training = false;
        return (l, x);
    }

    /// <summary>seq steps of a stream from its initial state (zero h, c: the reset is not timed work), h per step into y (seq, H).</summary>
    public static void RunStream(Lstm<float> l, RecurrentState<float> s, float[] x, float[] y, int input, int hidden, int seq)
    {
        s.H.Clear(); s.C.Clear();
        for (int t = 0; t < seq; t++)
        {
            l.Step(s, x.AsSpan(t * input, input));
            s.H.CopyTo(y.AsSpan(t * hidden, hidden));
        }
    }

    /// <summary>gru: GRU (reset-after, as PyTorch) I 128, H 128, B 32, S 100; fwdbwd loss = sum of all outputs.</summary>
    public static WorkloadCase GruCase(bool bwd) => Recurrent("gru", bwd, 3, 128, 128, 32, 100, rng =>
        new Gru<float>(128, 128, rng, new GruOptions { ResetAfter = true, TwoBiases = true, Init = InitScheme.PyTorch }));

    /// <summary>sgemm: C = A·B, 1024³.</summary>
    public static WorkloadCase Sgemm() => new("sgemm", "fwd", 2L * 1024 * 1024 * 1024, () =>
    {
        var rng = new Rng(1);
        var a = new float[1024 * 1024]; var b = new float[1024 * 1024]; var c = new float[1024 * 1024];
        Initializers.Uniform<float>(a, rng, -1, 1); Initializers.Uniform<float>(b, rng, -1, 1);
        return () => Gemm.Multiply<float>(c, a, b, false, false, 1f, 0f, 1024, 1024, 1024);
    });

    /// <summary>
    /// fwd (Training = false) or fwdbwd (parameter gradients only, no input gradient) of one recurrent layer:
    /// every weight and bias U(±1/√H), zero initial state, input U(−1, 1) made once; loss = sum of the last
    /// step (ReturnSequences false) or of all outputs, so dy = 1.
    /// </summary>
    public static WorkloadCase Recurrent(string name, bool bwd, int gates, int input, int hidden, int batch, int seq,
        Func<Rng, IRecurrentLayer<float>> make)
    {
        return new WorkloadCase(name, bwd ? "fwdbwd" : "fwd", RecurrentFlops(gates, input, hidden, batch, seq, bwd, false), () =>
        {
            var rng = new Rng(1);
            var l = make(rng);
            double a = 1 / Math.Sqrt(hidden);
            foreach (var p in l.Parameters) Initializers.Uniform<float>(p.Value, rng, -a, a);
            var x = new float[batch * seq * input]; Initializers.Uniform<float>(x, rng, -1, 1);
            var y = new float[batch * l.OutputLength(seq)];
            var dy = Enumerable.Repeat(1f, y.Length).ToArray(); // d(sum)/dy = 1
            if (!bwd)
            {
                l.Training = false;
                return () => l.Forward(y, x, default, batch, seq);
            }
            return () => { l.ZeroGrad(); l.Forward(y, x, default, batch, seq); l.Backward(default, dy, batch, seq); };
        });
    }

    /// <summary>
    /// imdb: tokens (32, 100) → Embedding(20000, 128) → LSTM(128) → h_T → Dense(128, 1) → BCE on the logit
    /// (= sigmoid then BCE, mean). fwd: to the loss, Training = false. train_step: zero grads, fwd, bwd, Adam
    /// (lr 1e-3, ε 1e-8 as PyTorch) over every parameter. Our embedding gradient is row-sparse (only the
    /// ≤ 3200 rows seen are touched, and Adam is lazy on them), where PyTorch's is a dense 20000×128 tensor.
    /// </summary>
    public static WorkloadCase Imdb(bool train)
    {
        const int B = 32, S = 100, E = 128, H = 128;
        long fwd = RecurrentFlops(4, E, H, B, S, false, false) + 2L * B * H;
        long step = RecurrentFlops(4, E, H, B, S, true, true) + 3 * 2L * B * H;
        return new WorkloadCase("imdb", train ? "train_step" : "fwd", train ? step : fwd, () =>
        {
            var (model, tokens, labels) = ImdbModel();
            if (!train)
            {
                model.Training = false;
                return () => BinaryCrossEntropy.Forward<float>(model.Forward(tokens, default, B, S), labels);
            }
            var adam = new Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8);
            return () => ImdbTrainStep(model, adam, tokens, labels);
        });
    }

    /// <summary>Batches of imdb-packed: the first <see cref="LongBatches"/> lines (32 lengths each) of the embedded lengths file.</summary>
    public const int LongBatches = 16;

    /// <summary>
    /// imdb-packed / imdb-400: the imdb model (no head dropout, as imdb) at maxlen 400 on real IMDB review lengths
    /// (Data/imdb-train-lengths-400.txt, written by tools/imdb-lengths.cs; tools/imdb-packed-peer.py runs PyTorch on
    /// the same batches). One call runs <see cref="LongBatches"/> train steps of batch 32, post-padded tokens:
    /// imdb-packed passes the lengths (each row runs only its real steps), imdb-400 the mask (every padded step is
    /// computed, the state carried through it). The figure is per step (the call divided by the batches); the FLOPs
    /// count the real tokens only, so GFLOP/s is useful throughput in both.
    /// </summary>
    public static WorkloadCase ImdbLong(bool packed)
    {
        const int B = ImdbLongSetup.B, S = ImdbLongSetup.S, E = ImdbLongSetup.E, H = ImdbLongSetup.H;
        var lengths = LongLengths();
        long tokens = lengths.Sum(l => (long)l.Sum());
        long flops = (2L * 4 * H * (E + H) * 3 + 2L * 4 * H * E) * tokens / LongBatches + 3 * 2L * B * H;
        return new WorkloadCase(packed ? "imdb-packed" : "imdb-400", "train_step", flops, () =>
        {
            var w = new ImdbLongSetup(lengths);
            var (emb, lstm, fc, parameters, adam, batches) = (w.Emb, w.Lstm, w.Fc, w.Parameters, w.Adam, w.Batches);
            var (e, de, h, dh, logit, dlogit) = (w.Embedded, w.DEmbedded, w.Last, w.DLast, w.Logit, w.DLogit);
            return () =>
            {
                foreach (var (tok, mask, lens, labels) in batches)
                {
                    foreach (var p in parameters) p.ZeroGrad();
                    emb.Forward(e, tok, B, S);
                    if (packed) lstm.ForwardPacked(h, e, lens, B, S); else lstm.Forward(h, e, mask, B, S);
                    fc.Forward(logit, h, B);
                    BinaryCrossEntropy.Forward<float>(logit, labels);
                    BinaryCrossEntropy.Backward<float>(dlogit, logit, labels, 1f);
                    fc.Backward(dh, dlogit, B);
                    de.AsSpan().Clear();
                    lstm.Backward(de, dh, B, S);
                    emb.Backward(de, B, S);
                    adam.Step();
                }
            };
        }, StepsPerCall: LongBatches);
    }

    /// <summary>
    /// The imdb-packed / imdb-400 train step's layers, optimiser, batches and buffers, drawn from Rng(1): Embedding(20000, 128)
    /// → LSTM(128, PyTorch init) → h_T → Dense(128, 1), Adam (lr 1e-3, ε 1e-8) over every parameter; per batch, tokens
    /// post-padded to 400 with the mask, the lengths and 0/1 labels. The workload and `shapes --packed` time this one setup.
    /// </summary>
    internal sealed class ImdbLongSetup : IDisposable
    {
        public const int B = 32, S = 400, V = 20000, E = 128, H = 128;
        public readonly Embedding<float> Emb;
        public readonly Lstm<float> Lstm;
        public readonly Dense<float> Fc;
        public readonly Parameter<float>[] Parameters;
        public readonly Adam<float> Adam;
        public readonly (int[] Tokens, float[] Mask, int[] Lengths, float[] Labels)[] Batches;
        // Step buffers: the embedded tokens and their gradient (B, S, E), h_T and its gradient (B, H), the logits and theirs (B).
        public readonly float[] Embedded = new float[B * S * E], DEmbedded = new float[B * S * E];
        public readonly float[] Last = new float[B * H], DLast = new float[B * H], Logit = new float[B], DLogit = new float[B];

        /// <summary>One batch of <see cref="B"/> per row of <paramref name="lengths"/> (<see cref="LongLengths"/>).</summary>
        public ImdbLongSetup(int[][] lengths)
        {
            var rng = new Rng(1);
            Emb = new Embedding<float>(V, E, rng, name: "embedding");
            Lstm = new Lstm<float>(E, H, rng, new LstmOptions { Init = InitScheme.PyTorch, ReturnSequences = false });
            Fc = new Dense<float>(H, 1, rng, name: "fc");
            Parameters = Emb.Parameters.Concat(Lstm.Parameters).Concat(Fc.Parameters).ToArray();
            Adam = new Adam<float>(Parameters, 1e-3, 0.9, 0.999, 1e-8);
            Batches = new (int[], float[], int[], float[])[lengths.Length];
            for (int i = 0; i < lengths.Length; i++)
            {
                var tok = new int[B * S]; var mask = new float[B * S]; var labels = new float[B];
                for (int b = 0; b < B; b++)
                {
                    for (int t = 0; t < lengths[i][b]; t++) { tok[b * S + t] = 1 + (int)(rng.NextUInt64() % (V - 1)); mask[b * S + t] = 1; }
                    labels[b] = rng.NextUInt64() % 2;
                }
                Batches[i] = (tok, mask, lengths[i], labels);
            }
        }

        /// <summary>Disposes the layers.</summary>
        public void Dispose()
        {
            Emb.Dispose(); Lstm.Dispose(); Fc.Dispose();
        }
    }

    /// <summary>(batches, 32) lengths from the embedded Data/imdb-train-lengths-400.txt.</summary>
    public static int[][] LongLengths()
    {
        using var s = typeof(Workloads).Assembly.GetManifestResourceStream("Rnn.Bench.Data.imdb-train-lengths-400.txt")
            ?? throw new InvalidOperationException("Rnn.Bench: the embedded resource Data/imdb-train-lengths-400.txt is missing.");
        using var r = new StreamReader(s);
        var rows = new List<int[]>();
        for (string? line; rows.Count < LongBatches && (line = r.ReadLine()) != null;)
            if (line.Length > 0 && line[0] != '#')
                rows.Add(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray());
        return rows.ToArray();
    }

    /// <summary>The imdb model (PyTorch init for the LSTM), random tokens and 0/1 labels, from a fixed seed.</summary>
    public static (SequenceModel<float> Model, int[] Tokens, float[] Labels) ImdbModel()
    {
        const int B = 32, S = 100, V = 20000, E = 128, H = 128;
        var rng = new Rng(1);
        var model = new SequenceModel<float>(new ModelSpec
        {
            Vocab = V,
            EmbeddingDim = E,
            Cell = CellKind.Lstm,
            Hidden = H,
            Init = InitScheme.PyTorch,
            OutputSize = 1,
        }, rng);
        var tokens = new int[B * S];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (int)(rng.NextUInt64() % V);
        var labels = new float[B];
        for (int i = 0; i < B; i++) labels[i] = rng.NextUInt64() % 2;
        return (model, tokens, labels);
    }

    /// <summary>One imdb training step: zero grads, forward to the BCE loss, backward, Adam. Returns the loss.</summary>
    public static float ImdbTrainStep(SequenceModel<float> model, Adam<float> adam, int[] tokens, float[] labels)
    {
        const int B = 32, S = 100;
        model.ZeroGrad();
        var logits = model.Forward(tokens, default, B, S);
        float loss = BinaryCrossEntropy.Forward(logits, labels);
        var d = model.OutputGrad;
        d.Clear();
        BinaryCrossEntropy.Backward(d, logits, labels, 1f);
        model.Backward(d, default, B, S);
        adam.Step();
        return loss;
    }
}
