using Rnn;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

/// <summary>
/// Finite-difference checks in double through the scan's uniform state API: the LSTM variants (projection), the
/// padded-output option on every cell, and Bidirectional and RecurrentStack with their states in PyTorch's layout.
/// </summary>
public class ScanGradTests
{
    private const int B = 3, S = 5, I = 4;

    /// <summary>
    /// Checks every parameter, dx, and (InitialState.Given) dh0/dc0 of a layer, with a loss on y and, when asked,
    /// on FinalH/FinalC (their gradients passed as dhT/dcT).
    /// </summary>
    internal static void Check(IRecurrentLayer<double> l, bool masked, bool stateLoss, bool dropout, Action<Rng>? reseed = null)
    {
        foreach (var p in l.Parameters) GradCheck.Det(p.Length, 0.4, p.Name.Length + p.Length).CopyTo(p.Value, 0);
        var x = GradCheck.Det(B * S * l.InputSize, 1.0);
        var mask = masked ? SimpleRnnGradTests.PostPadMask(B, S) : Array.Empty<double>();
        bool given = l.InitialState == InitialState.Given, two = l.StateCount == 2;
        var h0 = given ? GradCheck.Det(l.StateLength(B, 0), 0.5, 11) : Array.Empty<double>();
        var c0 = given && two ? GradCheck.Det(l.StateLength(B, 1), 0.8, 12) : Array.Empty<double>();
        int outLen = B * l.OutputLength(S);
        var cy = GradCheck.Det(outLen, 1.0, 2);
        var ch = GradCheck.Det(l.StateLength(B, 0), 1.0, 13); var cc = GradCheck.Det(two ? l.StateLength(B, 1) : 0, 1.0, 14);
        var y = new double[outLen]; var dy = new double[outLen];
        var dhT = new double[stateLoss ? ch.Length : 0]; var dcT = new double[stateLoss ? cc.Length : 0];
        var dx = new double[x.Length]; var dh0 = new double[h0.Length]; var dc0 = new double[c0.Length];
        double Run(bool grad)
        {
            reseed?.Invoke(new Rng(99));
            l.Forward(y, x, mask, h0, c0, B, S);
            double loss = GradCheck.WeightedLoss(y, cy, grad ? dy : default);
            if (stateLoss)
            {
                loss += GradCheck.WeightedLoss(l.FinalH, ch, grad ? dhT : default);
                if (two) loss += GradCheck.WeightedLoss(l.FinalC, cc, grad ? dcT : default);
            }
            return loss;
        }
        void Analytic()
        {
            l.ZeroGrad(); Array.Clear(dx); Array.Clear(dh0); Array.Clear(dc0);
            Run(true);
            l.Backward(dx, dh0, dc0, dy, dhT, dcT, B, S);
        }
        var targets = l.Parameters.Select(GradCheck.Of).ToList();
        targets.Add(new("x", x, dx));
        if (given) { targets.Add(new("h0(given)", h0, dh0)); if (two) targets.Add(new("c0(given)", c0, dc0)); }
        GradCheck.Assert(() => Run(false), Analytic, targets.ToArray());
        if (dropout)
        {
            var yDrop = (double[])y.Clone();
            l.Training = false;
            l.Forward(y, x, mask, h0, c0, B, S);
            Assert.NotEqual(yDrop, y);
            l.Training = true;
        }
    }

    private static readonly string[] LstmCaseNames =
    [
        "plain", "mask", "backwards", "final", "final-backwards-mask", "given-state", "learned", "dropout", "two-biases",
        "padded-zero", "pytorch-init", "all",
    ];

    private static LstmOptions LstmOpts(string c, int proj) => LstmOptsCore(c, proj);

