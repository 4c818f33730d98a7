using System.Globalization;
using Rnn.Kernels;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench shapes --layers`: a workload phase timed whole, beside its parts timed alone (the hoisted GEMMs,
/// S per-step GEMMs, S cell steps), so the rest (copies, checks, call overhead) shows as the difference.
/// </summary>
public static class Breakdown
{
    /// <summary>Prints the breakdowns; returns the exit code.</summary>
    public static int Run()
    {
        var v = new float[4096]; var o = new float[4096];
        for (int i = 0; i < v.Length; i++) v[i] = (i % 200 - 100) * 0.05f;
        double tt = Shapes.MinTime(() => Activations.Tanh<float>(o, v), 4096 * 20);
        double tc = Shapes.MinTime(() => CellMath.Tanh(o, v), 4096 * 20);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tanh: Activations (rational, as the cells) {tt / 4096 * 1e9:F2} ns/elem, CellMath {tc / 4096 * 1e9:F2} ns/elem"));
        Imdb();
        Lstm("lstm-infer-1 fwd", Workloads.LstmInfer1(), 1, 100, 128, 256);
        Lstm("imdb-lstm fwd", Workloads.Recurrent("imdb-lstm", false, 4, 128, 128, 32, 100, rng =>
            new Rnn.Layers.Lstm<float>(128, 128, rng, new Rnn.Layers.LstmOptions { TwoBiases = true })), 32, 100, 128, 128);
        return 0;
    }

    private static void Imdb()
    {
        const int B = 32, S = 100;
        var (model, tokens, labels) = Workloads.ImdbModel();
        var adam = new Rnn.Optimizers.Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8);
        double total = Shapes.MinTime(() => Workloads.ImdbTrainStep(model, adam, tokens, labels), 2.5e9);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"imdb train_step: {total * 1e3:F3} ms"));
        double zg = Shapes.MinTime(model.ZeroGrad, 1e6);
        double fwd = Shapes.MinTime(() => model.Forward(tokens, default, B, S), 8e8);
        var d = new float[B];
        double bwd = Shapes.MinTime(() => { model.Forward(tokens, default, B, S); model.Backward(d, default, B, S); }, 2.5e9) - fwd;
        double step = Shapes.MinTime(adam.Step, 1e7);
        double norm = Shapes.MinTime(() => Rnn.Optimizers.GradClip.GlobalNorm(model.Parameters), 1e6);
        Line("zero grads", zg, total);
        Line("forward (to the logits)", fwd, total);
        Line("backward (all layers)", bwd, total);
        Line("Adam step (incl. grad norm)", step, total);
        Line("  of which the global grad norm", norm, total);
        LstmBackward(bwd, B, S, 128, 128);
        ImdbInSitu(B, S);
    }

    /// <summary>
    /// The imdb step phase by phase in place (each phase timed inside the running step, median of many steps),
    /// so that caches hold what they hold in the real step: the layers called as SequenceModel calls them.
    /// </summary>
    private static void ImdbInSitu(int B, int S)
    {
        var (model, tokens, labels) = Workloads.ImdbModel();
        var adam = new Rnn.Optimizers.Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8);
        var emb = model.Embedding!; var rec = model.Recurrent[0]; var head = model.Head;
        int E = emb.Dim, H = 128;
        var x = new float[B * S * E]; var h = new float[B * H]; var logits = new float[B]; var d = new float[B];
        var dh = new float[B * H]; var dx = new float[B * S * E];
        string[] names = ["zero grads", "embedding gather", "LSTM forward", "head + loss fwd/bwd", "LSTM backward", "embedding scatter", "Adam step"];
        var t = new List<double>[names.Length];
        for (int i = 0; i < t.Length; i++) t[i] = new List<double>();
        for (int it = 0; it < 80; it++)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            model.ZeroGrad();
            long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
            emb.Forward(x, tokens, B, S);
            long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
            rec.Forward(h, x, default, B, S);
            long t3 = System.Diagnostics.Stopwatch.GetTimestamp();
            head.Forward(logits, h, B);
            Rnn.Losses.BinaryCrossEntropy.Forward<float>(logits, labels);
            Array.Clear(d);
            Rnn.Losses.BinaryCrossEntropy.Backward<float>(d, logits, labels, 1f);
            Array.Clear(dh);
            head.Backward(dh, d, B);
            long t4 = System.Diagnostics.Stopwatch.GetTimestamp();
            Array.Clear(dx);
            rec.Backward(dx, dh, B, S);
            long t5 = System.Diagnostics.Stopwatch.GetTimestamp();
            emb.Backward(dx, B, S);
            long t6 = System.Diagnostics.Stopwatch.GetTimestamp();
            adam.Step();
            long t7 = System.Diagnostics.Stopwatch.GetTimestamp();
            if (it < 20) continue;
            long[] ts = [t0, t1, t2, t3, t4, t5, t6, t7];
            for (int i = 0; i < names.Length; i++) t[i].Add((ts[i + 1] - ts[i]) / (double)System.Diagnostics.Stopwatch.Frequency);
        }
        double Med(List<double> l) { l.Sort(); return l[l.Count / 2]; }
        double total = 0;
        foreach (var l in t) total += Med(l);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"imdb train_step in place, phase medians (sum {total * 1e3:F3} ms):"));
        for (int i = 0; i < names.Length; i++) Line(names[i], Med(t[i]), total);
    }

    /// <summary>The LSTM's share of imdb's backward, part by part, on tape-sized buffers (gate rows 4H + 16 apart, as the layer pads them).</summary>
    private static void LstmBackward(double total, int B, int S, int I, int H)
    {
        int G = 4 * H, ds = G % 512 == 0 ? G + 16 : G;
        var rnd = new Random(2);
        float[] R(int n, float scale = 1f) => Uniform(rnd, n, scale);
        var gates = R(S * B * ds); var dgs = new float[S * B * ds];    // (S, B, ds) gates in, dGates out
        for (int i = 0; i < gates.Length; i++) gates[i] = 0.5f + 0.4f * gates[i]; // post-activation values
        var c = R((S + 1) * B * H); var tc = R(S * B * H); var h = R((S + 1) * B * H); var xs = R(S * B * I);
        var dh = R(B * H, 0.1f); var next = new float[B * H]; var dc = R(B * H, 0.1f); var dbias = new float[B * G];
        var whh = R(G * H); var wih = R(G * I); var dwhh = new float[G * H]; var dwih = new float[G * I];
        var pb = new float[Gemm.PackedBLength<float>(H, G)];
        Gemm.PackB<float>(pb, whh, false, H, G);
        double cells = Shapes.MinTime(() =>
        {
            for (int s = S - 1; s >= 0; s--)
                LstmCell.Backward<float>(dgs.AsSpan(s * B * ds, B * ds), next, dc, dbias, dh, gates.AsSpan(s * B * ds, B * ds),
                    c.AsSpan(s * B * H, B * H), tc.AsSpan(s * B * H, B * H), default, B, H, ds);
        }, 20.0 * S * B * H);
        double steps = Shapes.MinTime(() =>
        {
            for (int s = S - 1; s >= 0; s--)
                Gemm.MultiplyPacked<float>(next, dgs.AsSpan(s * B * ds, B * ds), pb, false, 1f, 1f, B, H, G, ds);
        }, 2.0 * S * B * G * H);
        double dw = Shapes.MinTime(() => Gemm.MultiplyShared<float>(dwhh, h.AsSpan(0, S * B * H), H, dwih, xs, I, dgs, true, 1f, 1f, G, S * B, ds),
            2.0 * S * B * G * (H + I));
        double dx = Shapes.MinTime(() => Gemm.Multiply<float>(xs, dgs, wih, false, false, 1f, 0f, S * B, I, G, ds), 2.0 * S * B * G * I);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  LSTM backward parts (B={B}, S={S}, I={I}, H={H}, gate rows {ds} apart), timed alone:"));
        Line($"  {S} cell steps", cells, total);
        Line($"  {S} step GEMMs dG·W_hh (B, H, 4H)", steps, total);
        Line("  dW_hh, dW_ih = dGᵀ·[h | x] (shared)", dw, total);
        Line("  dx = dG·W_ih (S·B, I, 4H)", dx, total);
    }

    /// <summary>n values in [−scale/2, scale/2).</summary>
    private static float[] Uniform(Random rnd, int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = ((float)rnd.NextDouble() - 0.5f) * scale;
        return a;
    }

    private static void Line(string what, double s, double total) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-34} {s * 1e3,9:F3} ms {100 * s / total,6:F1}%"));

    private static void Lstm(string name, Workloads.WorkloadCase c, int B, int S, int I, int H)
    {
        int G = 4 * H;
        var whole = c.Setup();
        double total = Shapes.MinTime(whole, c.Flops);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {total * 1e3:F3} ms ({c.Flops / total / 1e9:F1} GFLOP/s)"));
        var rnd = new Random(1);
        float[] R(int n) => Uniform(rnd, n, 1f);
        var xs = R(S * B * I); var wih = R(G * I); var whh = R(G * H); var gates = R(S * B * G);
        var pb = new float[Gemm.PackedBLength<float>(G, H)];
        Gemm.PackB<float>(pb, whh, true, G, H);
        var h = R((S + 1) * B * H); var cc = R((S + 1) * B * H); var tc = R(S * B * H);
        double input = Shapes.MinTime(() => Gemm.Multiply<float>(gates, xs, wih, false, true, 1f, 1f, S * B, G, I), 2.0 * S * B * G * I);
        double steps = Shapes.MinTime(() =>
        {
            for (int s = 0; s < S; s++)
                Gemm.MultiplyPacked<float>(gates.AsSpan(s * B * G, B * G), h.AsSpan(s * B * H, B * H), pb, false, 1f, 1f, B, G, H);
        }, 2.0 * S * B * G * H);
        double pack = Shapes.MinTime(() => Gemm.PackB<float>(pb, whh, true, G, H), G * H);
        var g0 = R(S * B * G);
        double cells = Shapes.MinTime(() =>
        {
            for (int s = 0; s < S; s++)
                LstmCell.Forward<float>(h.AsSpan((s + 1) * B * H, B * H), cc.AsSpan((s + 1) * B * H, B * H), tc.AsSpan(s * B * H, B * H),
                    g0.AsSpan(s * B * G, B * G), h.AsSpan(s * B * H, B * H), cc.AsSpan(s * B * H, B * H), default, default, B, H);
        }, 20.0 * S * B * H);
        Line("input GEMM (S·B, 4H, I)", input, total);
        Line($"{S} step GEMMs (B, 4H, H), packed", steps, total);
        Line("PackB W_hhᵀ", pack, total);
        Line($"{S} cell steps", cells, total);
        Line("rest", total - input - steps - pack - cells, total);
    }
}
