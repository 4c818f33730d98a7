using Rnn.Init;
using Rnn.Optimizers;

namespace Rnn.Tests;

public class OptimizerTests
{
    private static Parameter<double> P(double[] w, double[] g)
    {
        var p = new Parameter<double>("w", [w.Length]);
        w.CopyTo(p.Value, 0); g.CopyTo(p.Grad, 0);
        return p;
    }

    [Fact]
    public void AdagradIsLasagnesRule()
    {
        var p = P([1.0, -2.0], [0.5, -3.0]);
        var o = new Adagrad<double>([p], 0.1);
        o.Step();
        // accu = g²; p -= lr·g/√(accu+1e-6)
        Assert.Equal(1.0 - 0.1 * 0.5 / Math.Sqrt(0.25 + 1e-6), p.Value[0], 14);
        Assert.Equal(-2.0 + 0.1 * 3.0 / Math.Sqrt(9 + 1e-6), p.Value[1], 14);
        o.Step(); // accu = 2g²
        Assert.Equal(1.0 - 0.1 * 0.5 / Math.Sqrt(0.25 + 1e-6) - 0.1 * 0.5 / Math.Sqrt(0.5 + 1e-6), p.Value[0], 14);
    }

    [Fact]
    public void SgdMomentumAndNesterov()
    {
        var p = P([1.0], [2.0]); var o = new Sgd<double>([p], 0.1, 0.9);
        o.Step(); Assert.Equal(1.0 - 0.2, p.Value[0], 14);            // v = 2
        o.Step(); Assert.Equal(0.8 - 0.1 * (0.9 * 2 + 2), p.Value[0], 14); // v = 3.8
        var q = P([1.0], [2.0]); var n = new Sgd<double>([q], 0.1, 0.9, nesterov: true);
        n.Step(); Assert.Equal(1.0 - 0.1 * (2 + 0.9 * 2), q.Value[0], 14);
    }

    [Fact]
    public void AdamFirstStepMovesByLearningRate()
    {
        // With bias correction, Adam's first step is lr·g/(|g| + ε) ≈ lr·sign(g).
        var p = P([0.0, 0.0], [0.3, -7.0]); var o = new Adam<double>([p], 1e-3);
        o.Step();
        Assert.Equal(-1e-3 * 0.3 / (0.3 + 1e-7), p.Value[0], 12);
        Assert.Equal(1e-3 * 7 / (7 + 1e-7), p.Value[1], 12);
    }

    [Fact]
    public void RmsPropRule()
    {
        var p = P([1.0], [2.0]); var o = new RmsProp<double>([p], 0.01, 0.9, 1e-7);
        o.Step();
        Assert.Equal(1.0 - 0.01 * 2 / (Math.Sqrt(0.1 * 4) + 1e-7), p.Value[0], 13);
    }

    [Fact]
    public void GlobalNormClipping()
    {
        var a = P([0, 0], [3, 0]); var b = P([0], [4]);
        var o = new Sgd<double>([a, b], 1.0) { MaxGradNorm = 1.0 };
        o.Step();
        Assert.Equal(5.0, o.LastGradNorm, 12);
        // the update is the gradient scaled to norm 1
        Assert.Equal(-0.6, a.Value[0], 5); Assert.Equal(-0.8, b.Value[0], 5);
        double n = GradClip.ClipGlobalNorm(new[] { a, b }, 2.5);
        Assert.Equal(5.0, n, 12);
        Assert.Equal(2.5, GradClip.GlobalNorm(new[] { a, b }), 5);
    }

    [Fact]
    public void UnclippedStepReportsTheGlobalNorm()
    {
        // Without clipping the norm is summed chunk by chunk during the update: the same value as GlobalNorm before it.
        var dense = new Parameter<double>("w", [5000]);
        for (int i = 0; i < dense.Length; i++) dense.Grad[i] = Math.Sin(i) * 0.01;
        var emb = new Parameter<double>("emb", [10, 3], rowSparse: true);
        emb.Grad[6] = 2; emb.Grad[8] = -1; emb.TouchedRows!.Add(2);
        var o = new Adam<double>([dense, emb], 0.1);
        double expected = GradClip.GlobalNorm(o.Parameters);
        o.Step();
        Assert.Equal(expected, o.LastGradNorm, 12);
        Assert.True(expected > 2);
    }

    [Fact]
    public void RowSparseParametersUpdateOnlyTouchedRows()
    {
        var p = new Parameter<double>("emb", [4, 2], rowSparse: true);
        p.Grad[2] = 1; p.Grad[3] = -1; p.TouchedRows!.Add(1);
        var o = new Adam<double>([p], 0.1);
        o.Step();
        Assert.Equal(new double[] { 0, 0, -0.1, 0.1, 0, 0, 0, 0 }, p.Value.Select(v => Math.Round(v, 6)).ToArray());
        p.ZeroGrad();
        Assert.All(p.Grad, g => Assert.Equal(0, g));
        Assert.Equal(0, p.TouchedRows.Rows.Length);
    }

    [Fact]
    public void BadLearningRate()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<double>([P([0], [0])], double.NaN));
        Assert.Equal("learningRate", e.ParamName);
    }
}
