using Rnn;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

public class GruGradTests
{
    private const int B = 3, S = 5, I = 4, H = 5;

    public static TheoryData<bool, string> Cases()
    {
        var d = new TheoryData<bool, string>();
        foreach (bool after in new[] { true, false })
            foreach (var c in new[] { "plain", "mask", "backwards", "final", "final-backwards-mask", "given", "state",
                         "dropout", "learned", "pytorch-init", "all" })
                d.Add(after, c);
        d.Add(false, "single-bias");
        d.Add(false, "single-bias-all");
        return d;
    }

    private static GruOptions Options(bool after, string c)
    {
        var o = c switch
        {
            "plain" => new GruOptions(),
            "mask" => new GruOptions(),
            "backwards" => new GruOptions { Backwards = true },
            "final" => new GruOptions { ReturnSequences = false },
            "final-backwards-mask" => new GruOptions { ReturnSequences = false, Backwards = true },
            "given" => new GruOptions { InitialState = InitialState.Given },
            "state" => new GruOptions { InitialState = InitialState.Given },
            "dropout" => new GruOptions { Dropout = 0.3, RecurrentDropout = 0.4 },
            "learned" => new GruOptions { InitialState = InitialState.Learned },
            "pytorch-init" => new GruOptions { Init = InitScheme.PyTorch },
            "single-bias" => new GruOptions { TwoBiases = false },
            "all" or "single-bias-all" => new GruOptions
            {
                Backwards = true, ReturnSequences = false, InitialState = InitialState.Given,
                Dropout = 0.25, RecurrentDropout = 0.25, TwoBiases = c == "all",
            },
            _ => throw new ArgumentException(c),
        };
        return o with { ResetAfter = after };
    }

