using Rnn;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

public class LstmGradTests
{
    private const int B = 3, S = 5, I = 4, H = 5;

    public static TheoryData<string> Cases => new()
    {
        "plain", "mask", "backwards", "final", "final-backwards-mask", "given", "state", "unit-forget-bias",
        "dropout", "two-biases", "learned", "pytorch-init", "all",
    };

    private static LstmOptions Options(string c) => c switch
    {
        "plain" => new() { UnitForgetBias = false },
        "mask" => new(),
        "backwards" => new() { Backwards = true },
        "final" => new() { ReturnSequences = false },
        "final-backwards-mask" => new() { ReturnSequences = false, Backwards = true },
        "given" => new() { InitialState = InitialState.Given },
        "state" => new() { InitialState = InitialState.Given },
        "unit-forget-bias" => new() { UnitForgetBias = true },
        "dropout" => new() { Dropout = 0.3, RecurrentDropout = 0.4 },
        "two-biases" => new() { TwoBiases = true },
        "learned" => new() { InitialState = InitialState.Learned },
        "pytorch-init" => new() { Init = InitScheme.PyTorch, TwoBiases = true },
        "all" => new()
        {
            Backwards = true, ReturnSequences = false, InitialState = InitialState.Given, TwoBiases = true,
            Dropout = 0.25, RecurrentDropout = 0.25,
        },
        _ => throw new ArgumentException(c),
    };

    /// <summary>
    /// Every parameter, dx, and (where given) dh0/dc0 against central differences. Cases with a loss on the
    /// returned state ("state", "all") add Σ weights·(h_T, c_T) terms and pass dhT/dcT to Backward.
    /// Dropout cases keep Training on and reseed <see cref="Lstm{T}.DropoutRng"/> before every Forward, so
    /// every finite-difference evaluation sees the same masks as the analytic pass.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var opt = Options(name);
        using var lstm = new Lstm<double>(I, H, new Rng(7), opt);
        // Non-zero biases keep every gradient element well above GradCheck.Floor (a gradient near 1e-6 is
        // all finite-difference rounding). unit-forget-bias keeps its forget block at 1.
        var bih = GradCheck.Det(4 * H, 0.3, 3);
        if (opt.UnitForgetBias) bih.AsSpan(H, H).Fill(1.0);
        bih.CopyTo(lstm.BiasIh.Value, 0);
        if (lstm.BiasHh != null) GradCheck.Det(4 * H, 0.2, 9).CopyTo(lstm.BiasHh.Value, 0);
        if (lstm.H0 != null) { GradCheck.Det(H, 0.5, 5).CopyTo(lstm.H0.Value, 0); GradCheck.Det(H, 0.7, 6).CopyTo(lstm.C0!.Value, 0); }

        var x = GradCheck.Det(B * S * I, 1.0);
        bool masked = name.Contains("mask") || name == "all";
        var mask = masked ? SimpleRnnGradTests.PostPadMask(B, S) : Array.Empty<double>();
        bool given = opt.InitialState == InitialState.Given;
        var h0 = given ? GradCheck.Det(B * H, 0.5, 11) : Array.Empty<double>();
        var c0 = given ? GradCheck.Det(B * H, 0.8, 12) : Array.Empty<double>();
        bool stateLoss = name is "state" or "all";
        bool dropout = opt.Dropout > 0 || opt.RecurrentDropout > 0;
        int outLen = B * lstm.OutputLength(S);
        var cy = GradCheck.Det(outLen, 1.0, 2);
        var ch = GradCheck.Det(B * H, 1.0, 13); var cc = GradCheck.Det(B * H, 1.0, 14);
        var y = new double[outLen]; var dy = new double[outLen];
        var dhT = new double[stateLoss ? B * H : 0]; var dcT = new double[stateLoss ? B * H : 0];
        var dx = new double[x.Length]; var dh0 = new double[h0.Length]; var dc0 = new double[c0.Length];

