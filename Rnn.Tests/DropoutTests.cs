using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Tests;

public class DropoutTests
{
    [Fact]
    public void GradientsMatchFiniteDifferencesWithAFixedMask()
    {
        const int n = 40; const double p = 0.3;
        // A fresh layer with the same seed draws the same mask at every evaluation: the mask is fixed.
        static Dropout<double> Make() => new(p, new Rng(5));
        var x = GradCheck.Det(n, 1.0); var c = GradCheck.Det(n, 1.0, 2);
        var y = new double[n]; var dy = new double[n]; var dx = new double[n];
        double Loss() { using var d = Make(); d.Forward(y, x, n); return GradCheck.WeightedLoss(y, c, default); }
        void Analytic()
        {
            Array.Clear(dx);
            using var d = Make();
            d.Forward(y, x, n); GradCheck.WeightedLoss(y, c, dy);
            d.Backward(dx, dy, n);
            Assert.Contains(0.0, d.Mask.ToArray()); // some elements really are dropped
        }
        GradCheck.Assert(Loss, Analytic, new GradCheck.Target("x", x, dx));
    }

    [Fact]
    public void DropsAboutPAndScalesSurvivorsByOneOverOneMinusP()
    {
        const int n = 100_000; const double p = 0.25;
        using var d = new Dropout<float>(p, new Rng(9));
        var x = new float[n]; Array.Fill(x, 2f);
        var y = new float[n];
        d.Forward(y, x, n);
        int dropped = y.Count(v => v == 0);
        Assert.InRange(dropped / (double)n, p - 0.01, p + 0.01); // ±7 standard deviations
        Assert.All(y, v => Assert.True(v == 0 || v == 2f / 0.75f, $"unexpected {v}"));
        // Backward routes dy through the same mask and accumulates.
        var dx = new float[n]; Array.Fill(dx, 1f);
        var dy = new float[n]; Array.Fill(dy, 3f);
        d.Backward(dx, dy, n);
        for (int i = 0; i < n; i++) Assert.Equal(y[i] == 0 ? 1f : 1f + 3f / 0.75f, dx[i]);
    }

    [Fact]
    public void EvalModeAndZeroPAreTheIdentity()
    {
        var x = GradCheck.Det(17).Select(v => (float)v).ToArray();
        foreach (var (p, training) in new[] { (0.5, false), (0.0, true) })
        {
            using var d = new Dropout<float>(p, new Rng(1)) { Training = training };
            var y = new float[17];
            d.Forward(y, x, 17);
            Assert.Equal(x, y);
            Assert.True(d.Mask.IsEmpty);
            var dx = new float[17]; Array.Fill(dx, 1f);
            d.Backward(dx, x, 17);
            Assert.Equal(x.Select(v => 1f + v).ToArray(), dx);
        }
    }

    [Fact]
    public void MasksAreDeterministicBySeedAndFreshEachCall()
    {
        var x = new float[64]; Array.Fill(x, 1f);
        float[] Run(Dropout<float> d) { var y = new float[64]; d.Forward(y, x, 64); return y; }
        using var a = new Dropout<float>(0.5, new Rng(3));
        using var b = new Dropout<float>(0.5, new Rng(3));
        var a1 = Run(a);
        Assert.Equal(a1, Run(b));
        Assert.NotEqual(a1, Run(a));
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout<float>(1.0, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout<float>(-0.1, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout<float>(double.NaN, new Rng(1)));
        using var d = new Dropout<float>(0.5, new Rng(1));
        Assert.Throws<ArgumentException>(() => d.Forward(new float[3], new float[4], 4));
        Assert.Throws<InvalidOperationException>(() => d.Backward(new float[4], new float[4], 4));
    }
}