    /// <summary>
    /// Every parameter, dx and (where given) dh0 against central differences, for both reset variants.
    /// "state" and "all" add a loss on the returned h_T (dhT). Dropout cases keep Training on and reseed
    /// <see cref="Gru{T}.DropoutRng"/> before every Forward, so every evaluation sees the same masks.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(bool resetAfter, string name)
    {
        var opt = Options(resetAfter, name);
        using var gru = new Gru<double>(I, H, new Rng(7), opt);
        GradCheck.Det(3 * H, 0.3, 3).CopyTo(gru.BiasIh.Value, 0);
        if (gru.BiasHh != null) GradCheck.Det(3 * H, 0.4, 9).CopyTo(gru.BiasHh.Value, 0);
        if (gru.H0 != null) GradCheck.Det(H, 0.5, 5).CopyTo(gru.H0.Value, 0);

        var x = GradCheck.Det(B * S * I, 1.0);
        bool masked = name.Contains("mask") || name.Contains("all");
        var mask = masked ? SimpleRnnGradTests.PostPadMask(B, S) : Array.Empty<double>();
        bool given = opt.InitialState == InitialState.Given;
        var h0 = given ? GradCheck.Det(B * H, 0.5, 11) : Array.Empty<double>();
        bool stateLoss = name is "state" || name.Contains("all");
        bool dropout = opt.Dropout > 0 || opt.RecurrentDropout > 0;
        int outLen = B * gru.OutputLength(S);
        var cy = GradCheck.Det(outLen, 1.0, 2); var ch = GradCheck.Det(B * H, 1.0, 13);
        var y = new double[outLen]; var dy = new double[outLen]; var dhT = new double[stateLoss ? B * H : 0];
        var dx = new double[x.Length]; var dh0 = new double[h0.Length];

        double Run(bool grad)
        {
            if (dropout) gru.DropoutRng = new Rng(99);
            gru.Forward(y, x, mask, h0, B, S);
            double l = GradCheck.WeightedLoss(y, cy, grad ? dy : default);
            if (stateLoss) l += GradCheck.WeightedLoss(gru.FinalH, ch, grad ? dhT : default);
            return l;
        }
        void Analytic()
        {
            gru.ZeroGrad(); Array.Clear(dx); Array.Clear(dh0);
            Run(true);
            gru.Backward(dx, dh0, dy, dhT, B, S);
        }

        var targets = gru.Parameters.Select(GradCheck.Of).ToList();
        targets.Add(new("x", x, dx));
        if (given) targets.Add(new("h0(given)", h0, dh0));
        GradCheck.Assert(() => Run(false), Analytic, targets.ToArray());

        if (dropout)
        {
            var yDrop = (double[])y.Clone();
            gru.Training = false;
            gru.Forward(y, x, mask, h0, B, S);
            Assert.NotEqual(yDrop, y);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ShapesMaskAndFinal(bool resetAfter)
    {
        using var seq = new Gru<double>(I, H, new Rng(1), new GruOptions { ResetAfter = resetAfter });
        using var fin = new Gru<double>(I, H, new Rng(1), new GruOptions { ResetAfter = resetAfter, ReturnSequences = false });
        Assert.Equal(S * H, seq.OutputLength(S));
        Assert.Equal(H, fin.OutputLength(S));
        var x = GradCheck.Det(B * S * I);
        var mask = SimpleRnnGradTests.PostPadMask(B, S);
        var ys = new double[B * S * H]; var yf = new double[B * H];
        seq.Forward(ys, x, mask, default, B, S);
        fin.Forward(yf, x, mask, default, B, S);
        // Sequence 2 has S−2 real steps: its last outputs repeat the last real one, and the final output is that state.
        for (int t = S - 2; t < S; t++)
            for (int k = 0; k < H; k++) Assert.Equal(ys[(2 * S + S - 3) * H + k], ys[(2 * S + t) * H + k]);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++) Assert.Equal(ys[(b * S + S - 1) * H + k], yf[b * H + k]);
        Assert.Equal(yf, seq.FinalH.ToArray());
        Assert.Throws<ArgumentException>(() => seq.Forward(new double[B * H], x, default, default, B, S));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GateOrderMatchesPyTorchAndKeras2ByHand(bool resetAfter)
    {
        // B = I = H = 1, two steps, so the reset gate meets a non-zero h. Rows r, z, n.
        using var gru = new Gru<double>(1, 1, new Rng(1), new GruOptions { ResetAfter = resetAfter });
        double[] wih = [0.5, -0.3, 0.8], whh = [0.3, -0.6, 0.9], bih = [0.1, 0.2, -0.1], bhh = [0.05, -0.05, 0.2];
        wih.CopyTo(gru.WeightIh.Value, 0); whh.CopyTo(gru.WeightHh.Value, 0);
        bih.CopyTo(gru.BiasIh.Value, 0); bhh.CopyTo(gru.BiasHh!.Value, 0);
        double Sig(double v) => 1 / (1 + Math.Exp(-v));
        double Step(double x, double h)
        {
            double r = Sig(0.5 * x + 0.1 + 0.3 * h + 0.05), z = Sig(-0.3 * x + 0.2 - 0.6 * h - 0.05);
            double n = resetAfter ? Math.Tanh(0.8 * x - 0.1 + r * (0.9 * h + 0.2)) : Math.Tanh(0.8 * x - 0.1 + 0.9 * (r * h) + 0.2);
            return (1 - z) * n + z * h;
        }
        double h1 = Step(1.5, 0), h2 = Step(-0.7, h1);
        var y = new double[2];
        gru.Forward(y, [1.5, -0.7], default, default, 1, 2);
        Assert.Equal(h1, y[0], 14);
        Assert.Equal(h2, y[1], 14);
    }


    [Fact]
    public void ResetAfterBackwardRunsOncePerForward()
    {
        // The reset-after Backward writes its gradients over the forward's tape: a second Backward is refused, and the
        // next Forward makes one possible again, with the same gradients.
        const int b = 2, s = 3;
        using var gru = new Gru<double>(I, H, new Rng(5), new GruOptions { ResetAfter = true });
        var x = GradCheck.Det(b * s * I); var y = new double[b * s * H]; var dy = GradCheck.Det(y.Length, 2);
        gru.Forward(y, x, default, default, b, s);
        gru.Backward(default, default, dy, default, b, s);
        var g1 = gru.WeightHh.Grad.ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => gru.Backward(default, default, dy, default, b, s));
        Assert.Contains("run Forward again", e.Message);
        foreach (var p in gru.Parameters) p.ZeroGrad();
        gru.Forward(y, x, default, default, b, s);
        gru.Backward(default, default, dy, default, b, s);
        Assert.Equal(g1, gru.WeightHh.Grad);
    }

    [Fact]
    public void ResetAfterNeedsTwoBiasesAndInitSchemes()
    {
        Assert.Throws<ArgumentException>(() => new Gru<double>(I, H, new Rng(1), new GruOptions { TwoBiases = false }));
        using var keras = new Gru<double>(I, H, new Rng(3));
        Assert.All(keras.BiasIh.Value, v => Assert.Equal(0.0, v));
        double lim = Math.Sqrt(6.0 / (I + 3 * H));
        Assert.All(keras.WeightIh.Value, v => Assert.InRange(v, -lim, lim));
        var w = keras.WeightHh.Value;
        for (int a = 0; a < H; a++)
        {
            double dot = 0;
            for (int r = 0; r < 3 * H; r++) dot += w[r * H + a] * w[r * H + a];
            Assert.Equal(1.0, dot, 12);
        }
        using var torch = new Gru<double>(I, H, new Rng(3), new GruOptions { Init = InitScheme.PyTorch });
        double k1 = 1 / Math.Sqrt(H);
        foreach (var p in torch.Parameters) Assert.All(p.Value, v => Assert.InRange(v, -k1, k1));
        using var rev = new Gru<double>(I, H, new Rng(3), null, "_l0_reverse");
        Assert.Equal(["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"],
            rev.Parameters.Select(p => p.Name));
    }
}