        double Run(bool grad)
        {
            if (dropout) lstm.DropoutRng = new Rng(99);
            lstm.Forward(y, x, mask, h0, c0, B, S);
            double l = GradCheck.WeightedLoss(y, cy, grad ? dy : default);
            if (stateLoss)
            {
                l += GradCheck.WeightedLoss(lstm.FinalH, ch, grad ? dhT : default);
                l += GradCheck.WeightedLoss(lstm.FinalC, cc, grad ? dcT : default);
            }
            return l;
        }
        void Analytic()
        {
            lstm.ZeroGrad(); Array.Clear(dx); Array.Clear(dh0); Array.Clear(dc0);
            Run(true);
            lstm.Backward(dx, dh0, dc0, dy, dhT, dcT, B, S);
        }

        var targets = lstm.Parameters.Select(GradCheck.Of).ToList();
        targets.Add(new("x", x, dx));
        if (given) { targets.Add(new("h0(given)", h0, dh0)); targets.Add(new("c0(given)", c0, dc0)); }
        GradCheck.Assert(() => Run(false), Analytic, targets.ToArray());

        if (dropout)
        {
            // The masks must actually change the output, or the case would not test dropout.
            var yDrop = (double[])y.Clone();
            lstm.Training = false;
            lstm.Forward(y, x, mask, h0, c0, B, S);
            Assert.NotEqual(yDrop, y);
        }
    }


    [Fact]
    public void BackwardRunsOncePerForward()
    {
        // Backward writes dGates over the forward's gates: a second Backward is refused, and the next Forward makes
        // one possible again, with the same gradients.
        const int b = 2, s = 3, I = 3, H = 4;
        using var lstm = new Lstm<double>(I, H, new Rng(5));
        var x = GradCheck.Det(b * s * I); var y = new double[b * s * H]; var dy = GradCheck.Det(y.Length, 2);
        lstm.Forward(y, x, default, default, default, b, s);
        lstm.Backward(default, default, default, dy, default, default, b, s);
        var g1 = lstm.WeightHh.Grad.ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => lstm.Backward(default, default, default, dy, default, default, b, s));
        Assert.Contains("run Forward again", e.Message);
        foreach (var p in lstm.Parameters) p.ZeroGrad();
        lstm.Forward(y, x, default, default, default, b, s);
        lstm.Backward(default, default, default, dy, default, default, b, s);
        Assert.Equal(g1, lstm.WeightHh.Grad);
    }

    [Fact]
    public void ShapesSequencesAndFinal()
    {
        using var seq = new Lstm<double>(I, H, new Rng(1));
        using var fin = new Lstm<double>(I, H, new Rng(1), new LstmOptions { ReturnSequences = false });
        Assert.Equal(S * H, seq.OutputLength(S));
        Assert.Equal(H, fin.OutputLength(S));
        var x = GradCheck.Det(B * S * I);
        var ys = new double[B * S * H]; var yf = new double[B * H];
        seq.Forward(ys, x, default, default, default, B, S);
        fin.Forward(yf, x, default, default, default, B, S);
        // The final output is the last step of the sequence output, and FinalH/FinalC have shape (B, H).
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++) Assert.Equal(ys[(b * S + S - 1) * H + k], yf[b * H + k]);
        Assert.Equal(B * H, seq.FinalH.Length);
        Assert.Equal(B * H, seq.FinalC.Length);
        Assert.Equal(yf, fin.FinalH.ToArray());
        Assert.Throws<ArgumentException>(() => seq.Forward(new double[B * H], x, default, default, default, B, S));
        Assert.Throws<ArgumentException>(() => seq.Forward(ys, new double[B * S * I + 1], default, default, default, B, S));
    }

    [Fact]
    public void MaskedStepsKeepBothHAndC()
    {
        using var lstm = new Lstm<double>(I, H, new Rng(1));
        var x = GradCheck.Det(B * S * I);
        var mask = SimpleRnnGradTests.PostPadMask(B, S);
        var y = new double[B * S * H];
        lstm.Forward(y, x, mask, default, default, B, S);
        // Sequence 2 has S−2 real steps: its last two outputs repeat the last real one.
        for (int t = S - 2; t < S; t++)
            for (int k = 0; k < H; k++) Assert.Equal(y[(2 * S + S - 3) * H + k], y[(2 * S + t) * H + k]);
        // And c is carried too: the final (h, c) of sequence 2 equal those of a run over its real steps only.
        using var shortRun = new Lstm<double>(I, H, new Rng(1), new LstmOptions { ReturnSequences = false });
        var xs = new double[(S - 2) * I];
        Array.Copy(x, 2 * S * I, xs, 0, xs.Length);
        var yh = new double[H];
        shortRun.Forward(yh, xs, default, default, default, 1, S - 2);
        for (int k = 0; k < H; k++)
        {
            Assert.Equal(shortRun.FinalH[k], lstm.FinalH[2 * H + k], 12);
            Assert.Equal(shortRun.FinalC[k], lstm.FinalC[2 * H + k], 12);
        }
    }

    [Fact]
    public void GateOrderMatchesPyTorch()
    {
        // B = S = I = H = 1, zero state: gates = w_ih·x + b_ih + b_hh in PyTorch's order i, f, g, o.
        using var lstm = new Lstm<double>(1, 1, new Rng(1), new LstmOptions { TwoBiases = true, UnitForgetBias = false });
        double[] wih = [0.5, -0.3, 0.8, 0.2], bih = [0.1, 0.2, -0.1, 0.3], bhh = [0.05, -0.05, 0.02, 0.01];
        wih.CopyTo(lstm.WeightIh.Value, 0); bih.CopyTo(lstm.BiasIh.Value, 0); bhh.CopyTo(lstm.BiasHh!.Value, 0);
        lstm.WeightHh.Value.AsSpan().Fill(0.7); // h_{-1} = 0, so W_hh does not matter
        double x = 1.5;
        double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double i = Sig(0.5 * x + 0.15), f = Sig(-0.3 * x + 0.15), g = Math.Tanh(0.8 * x - 0.08), o = Sig(0.2 * x + 0.31);
        double c = f * 0 + i * g, h = o * Math.Tanh(c);
        var y = new double[1];
        lstm.Forward(y, [x], default, default, default, 1, 1);
        Assert.Equal(h, y[0], 14);
        Assert.Equal(c, lstm.FinalC[0], 14);
        // A second step exercises W_hh·h in the same order.
        double[] whh = [0.3, -0.6, 0.9, -0.4];
        whh.CopyTo(lstm.WeightHh.Value, 0);
        double x2 = -0.7;
        double i2 = Sig(0.5 * x2 + 0.15 + 0.3 * h), f2 = Sig(-0.3 * x2 + 0.15 - 0.6 * h);
        double g2 = Math.Tanh(0.8 * x2 - 0.08 + 0.9 * h), o2 = Sig(0.2 * x2 + 0.31 - 0.4 * h);
        double c2 = f2 * c + i2 * g2, h2 = o2 * Math.Tanh(c2);
        var y2 = new double[2];
        lstm.Forward(y2, [x, x2], default, default, default, 1, 2);
        Assert.Equal(h, y2[0], 14);
        Assert.Equal(h2, y2[1], 14);
    }

    [Fact]
    public void UnitForgetBiasAndInitSchemes()
    {
        using var keras = new Lstm<double>(I, H, new Rng(3), new LstmOptions { TwoBiases = true });
        for (int k = 0; k < 4 * H; k++) Assert.Equal(k >= H && k < 2 * H ? 1.0 : 0.0, keras.BiasIh.Value[k]);
        Assert.All(keras.BiasHh!.Value, v => Assert.Equal(0.0, v));
        double lim = Math.Sqrt(6.0 / (I + 4 * H));
        Assert.All(keras.WeightIh.Value, v => Assert.InRange(v, -lim, lim));
        // Orthogonal (4H, H): orthonormal columns, WᵀW = I.
        var w = keras.WeightHh.Value;
        for (int a = 0; a < H; a++)
            for (int b = 0; b < H; b++)
            {
                double dot = 0;
                for (int r = 0; r < 4 * H; r++) dot += w[r * H + a] * w[r * H + b];
                Assert.Equal(a == b ? 1.0 : 0.0, dot, 12);
            }
        using var torch = new Lstm<double>(I, H, new Rng(3), new LstmOptions { Init = InitScheme.PyTorch, TwoBiases = true, UnitForgetBias = false });
        double k1 = 1 / Math.Sqrt(H);
        foreach (var p in torch.Parameters) Assert.All(p.Value, v => Assert.InRange(v, -k1, k1));
        Assert.Contains(torch.BiasHh!.Value, v => v != 0);
        Assert.Equal(["weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse"],
            new Lstm<double>(I, H, new Rng(3), null, "_l1_reverse").Parameters.Select(p => p.Name));
    }

    [Fact]
    public void DropoutMasksAreReproducibleAndInactiveInEval()
    {
        var opt = new LstmOptions { Dropout = 0.5, RecurrentDropout = 0.5 };
        using var lstm = new Lstm<double>(I, H, new Rng(5), opt);
        var x = GradCheck.Det(B * S * I);
        var y1 = new double[B * S * H]; var y2 = new double[y1.Length]; var y3 = new double[y1.Length];
        lstm.Forward(y1, x, default, default, default, B, S);
        lstm.ReuseDropoutMasks = true;
        lstm.Forward(y2, x, default, default, default, B, S);
        Assert.Equal(y1, y2);
        lstm.ReuseDropoutMasks = false;
        lstm.Forward(y3, x, default, default, default, B, S);
        Assert.NotEqual(y1, y3); // fresh masks
        lstm.Training = false;
        using var plain = new Lstm<double>(I, H, new Rng(5));
        var ye = new double[y1.Length]; var yp = new double[y1.Length];
        lstm.Forward(ye, x, default, default, default, B, S);
        plain.Forward(yp, x, default, default, default, B, S);
        Assert.Equal(yp, ye);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void TruncatedGradientIsTheGradientOfTheLastStepsWithTheStateFrozen(bool backwards, bool masked)
    {
        // As in SimpleRnnGradTests: truncation to k steps equals the full gradient of a layer run over the last
        // k steps from the frozen state (h, c) that the first S−k steps produce.
        const int k = 3, early = S - k;
        var optT = new LstmOptions { GradientSteps = k, Backwards = backwards };
        using var lstm = new Lstm<double>(I, H, new Rng(13), optT);
        var x = GradCheck.Det(B * S * I, 1.0);
        var mask = masked ? SimpleRnnGradTests.PostPadMask(B, S) : Array.Empty<double>();
        var y = new double[B * S * H]; var c = GradCheck.Det(y.Length, 1.0, 2); var dy = new double[y.Length];
        var dx = new double[x.Length];
        lstm.Forward(y, x, mask, default, default, B, S);
        GradCheck.WeightedLoss(y, c, dy);
        lstm.Backward(dx, default, default, dy, default, default, B, S);

        var (xe, me) = TestTensors.TimeSlice(x, mask, B, S, backwards ? k : 0, early, I);
        var (xl, ml) = TestTensors.TimeSlice(x, mask, B, S, backwards ? 0 : early, k, I);
        using var head = new Lstm<double>(I, H, new Rng(13), new LstmOptions { Backwards = backwards, ReturnSequences = false });
        using var tail = new Lstm<double>(I, H, new Rng(13), new LstmOptions { Backwards = backwards, InitialState = InitialState.Given });
        head.Forward(new double[B * H], xe, me, default, default, B, early);
        var hF = head.FinalH.ToArray(); var cF = head.FinalC.ToArray();
        var cl = TestTensors.TimeSlice(c, Array.Empty<double>(), B, S, backwards ? 0 : early, k, H).Item1;
        var yl = new double[B * k * H]; var dyl = new double[yl.Length]; var dxl = new double[xl.Length];
        tail.Forward(yl, xl, ml, hF, cF, B, k);
        GradCheck.WeightedLoss(yl, cl, dyl);
        tail.Backward(dxl, default, default, dyl, default, default, B, k);

        TestTensors.AssertClose(tail.WeightIh.Grad, lstm.WeightIh.Grad); TestTensors.AssertClose(tail.WeightHh.Grad, lstm.WeightHh.Grad);
        TestTensors.AssertClose(tail.BiasIh.Grad, lstm.BiasIh.Grad);
        TestTensors.AssertClose(dxl, TestTensors.TimeSlice(dx, Array.Empty<double>(), B, S, backwards ? 0 : early, k, I).Item1);
        Assert.All(TestTensors.TimeSlice(dx, Array.Empty<double>(), B, S, backwards ? k : 0, early, I).Item1, v => Assert.Equal(0.0, v));
        Assert.Contains(lstm.WeightHh.Grad, v => v != 0);
    }


}