    private static LstmOptions LstmOptsCore(string c, int proj) => c switch
    {
        "plain" => new() { ProjSize = proj },
        "mask" => new() { ProjSize = proj },
        "backwards" => new() { ProjSize = proj, Backwards = true },
        "final" => new() { ProjSize = proj, ReturnSequences = false },
        "final-backwards-mask" => new() { ProjSize = proj, ReturnSequences = false, Backwards = true },
        "given-state" => new() { ProjSize = proj, InitialState = InitialState.Given },
        "learned" => new() { ProjSize = proj, InitialState = InitialState.Learned },
        "dropout" => new() { ProjSize = proj, Dropout = 0.3, RecurrentDropout = 0.4 },
        "two-biases" => new() { ProjSize = proj, TwoBiases = true },
        "padded-zero" => new() { ProjSize = proj, PaddedOutput = PaddedOutput.Zero },
        "pytorch-init" => new() { ProjSize = proj, Init = InitScheme.PyTorch, TwoBiases = true },
        "all" => new()
        {
            ProjSize = proj, Backwards = true, InitialState = InitialState.Given, TwoBiases = true, Dropout = 0.25,
            RecurrentDropout = 0.25, PaddedOutput = PaddedOutput.Zero,
        },
        _ => throw new ArgumentException(c),
    };

    private static bool Masked(string c) => c.Contains("mask") || c is "padded-zero" or "all";

