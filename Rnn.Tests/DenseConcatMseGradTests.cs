using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Samples.Adding;

namespace Rnn.Tests;

public class DenseConcatMseGradTests
{
    [Theory]
    [InlineData(Activation.Linear)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Relu)]
    public void Dense(Activation f)
    {
        const int n = 5, fin = 7, fout = 3;
        using var d = new Dense<double>(fin, fout, new Rng(2), f);
        GradCheck.Det(fout, 0.3, 1).CopyTo(d.Bias.Value, 0);
        var x = GradCheck.Det(n * fin, 1.0, 0.5);
        var y = new double[n * fout]; var dy = new double[y.Length]; var dx = new double[x.Length];
        var c = GradCheck.Det(y.Length, 1.0, 2);
        double Loss() { d.Forward(y, x, n); return GradCheck.WeightedLoss(y, c, default); }
        void Analytic() { d.ZeroGrad(); Array.Clear(dx); d.Forward(y, x, n); GradCheck.WeightedLoss(y, c, dy); d.Backward(dx, dy, n); }
        GradCheck.Assert(Loss, Analytic, GradCheck.Of(d.Weight), GradCheck.Of(d.Bias), new GradCheck.Target("x", x, dx));
    }

    [Fact]
    public void ConcatGradient()
    {
        const int n = 4, fa = 3, fb = 5;
        var a = GradCheck.Det(n * fa, 1, 0); var b = GradCheck.Det(n * fb, 1, 1);
        var y = new double[n * (fa + fb)]; var dy = new double[y.Length];
        var da = new double[a.Length]; var db = new double[b.Length];
        var c = GradCheck.Det(y.Length, 1.0, 2);
        double Loss() { Concat.Forward<double>(y, a, b, n, fa, fb); return GradCheck.WeightedLoss(y, c, default); }
        void Analytic() { Array.Clear(da); Array.Clear(db); Concat.Forward<double>(y, a, b, n, fa, fb); GradCheck.WeightedLoss(y, c, dy); Concat.Backward<double>(da, db, dy, n, fa, fb); }
        GradCheck.Assert(Loss, Analytic, new GradCheck.Target("a", a, da), new GradCheck.Target("b", b, db));
    }

    [Fact]
    public void MseGradient()
    {
        var p = GradCheck.Det(9, 1, 0); var t = GradCheck.Det(9, 1, 3); var dp = new double[9];
        double Loss() => Mse.Forward<double>(p, t);
        void Analytic() { Array.Clear(dp); Mse.Backward<double>(dp, p, t, 1.0); }
        GradCheck.Assert(Loss, Analytic, new GradCheck.Target("pred", p, dp));
        // The value itself: mean of squared differences.
        double expect = p.Zip(t, (u, v) => (u - v) * (u - v)).Average();
        Assert.Equal(expect, Mse.Forward<double>(p, t), 12);
    }

    [Fact]
    public void WholeAddingNetwork()
    {
        // The sample's network (forward + backwards SimpleRnn with grad clipping 100, concat, Dense tanh, MSE)
        // at a small size, on real masked adding data. Clipping at 100 is inactive at these magnitudes,
        // which the check itself would reveal.
        const int B = 4, S = 12, H = 6;
        using var model = new AddingModel<double>(new Rng(3), H);
        var x = new double[B * S * 2]; var y = new double[B]; var mask = new double[B * S];
        AddingData.Generate<double>(x, y, mask, new Rng(9), B, 8, S);
        var dx = new double[x.Length];
        double Loss() => model.Loss(x, mask, y, B, S);
        void Analytic() { model.ZeroGrad(); Array.Clear(dx); model.Loss(x, mask, y, B, S); model.Backward(dx, y, B, S); }
        GradCheck.Assert(Loss, Analytic, model.Parameters.Select(GradCheck.Of).Append(new GradCheck.Target("x", x, dx)).ToArray());
    }
}
