using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Tests;

public class BadInputTests
{
    private static SimpleRnn<float> Layer(SimpleRnnOptions? o = null) => new(3, 4, new Rng(1), o);

    [Fact]
    public void WrongInputShapeNamesArgumentAndShapes()
    {
        using var l = Layer();
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 2], default, default, 2, 5));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("30", e.Message); Assert.Contains("20", e.Message); Assert.Contains("features=3", e.Message);
    }

    [Fact]
    public void WrongOutputShape()
    {
        using var l = Layer(new SimpleRnnOptions { ReturnSequences = false });
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 3], default, default, 2, 5));
        Assert.Equal("y", e.ParamName);
        Assert.Contains("(batch=2, H=4)", e.Message);
    }

    [Fact]
    public void MaskShapeMismatch()
    {
        using var l = Layer();
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 3], new float[2 * 4], default, 2, 5));
        Assert.Equal("mask", e.ParamName);
        Assert.Contains("(batch=2, seq_len=5)", e.Message); Assert.Contains("got 8", e.Message);
    }

    [Fact]
    public void MaskValuesMustBeZeroOrOne()
    {
        using var l = Layer();
        var mask = Enumerable.Repeat(1f, 10).ToArray(); mask[7] = 0.5f;
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 3], mask, default, 2, 5));
        Assert.Equal("mask", e.ParamName);
        Assert.Contains("(b=1, t=2)", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteInput(float bad)
    {
        using var l = Layer();
        var x = new float[2 * 5 * 3]; x[17] = bad;
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], x, default, default, 2, 5));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("index 17", e.Message);
    }

    [Fact]
    public void BackwardWithOtherShapeThanForward()
    {
        using var l = Layer();
        l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 3], default, default, 2, 5);
        var e = Assert.Throws<InvalidOperationException>(() => l.Backward(default, default, new float[3 * 5 * 4], 3, 5));
        Assert.Contains("batch=2", e.Message); Assert.Contains("batch=3", e.Message);
    }

    [Fact]
    public void GivenInitialStateShape()
    {
        using var l = Layer(new SimpleRnnOptions { InitialState = InitialState.Given });
        var e = Assert.Throws<ArgumentException>(() => l.Forward(new float[2 * 5 * 4], new float[2 * 5 * 3], default, new float[3], 2, 5));
        Assert.Equal("h0", e.ParamName);
    }

    [Fact]
    public void BadOptions()
    {
        Assert.Throws<ArgumentException>(() => Layer(new SimpleRnnOptions { GradientSteps = 0 }));
        Assert.Throws<ArgumentException>(() => Layer(new SimpleRnnOptions { Activation = Rnn.Kernels.Activation.Sigmoid }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SimpleRnn<float>(0, 4, new Rng(1)));
    }
}