    public static TheoryData<string, string> LstmVariantCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var v in new[] { "proj", "peep", "peep-proj" })
            foreach (var c in LstmCaseNames) d.Add(v, c);
        return d;
    }

    [Theory]
    [MemberData(nameof(LstmVariantCases))]
    public void LstmVariantGradients(string variant, string c)
    {
        int proj = variant.Contains("proj") ? 3 : 0;
        var o = LstmOpts(c, proj) with { Peepholes = variant.Contains("peep") };
        using var l = new Lstm<double>(I, 6, new Rng(7), o);
        Assert.Equal(proj > 0 ? 3 : 6, l.HiddenSize); Assert.Equal(6, l.CellSize);
        Assert.Equal(o.Peepholes, l.Peephole != null);
        bool dropout = o.Dropout > 0;
        Check(l, Masked(c), c is "given-state" or "all" or "final", dropout, dropout ? r => l.DropoutRng = r : null);
    }

    [Theory]
    [InlineData("rnn-tanh")]
    [InlineData("rnn-relu")]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("gru-before")]
    public void PaddedOutputZeroGradients(string kind)
    {
        // Zeros at padded steps, and the gradient arriving there ignored: still the exact gradient of that output.
        var rng = new Rng(3);
        using IRecurrentLayer<double> l = kind switch
        {
            "rnn-tanh" => new SimpleRnn<double>(I, 5, rng, new() { PaddedOutput = PaddedOutput.Zero, InitialState = InitialState.Given }),
            "rnn-relu" => new SimpleRnn<double>(I, 5, rng, new() { Activation = Rnn.Kernels.Activation.Relu, PaddedOutput = PaddedOutput.Zero }),
            "lstm" => new Lstm<double>(I, 5, rng, new() { PaddedOutput = PaddedOutput.Zero, Backwards = true, InitialState = InitialState.Given }),
            "gru" => new Gru<double>(I, 5, rng, new() { PaddedOutput = PaddedOutput.Zero, InitialState = InitialState.Given }),
            _ => new Gru<double>(I, 5, rng, new() { ResetAfter = false, PaddedOutput = PaddedOutput.Zero, Backwards = true }),
        };
        Check(l, masked: true, stateLoss: true, dropout: false);
        // The padded outputs really are zero.
        var x = GradCheck.Det(B * S * I); var mask = SimpleRnnGradTests.PostPadMask(B, S); var y = new double[B * S * 5];
        l.Forward(y, x, mask, l.InitialState == InitialState.Given ? new double[B * 5] : default, l.InitialState == InitialState.Given && l.StateCount == 2 ? new double[B * 5] : default, B, S);
        for (int i = 0; i < B * S; i++)
            if (mask[i] == 0) Assert.All(y.AsSpan(i * 5, 5).ToArray(), v => Assert.Equal(0.0, v));
        Assert.Contains(mask, m => m == 0);
    }

    [Theory]
    [InlineData("lstm", false)]
    [InlineData("lstm", true)]
    [InlineData("gru", true)]
    [InlineData("rnn", false)]
    [InlineData("lstm-proj", true)]
    [InlineData("lstm-peep", true)]
    public void StackOfBidirectionalLayersWithStates(string kind, bool masked)
    {
        // Two bidirectional layers stacked, h0/c0 given and h_n/c_n in the loss, all in PyTorch's (layers·dirs, B, H).
        IRecurrentLayer<double> Dir(int input, bool back, int k)
        {
            var rng = new Rng((ulong)(10 + k));
            string sfx = $"_l{k / 2}" + (back ? "_reverse" : "");
            return kind switch
            {
                "lstm" => new Lstm<double>(input, 4, rng, new() { Backwards = back, InitialState = InitialState.Given, TwoBiases = true }, sfx),
                "lstm-proj" => new Lstm<double>(input, 4, rng, new() { Backwards = back, InitialState = InitialState.Given, ProjSize = 2 }, sfx),
                "lstm-peep" => new Lstm<double>(input, 4, rng, new() { Backwards = back, InitialState = InitialState.Given, Peepholes = true }, sfx),
                "gru" => new Gru<double>(input, 4, rng, new() { Backwards = back, InitialState = InitialState.Given }, sfx),
                _ => new SimpleRnn<double>(input, 4, rng, new() { Backwards = back, InitialState = InitialState.Given }, sfx),
            };
        }
        int p = kind == "lstm-proj" ? 2 : 4;
        using var stack = new RecurrentStack<double>(
            new Bidirectional<double>(Dir(I, false, 0), Dir(I, true, 1)),
            new Bidirectional<double>(Dir(2 * p, false, 2), Dir(2 * p, true, 3)));
        Assert.Equal(4 * B * p, stack.StateLength(B, 0));
        Check(stack, masked, stateLoss: true, dropout: false);
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, true, false)]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    public void ProjectedTruncationIsTheGradientOfTheLastStepsFromTheFrozenState(bool backwards, bool masked, bool peep)
    {
        const int k = 3, early = S - k, H = 6, P = 3;
        using var lstm = new Lstm<double>(I, H, new Rng(13), new LstmOptions { GradientSteps = k, Backwards = backwards, ProjSize = P, Peepholes = peep });
        var x = GradCheck.Det(B * S * I, 1.0);
        var mask = masked ? SimpleRnnGradTests.PostPadMask(B, S) : Array.Empty<double>();
        var y = new double[B * S * P]; var c = GradCheck.Det(y.Length, 1.0, 2); var dy = new double[y.Length];
        var dx = new double[x.Length];
        lstm.Forward(y, x, mask, default, default, B, S);
        GradCheck.WeightedLoss(y, c, dy);
        lstm.Backward(dx, default, default, dy, default, default, B, S);

        var (xe, me) = TestTensors.TimeSlice(x, mask, B, S, backwards ? k : 0, early, I);
        var (xl, ml) = TestTensors.TimeSlice(x, mask, B, S, backwards ? 0 : early, k, I);
        using var head = new Lstm<double>(I, H, new Rng(13), new LstmOptions { Backwards = backwards, ReturnSequences = false, ProjSize = P, Peepholes = peep });
        using var tail = new Lstm<double>(I, H, new Rng(13), new LstmOptions { Backwards = backwards, InitialState = InitialState.Given, ProjSize = P, Peepholes = peep });
        head.Forward(new double[B * P], xe, me, default, default, B, early);
        var hF = head.FinalH.ToArray(); var cF = head.FinalC.ToArray();
        var cl = TestTensors.TimeSlice(c, Array.Empty<double>(), B, S, backwards ? 0 : early, k, P).Item1;
        var yl = new double[B * k * P]; var dyl = new double[yl.Length]; var dxl = new double[xl.Length];
        tail.Forward(yl, xl, ml, hF, cF, B, k);
        GradCheck.WeightedLoss(yl, cl, dyl);
        tail.Backward(dxl, default, default, dyl, default, default, B, k);
        TestTensors.AssertClose(tail.WeightIh.Grad, lstm.WeightIh.Grad); TestTensors.AssertClose(tail.WeightHh.Grad, lstm.WeightHh.Grad);
        TestTensors.AssertClose(tail.WeightHr!.Grad, lstm.WeightHr!.Grad);
        TestTensors.AssertClose(tail.BiasIh.Grad, lstm.BiasIh.Grad);
        if (peep) TestTensors.AssertClose(tail.Peephole!.Grad, lstm.Peephole!.Grad);
        TestTensors.AssertClose(dxl, TestTensors.TimeSlice(dx, Array.Empty<double>(), B, S, backwards ? 0 : early, k, I).Item1);
        Assert.Contains(lstm.WeightHr.Grad, v => v != 0);
    }
}
