using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

/// <summary>Misuse of the recurrent layers and the streaming path: an argument error naming the argument, and no trace.</summary>
public class LayerMisuseTests
{
    [Fact]
    public void HugeSizesNameTheArgumentBeforeAllocating()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm<float>(1, 1 << 29, null));
        Assert.Equal("hiddenSize", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Gru<float>(-3, 4, null));
        using var l = new Lstm<float>(3, 4, new Rng(1));
        var big = Assert.Throws<ArgumentException>(() => l.Forward(default, default, default, default, default, 1 << 20, 1 << 12));
        Assert.Equal("batch", big.ParamName);
        var neg = Assert.Throws<ArgumentOutOfRangeException>(() => l.Forward(default, default, default, default, default, -1, 3));
        Assert.Contains("expected >= 1", neg.Message);
    }

    [Fact]
    public void BackwardWithoutForwardSaysSo()
    {
        using var l = new SimpleRnn<double>(2, 3, new Rng(1));
        var e = Assert.Throws<InvalidOperationException>(() => l.Backward(default, default, new double[3 * 4 * 3], 3, 4));
        Assert.Contains("no Forward has run", e.Message);
    }

    [Fact]
    public void StreamingRefusesNaNAndNullAndLeavesTheStateAsItWas()
    {
        var spec = new ModelSpec { InputSize = 3, Cell = CellKind.Lstm, Hidden = 5, OutputSize = 1 };
        using var m = new SequenceModel<float>(spec, new Rng(2)) { Training = false };
        var p = new Predictor<float>(m);
        var s = p.NewState();
        p.Step([0.1f, 0.2f, 0.3f], s);
        var before = p.Step([0.3f, 0.1f, 0.2f], s).ToArray();
        var e = Assert.Throws<ArgumentException>(() => p.Step([0.1f, float.NaN, 0.3f], s));
        Assert.Contains("finite", e.Message);
        Assert.Equal(2, s.Steps);
        Assert.Throws<ArgumentNullException>(() => p.Step([0.1f, 0.2f, 0.3f], null!));
        // The refused steps left the state alone: the next step equals the one a fresh replay gives.
        var next = p.Step([0.5f, 0.5f, 0.5f], s).ToArray();
        var s2 = p.NewState();
        p.Step([0.1f, 0.2f, 0.3f], s2); p.Step([0.3f, 0.1f, 0.2f], s2);
        Assert.Equal(next, p.Step([0.5f, 0.5f, 0.5f], s2).ToArray());
        Assert.NotEqual(before, next);
    }
}
