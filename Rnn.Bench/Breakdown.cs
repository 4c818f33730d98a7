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
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tanh: Activations (runtime Exp) {tt / 4096 * 1e9:F2} ns/elem, CellMath {tc / 4096 * 1e9:F2} ns/elem"));
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
    }

    private static void Line(string what, double s, double total) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-34} {s * 1e3,9:F3} ms {100 * s / total,6:F1}%"));

    private static void Lstm(string name, Workloads.Case c, int B, int S, int I, int H)
    {
        int G = 4 * H;
        var whole = c.Setup();
        double total = Shapes.MinTime(whole, c.Flops);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {total * 1e3:F3} ms ({c.Flops / total / 1e9:F1} GFLOP/s)"));
        var rnd = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)rnd.NextDouble() - 0.5f; return a; }
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
