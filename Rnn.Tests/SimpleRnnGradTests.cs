using Rnn;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Tests;

public class SimpleRnnGradTests
{
    private const int B = 3, S = 6, I = 4, H = 5;

    public static TheoryData<string> Cases => new()
    {
        "plain", "mask", "backwards", "final", "final-backwards-mask", "learned", "given", "clip-inactive",
        "relu", "two-biases", "all",
    };

    private static SimpleRnnOptions Options(string c) => c switch
    {
        "plain" => new(),
        "mask" => new(),
        "backwards" => new() { Backwards = true },
        "final" => new() { ReturnSequences = false },
        "final-backwards-mask" => new() { ReturnSequences = false, Backwards = true },
        "learned" => new() { InitialState = InitialState.Learned },
        "given" => new() { InitialState = InitialState.Given },
        "clip-inactive" => new() { GradClipping = 1e6 },
        "relu" => new() { Activation = Activation.Relu },
        "two-biases" => new() { TwoBiases = true },
        "all" => new() { Backwards = true, InitialState = InitialState.Learned, GradClipping = 1e6, TwoBiases = true },
        _ => throw new ArgumentException(c),
    };

    /// <summary>Post-padding mask: sequence b has S − b real steps (b = 0 is full).</summary>
    internal static double[] PostPadMask(int batch, int seq)
    {
        var m = new double[batch * seq];
        for (int b = 0; b < batch; b++) for (int t = 0; t < seq - b; t++) m[b * seq + t] = 1;
        return m;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchFiniteDifferences(string name)
    {
        var opt = Options(name);
        using var rnn = new SimpleRnn<double>(I, H, new Rng(7), opt);
        // Scale weights down a little so tanh is not saturated and relu sees both signs.
        for (int i = 0; i < rnn.WeightHh.Length; i++) rnn.WeightHh.Value[i] *= 0.8;
        GradCheck.Det(H, 0.1, 3).CopyTo(rnn.BiasIh.Value, 0);
        if (rnn.H0 != null) GradCheck.Det(H, 0.5, 5).CopyTo(rnn.H0.Value, 0);
        if (rnn.BiasHh != null) GradCheck.Det(H, 0.2, 9).CopyTo(rnn.BiasHh.Value, 0);

        var x = GradCheck.Det(B * S * I, 1.0);
        bool masked = name.Contains("mask") || name == "all";
        var mask = masked ? PostPadMask(B, S) : Array.Empty<double>();
        var h0 = opt.InitialState == InitialState.Given ? GradCheck.Det(B * H, 0.5, 11) : Array.Empty<double>();
        int outLen = B * rnn.OutputLength(S);
        var c = GradCheck.Det(outLen, 1.0, 2);
        var y = new double[outLen];
        var dy = new double[outLen];
        var dx = new double[x.Length];
        var dh0 = new double[h0.Length];

        double Loss()
        {
            rnn.Forward(y, x, mask, h0, B, S);
            return GradCheck.WeightedLoss(y, c, default);
        }
        void Analytic()
        {
            rnn.ZeroGrad(); Array.Clear(dx); Array.Clear(dh0);
            rnn.Forward(y, x, mask, h0, B, S);
            GradCheck.WeightedLoss(y, c, dy);
            rnn.Backward(dx, dh0, dy, B, S);
        }

        var targets = rnn.Parameters.Select(GradCheck.Of).ToList();
        targets.Add(new("x", x, dx));
        if (h0.Length > 0) targets.Add(new("h0(given)", h0, dh0));
        GradCheck.Assert(Loss, Analytic, targets.ToArray());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void ActiveClippingMatchesNaiveReference(bool backwards, bool masked)
    {
        // The clipped gradient is not the gradient of any loss, so it is checked against an independent
        // scalar BPTT written from Lasagne's definition: dpre = clip(dh · f'(pre)) at every step.
        const double clip = 0.05;
        var opt = new SimpleRnnOptions { GradClipping = clip, Backwards = backwards };
        using var rnn = new SimpleRnn<double>(I, H, new Rng(11), opt);
        GradCheck.Det(H, 0.1, 3).CopyTo(rnn.BiasIh.Value, 0);
        var x = GradCheck.Det(B * S * I, 1.5);
        var mask = masked ? PostPadMask(B, S) : Array.Empty<double>();
        var y = new double[B * S * H]; var dy = GradCheck.Det(y.Length, 1.0, 4); var dx = new double[x.Length];
        rnn.Forward(y, x, mask, default, B, S);
        rnn.Backward(dx, default, dy, B, S);

        var r = NaiveRnn.Bptt(rnn.WeightIh.Value, rnn.WeightHh.Value, rnn.BiasIh.Value, x, mask, dy, B, S, I, H, backwards, clip, steps: S);
        Assert.True(r.ClipFired, "the clip never fired; the test would not exercise clipping");
        TestTensors.AssertClose(r.DWih, rnn.WeightIh.Grad); TestTensors.AssertClose(r.DWhh, rnn.WeightHh.Grad);
        TestTensors.AssertClose(r.Db, rnn.BiasIh.Grad); TestTensors.AssertClose(r.Dx, dx);
    }

    [Theory]
    [InlineData(false, false, true)]
    [InlineData(true, false, true)]
    [InlineData(false, true, true)]
    [InlineData(true, true, false)]
    public void TruncatedGradientIsTheGradientOfTheLastStepsWithTheStateFrozen(bool backwards, bool masked, bool sequences)
    {
        // Theano's truncate_gradient = k: gradients flow through the last k scan steps only. That is exactly the
        // gradient of the loss on those steps' outputs when the state entering them is a constant, which a
        // finite difference can measure: freeze h after the first S−k scan steps and run the last k steps
        // as a layer of their own with InitialState.Given.
        const int k = 3;
        var optT = new SimpleRnnOptions { GradientSteps = k, Backwards = backwards, ReturnSequences = sequences };
        using var rnn = new SimpleRnn<double>(I, H, new Rng(13), optT);
        GradCheck.Det(H, 0.1, 3).CopyTo(rnn.BiasIh.Value, 0);
        var x = GradCheck.Det(B * S * I, 1.0);
        var mask = masked ? PostPadMask(B, S) : Array.Empty<double>();
        int outLen = B * rnn.OutputLength(S);
        var y = new double[outLen]; var c = GradCheck.Det(outLen, 1.0, 2); var dy = new double[outLen];
        var dx = new double[x.Length];
        rnn.Forward(y, x, mask, default, B, S);
        GradCheck.WeightedLoss(y, c, dy);
        rnn.Backward(dx, default, dy, B, S);

        // The frozen part: scan steps [0, S−k) with the original weights → state entering the kept steps.
        int early = S - k;
        var (xe, me) = TestTensors.TimeSlice(x, mask, B, S, backwards ? k : 0, early, I);
        var (xl, ml) = TestTensors.TimeSlice(x, mask, B, S, backwards ? 0 : early, k, I);
        using var head = new SimpleRnn<double>(I, H, new Rng(13), new SimpleRnnOptions { Backwards = backwards, ReturnSequences = false });
        Copy(rnn, head);
        var hFrozen = new double[B * H];
        head.Forward(hFrozen, xe, me, default, B, early);

        using var tail = new SimpleRnn<double>(I, H, new Rng(13), new SimpleRnnOptions { Backwards = backwards, ReturnSequences = sequences, InitialState = InitialState.Given });
        Copy(rnn, tail);
        // Loss weights of the kept steps (sequence output) or of the final state.
        var cl = sequences ? TestTensors.TimeSlice(c, Array.Empty<double>(), B, S, backwards ? 0 : early, k, H).Item1 : c;
        var yl = new double[B * tail.OutputLength(k)]; var dyl = new double[yl.Length]; var dxl = new double[xl.Length];
        double Loss() { tail.Forward(yl, xl, ml, hFrozen, B, k); return GradCheck.WeightedLoss(yl, cl, default); }
        void Analytic()
        {
            tail.ZeroGrad(); Array.Clear(dxl);
            tail.Forward(yl, xl, ml, hFrozen, B, k); GradCheck.WeightedLoss(yl, cl, dyl);
            tail.Backward(dxl, default, dyl, B, k);
        }
        GradCheck.Assert(Loss, Analytic, tail.Parameters.Select(GradCheck.Of).Append(new GradCheck.Target("x", xl, dxl)).ToArray());

        // The truncated full-sequence gradients equal those of the tail exactly (same arithmetic), and dx is 0 on frozen steps.
        TestTensors.AssertClose(tail.WeightIh.Grad, rnn.WeightIh.Grad); TestTensors.AssertClose(tail.WeightHh.Grad, rnn.WeightHh.Grad);
        TestTensors.AssertClose(tail.BiasIh.Grad, rnn.BiasIh.Grad);
        TestTensors.AssertClose(dxl, TestTensors.TimeSlice(dx, Array.Empty<double>(), B, S, backwards ? 0 : early, k, I).Item1);
        Assert.All(TestTensors.TimeSlice(dx, Array.Empty<double>(), B, S, backwards ? k : 0, early, I).Item1, v => Assert.Equal(0.0, v));
    }

    private static void Copy(SimpleRnn<double> from, SimpleRnn<double> to)
    {
        from.WeightIh.Value.CopyTo(to.WeightIh.Value, 0); from.WeightHh.Value.CopyTo(to.WeightHh.Value, 0);
        from.BiasIh.Value.CopyTo(to.BiasIh.Value, 0);
    }

    [Fact]
    public void MaskedStepsKeepTheState()
    {
        using var rnn = new SimpleRnn<double>(I, H, new Rng(1));
        var x = GradCheck.Det(B * S * I);
        var mask = PostPadMask(B, S);
        var y = new double[B * S * H];
        rnn.Forward(y, x, mask, default, B, S);
        // sequence 2 has S-2 real steps; the last two outputs repeat the last real one.
        for (int t = S - 2; t < S; t++)
            for (int k = 0; k < H; k++)
                Assert.Equal(y[(2 * S + S - 3) * H + k], y[(2 * S + t) * H + k]);
    }

    [Fact]
    public void BackwardsFinalIsStateAfterFirstStep()
    {
        // Lasagne: a backwards layer's final output is the state after x_0, i.e. the first element of its sequence output.
        using var seq = new SimpleRnn<double>(I, H, new Rng(5), new SimpleRnnOptions { Backwards = true });
        using var fin = new SimpleRnn<double>(I, H, new Rng(5), new SimpleRnnOptions { Backwards = true, ReturnSequences = false });
        var x = GradCheck.Det(B * S * I);
        var ys = new double[B * S * H]; var yf = new double[B * H];
        seq.Forward(ys, x, default, default, B, S);
        fin.Forward(yf, x, default, default, B, S);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++) Assert.Equal(ys[(b * S + 0) * H + k], yf[b * H + k]);
    }
}
