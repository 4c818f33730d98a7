using Rnn.Losses;

namespace Rnn.Tests;

public class LossTests
{
    private static double NaiveBce(double z, double y)
    {
        double s = 1 / (1 + Math.Exp(-z));
        return -(y * Math.Log(s) + (1 - y) * Math.Log(1 - s));
    }

    [Fact]
    public void BceMatchesTheNaiveFormulaAndStaysFiniteForHugeLogits()
    {
        double[] z = [-3, -0.5, 0, 0.7, 4];
        double[] y = [0, 1, 1, 0, 0.3];
        double expect = z.Select((zi, i) => NaiveBce(zi, y[i])).Average();
        Assert.Equal(expect, BinaryCrossEntropy.Forward<double>(z, y), 1e-12);
        // The naive form gives log(0) = −∞ here; the stable one gives |z| for a confident wrong answer.
        float big = BinaryCrossEntropy.Forward<float>([1000f, -1000f], [0f, 0f]);
        Assert.Equal(500f, big, 1e-3f);
        Assert.Equal(0f, BinaryCrossEntropy.Forward<float>([1000f, -1000f], [1f, 0f]));
        var d = new float[2];
        BinaryCrossEntropy.Backward<float>(d, [1000f, -1000f], [0f, 1f], 1f);
        Assert.Equal(new[] { 0.5f, -0.5f }, d);
    }

    [Fact]
    public void BceGradientMatchesFiniteDifferences()
    {
        var z = GradCheck.Det(7, 3.0);
        double[] y = [0, 1, 1, 0, 1, 0.25, 0];
        var dz = new double[7];
        const double scale = 1.7;
        GradCheck.Assert(() => scale * BinaryCrossEntropy.Forward<double>(z, y),
            () => { Array.Clear(dz); BinaryCrossEntropy.Backward<double>(dz, z, y, scale); },
            new GradCheck.Target("logits", z, dz));
    }

    [Fact]
    public void BceProbabilitiesAndAccuracy()
    {
        float[] z = [-2f, 0.5f, 3f, -0.1f];
        float[] y = [0f, 0f, 1f, 1f];
        var p = new float[4];
        BinaryCrossEntropy.Probabilities<float>(p, z);
        Assert.Equal(1 / (1 + MathF.Exp(2f)), p[0], 1e-6f);
        Assert.Equal(2, BinaryCrossEntropy.Correct<float>(z, y));
        Assert.Equal(0.5, BinaryCrossEntropy.Accuracy<float>(z, y));
    }

    [Fact]
    public void BceRejectsBadLabelsNaNLogitsAndShapes()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BinaryCrossEntropy.Forward<float>([0f, 1f], [0f, 2f]));
        Assert.Equal("targets", e.ParamName); Assert.Contains("index 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BinaryCrossEntropy.Forward<float>([0f], [float.NaN]));
        var n = Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.Forward<float>([0f, float.NaN], [0f, 1f]));
        Assert.Equal("logits", n.ParamName);
        Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.Backward<float>(new float[2], [float.PositiveInfinity, 0f], [0f, 1f], 1f));
        Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.Forward<float>([0f, 1f], [0f]));
        Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.Forward<float>([], []));
    }

    private const int N = 5, C = 4;

    private static double NaiveCe(double[] z, int row, int target)
    {
        double s = 0;
        for (int c = 0; c < C; c++) s += Math.Exp(z[row * C + c]);
        return -Math.Log(Math.Exp(z[row * C + target]) / s);
    }

    [Fact]
    public void SoftmaxCeIsTheMeanOverUnmaskedRows()
    {
        var z = GradCheck.Det(N * C, 2.0);
        int[] t = [0, 3, 1, 2, 2];
        double all = Enumerable.Range(0, N).Average(i => NaiveCe(z, i, t[i]));
        Assert.Equal(all, SoftmaxCrossEntropy.Forward<double>(z, t, C), 1e-12);
        // Masked rows (1 and 3) contribute nothing, and their targets are not read (−1 = padding).
        double[] m = [1, 0, 1, 0, 1];
        int[] tp = [0, -1, 1, 99, 2];
        double unmasked = new[] { 0, 2, 4 }.Average(i => NaiveCe(z, i, t[i]));
        Assert.Equal(unmasked, SoftmaxCrossEntropy.Forward<double>(z, tp, m, C), 1e-12);
        var dz = new double[N * C];
        SoftmaxCrossEntropy.Backward<double>(dz, z, tp, m, 1.0, C);
        Assert.All(dz.AsSpan(1 * C, C).ToArray(), g => Assert.Equal(0.0, g));
        Assert.All(dz.AsSpan(3 * C, C).ToArray(), g => Assert.Equal(0.0, g));
        // All rows masked: no loss, no gradient, no division by zero.
        Assert.Equal(0.0, SoftmaxCrossEntropy.Forward<double>(z, tp, new double[N], C));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxCeGradientMatchesFiniteDifferences(bool masked)
    {
        var z = GradCheck.Det(N * C, 3.0, 1);
        int[] t = masked ? [2, -5, 0, 3, 1] : [2, 1, 0, 3, 1];
        double[] m = masked ? [1, 0, 1, 1, 0] : [];
        var dz = new double[N * C];
        const double scale = 0.8;
        GradCheck.Assert(() => scale * SoftmaxCrossEntropy.Forward<double>(z, t, m, C),
            () => { Array.Clear(dz); SoftmaxCrossEntropy.Backward<double>(dz, z, t, m, scale, C); },
            new GradCheck.Target("logits", z, dz));
    }

    [Fact]
    public void SoftmaxCeIsStableAndItsHelpersAgree()
    {
        float[] z = [1000f, 0f, -1000f, 0f, 0f, 0f];
        Assert.Equal(0f, SoftmaxCrossEntropy.Forward<float>(z.AsSpan(0, 3), [0], 3));
        Assert.Equal(1000f, SoftmaxCrossEntropy.Forward<float>(z.AsSpan(0, 3), [1], 3), 1e-3f);
        var p = new float[6];
        SoftmaxCrossEntropy.Probabilities<float>(p, z, 3);
        Assert.Equal(new[] { 1f, 0f, 0f }, p.AsSpan(0, 3).ToArray());
        Assert.Equal(1f / 3, p[4], 1e-6f);
        Assert.Equal(1, SoftmaxCrossEntropy.Correct<float>(z, [0, 2], default, 3)); // ties: first class wins
        Assert.Equal(1, SoftmaxCrossEntropy.Correct<float>(z, [0, 0], [1f, 0f], 3));
    }

    [Fact]
    public void SoftmaxCeRejectsBadTargetsWeightsAndNaN()
    {
        var z = new float[N * C];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward<float>(z, [0, 1, 4, 0, 0], C));
        Assert.Equal("targets", e.ParamName); Assert.Contains("[0, 4)", e.Message); Assert.Contains("row 2", e.Message); Assert.Contains("got 4", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward<float>(z, [0, -1, 0, 0, 0], C));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward<float>(z, [0, 0, 0, 0, 0], [1f, -1f, 1f, 1f, 1f], C));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward<float>(z, [0, 0, 0, 0, 0], [1f, float.NaN, 1f, 1f, 1f], C));
        z[7] = float.NaN;
        var n = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Forward<float>(z, [0, 0, 0, 0, 0], C));
        Assert.Equal("logits", n.ParamName); Assert.Contains("index 7", n.Message);
        Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Forward<float>(new float[N * C - 1], [0, 0, 0, 0, 0], C));
        Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Backward<float>(new float[3], new float[N * C], [0, 0, 0, 0, 0], 1f, C));
    }
}
