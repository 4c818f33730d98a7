using Rnn;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

/// <summary>
/// A layer's steady-state forward and backward allocate nothing. In the non-parallel "Kernels" collection: the
/// pools' buffers are only dropped on a full garbage collection, which tests allocating on other threads could
/// otherwise set off in the middle of a measurement.
/// </summary>
[Collection("Kernels")]
public class AllocationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmForwardAndBackwardAllocateNothingAfterWarmUp(bool maskAndDropout)
    {
        const int b = 32, s = 20, i = 16, h = 32;
        var opt = maskAndDropout ? new LstmOptions { Dropout = 0.2, RecurrentDropout = 0.2, TwoBiases = true } : new LstmOptions();
        using var lstm = new Lstm<float>(i, h, new Rng(1), opt);
        var x = GradCheck.Det(b * s * i).Select(v => (float)v).ToArray();
        var mask = maskAndDropout ? SimpleRnnGradTests.PostPadMask(b, s).Select(v => (float)v).ToArray() : [];
        var y = new float[b * s * h]; var dy = new float[y.Length]; dy.AsSpan().Fill(0.01f); var dx = new float[x.Length];
        for (int k = 0; k < 3; k++)
        {
            lstm.Forward(y, x, mask, default, default, b, s);
            lstm.Backward(dx, default, default, dy, default, default, b, s);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        lstm.Forward(y, x, mask, default, default, b, s);
        lstm.Backward(dx, default, default, dy, default, default, b, s);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void GruForwardAndBackwardAllocateNothingAfterWarmUp(bool resetAfter, bool maskAndDropout)
    {
        const int b = 32, s = 20, i = 16, h = 32;
        var opt = new GruOptions { ResetAfter = resetAfter };
        if (maskAndDropout) opt = opt with { Dropout = 0.2, RecurrentDropout = 0.2 };
        using var gru = new Gru<float>(i, h, new Rng(1), opt);
        var x = GradCheck.Det(b * s * i).Select(v => (float)v).ToArray();
        var mask = maskAndDropout ? SimpleRnnGradTests.PostPadMask(b, s).Select(v => (float)v).ToArray() : [];
        var y = new float[b * s * h]; var dy = new float[y.Length]; dy.AsSpan().Fill(0.01f); var dx = new float[x.Length];
        for (int k = 0; k < 3; k++)
        {
            gru.Forward(y, x, mask, default, b, s);
            gru.Backward(dx, default, dy, default, b, s);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        gru.Forward(y, x, mask, default, b, s);
        gru.Backward(dx, default, dy, default, b, s);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }
}
