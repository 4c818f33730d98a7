using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

public class BidirectionalGradTests
{
    private const int B = 3, S = 5, I = 4, H = 3;

    [Theory]
    [InlineData(MergeMode.Concat, true)]
    [InlineData(MergeMode.Concat, false)]
    [InlineData(MergeMode.Sum, true)]
    [InlineData(MergeMode.Mean, false)]
    public void SimpleRnnPairWithMask(MergeMode merge, bool sequences)
    {
        var rng = new Rng(4);
        using var bi = new Bidirectional<double>(
            new SimpleRnn<double>(I, H, rng, new SimpleRnnOptions { ReturnSequences = sequences }),
            new SimpleRnn<double>(I, H, rng, new SimpleRnnOptions { ReturnSequences = sequences, Backwards = true }, "_l0_reverse"),
            merge);
        var x = GradCheck.Det(B * S * I);
        var mask = SimpleRnnGradTests.PostPadMask(B, S);
        int outLen = B * bi.OutputLength(S);
        var y = new double[outLen]; var dy = new double[outLen]; var c = GradCheck.Det(outLen, 1, 2); var dx = new double[x.Length];
        double Loss() { bi.Forward(y, x, mask, B, S); return GradCheck.WeightedLoss(y, c, default); }
        void Analytic() { bi.ZeroGrad(); Array.Clear(dx); bi.Forward(y, x, mask, B, S); GradCheck.WeightedLoss(y, c, dy); bi.Backward(dx, dy, B, S); }
        GradCheck.Assert(Loss, Analytic, bi.Parameters.Select(GradCheck.Of).Append(new GradCheck.Target("x", x, dx)).ToArray());
        Assert.Equal(merge == MergeMode.Concat ? 2 * H : H, bi.HiddenSize);
        Assert.Contains(bi.Parameters, p => p.Name == "weight_hh_l0_reverse");
    }

    [Fact]
    public void RejectsMismatchedDirections()
    {
        var rng = new Rng(1);
        var e = Assert.Throws<ArgumentException>(() => new Bidirectional<float>(
            new SimpleRnn<float>(I, H, rng), new SimpleRnn<float>(I, H, rng)));
        Assert.Equal("backwards", e.ParamName);
        Assert.Throws<ArgumentException>(() => new Bidirectional<float>(
            new SimpleRnn<float>(I, H, rng), new SimpleRnn<float>(I, H + 1, rng, new SimpleRnnOptions { Backwards = true })));
    }
}
