using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>The vectorised elementwise kernels against their scalar references over every length 0..257.</summary>
public class ElementwiseTests
{
    private static float[] Ramp(int len, float lo, float hi)
    {
        var x = new float[len];
        for (int i = 0; i < len; i++) x[i] = len == 1 ? lo : lo + (hi - lo) * i / (len - 1);
        return x;
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    [Fact]
    public void AddRowsAddsStridedRows()
    {
        // y (3, 37) += rows of x 100 apart, starting at x[5]: the carry += one step of a (batch, seq, H) gradient.
        var x = Enumerable.Range(0, 400).Select(i => (float)Math.Sin(i)).ToArray();
        var y = Enumerable.Range(0, 3 * 37).Select(i => (float)i).ToArray();
        var want = y.Select((v, i) => v + x[5 + i / 37 * 100 + i % 37]).ToArray();
        Vec.AddRows<float>(y, x.AsSpan(5), 3, 37, 100);
        Assert.Equal(want, y);
        Assert.Throws<ArgumentException>(() => Vec.AddRows<float>(y, x.AsSpan(5), 4, 37, 100));
    }

    [Fact]
    public void TanhAndSigmoidWithin1e6OverDenseRange()
    {
        // 600 001 points over [-30, 30] (step 1e-4), max abs error against the double-precision functions.
        var x = Ramp(600_001, -30f, 30f);
        var t = new float[x.Length]; var s = new float[x.Length];
        Activations.Tanh<float>(t, x);
        Activations.Sigmoid<float>(s, x);
        double et = 0, es = 0;
        for (int i = 0; i < x.Length; i++)
        {
            et = Math.Max(et, Math.Abs(t[i] - Math.Tanh(x[i])));
            es = Math.Max(es, Math.Abs(s[i] - Sigmoid(x[i])));
        }
        Assert.True(et <= 1e-6, $"tanh max abs error {et:E2}");
        Assert.True(es <= 1e-6, $"sigmoid max abs error {es:E2}");
    }

    [Fact]
    public void EveryLengthMatchesReference()
    {
        for (int len = 0; len <= 257; len++)
        {
            var x = Ramp(len, -6f, 6f);
            var y = new float[len]; var r = new float[len];
            Activations.Tanh<float>(y, x); Activations.TanhReference<float>(r, x);
            for (int i = 0; i < len; i++) Assert.True(Math.Abs(y[i] - r[i]) <= 1e-6, $"tanh len {len} [{i}]: {y[i]} vs {r[i]}");
            Activations.Sigmoid<float>(y, x); Activations.SigmoidReference<float>(r, x);
            for (int i = 0; i < len; i++) Assert.True(Math.Abs(y[i] - r[i]) <= 1e-6, $"sigmoid len {len} [{i}]: {y[i]} vs {r[i]}");
            Activations.Relu<float>(y, x); Activations.ReluReference<float>(r, x);
            Assert.Equal(r, y);

            // In place gives the same as out of place.
            var z = (float[])x.Clone();
            Activations.Tanh<float>(z, z); Activations.Tanh<float>(y, x);
            Assert.Equal(y, z);
        }
    }

    [Theory]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Relu)]
    public void SaturationAndNaN(Activation f)
    {
        // Every special value at every position of a 37-long vector (vector body and tail).
        float[] specials = [100f, -100f, 1e30f, -1e30f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        foreach (var v in specials)
            for (int pos = 0; pos < 37; pos++)
            {
                var x = Ramp(37, -1f, 1f); x[pos] = v;
                var y = new float[37];
                Activations.Forward<float>(y, x, f);
                float expected = float.IsNaN(v) ? float.NaN : f switch
                {
                    Activation.Tanh => v > 0 ? 1f : -1f,
                    Activation.Sigmoid => v > 0 ? 1f : 0f,
                    _ => v > 0 ? v : 0f,
                };
                Assert.True(expected.Equals(y[pos]), $"{f}({v}) at {pos} = {y[pos]}, expected {expected}");
            }
    }

    [Fact]
    public void VecKernelsMatchReferenceAtEveryLength()
    {
        var rng = new Random(3);
        for (int len = 0; len <= 257; len++)
        {
            var x = Enumerable.Range(0, len).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var y0 = Enumerable.Range(0, len).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            if (len > 3) { y0[1] = float.NaN; y0[len - 1] = float.NaN; }

            var a = (float[])y0.Clone(); var b = (float[])y0.Clone();
            Vec.Axpy<float>(a, 0.75f, x); Vec.AxpyReference<float>(b, 0.75f, x);
            AssertClose(a, b, 1e-6f, "Axpy", len);

            a = (float[])y0.Clone(); b = (float[])y0.Clone();
            Vec.Add<float>(a, x); Vec.AddReference<float>(b, x);
            Assert.Equal(b, a);

            a = (float[])y0.Clone(); b = (float[])y0.Clone();
            Vec.Scale<float>(a, -1.5f); Vec.ScaleReference<float>(b, -1.5f);
            Assert.Equal(b, a);

            a = (float[])y0.Clone(); b = (float[])y0.Clone();
            Vec.Clip<float>(a, 1f); Vec.ClipReference<float>(b, 1f);
            Assert.Equal(b, a); // NaN stays NaN (Assert.Equal treats NaN as equal to NaN)
            Assert.All(a, v => Assert.True(float.IsNaN(v) || Math.Abs(v) <= 1f));

            // Products of floats are exact in double, so only the order of the additions differs.
            double ss = Vec.SumSquares<float>(x), sr = Vec.SumSquaresReference<float>(x);
            Assert.True(Math.Abs(ss - sr) <= 1e-13 * sr, $"SumSquares len {len}: {ss} vs {sr}");
            Assert.Equal(ss, Vec.SumSquares<float>(x)); // deterministic
        }
        float[] nan = [1f, float.NaN, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f, 16f];
        Assert.True(double.IsNaN(Vec.SumSquares<float>(nan)));
        Assert.True(double.IsPositiveInfinity(Vec.SumSquares<float>([float.PositiveInfinity, 1f])));
    }

    [Fact]
    public void ColumnSumsMatchTheRowByRowReferenceBitForBit()
    {
        var rng = new Random(5);
        foreach (int rows in new[] { 0, 1, 31, 32, 33, 100 })
            foreach (int cols in new[] { 1, 7, 16, 17, 40, 384 })
            {
                var src = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
                var d0 = Enumerable.Range(0, cols).Select(_ => (float)rng.NextDouble()).ToArray();
                var e0 = Enumerable.Range(0, cols).Select(_ => (float)rng.NextDouble()).ToArray();
                var a = (float[])d0.Clone(); var b = (float[])d0.Clone();
                Vec.AddColumnSums<float>(a, src, rows, cols); Vec.AddColumnSumsReference<float>(b, src, rows, cols);
                Assert.Equal(b, a);
                // The two-destination form gives each destination the one-destination bits.
                var a1 = (float[])d0.Clone(); var a2 = (float[])e0.Clone(); var b2 = (float[])e0.Clone();
                Vec.AddColumnSums<float>(a1, a2, src, rows, cols); Vec.AddColumnSumsReference<float>(b2, src, rows, cols);
                Assert.Equal(b, a1); Assert.Equal(b2, a2);
            }
    }

    [Fact]
    public void FiniteFindsEveryNonFiniteValueAtEveryPosition()
    {
        foreach (int len in new[] { 1, 7, 8, 9, 16, 17, 33 })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                for (int pos = 0; pos < len; pos++)
                {
                    var x = Enumerable.Range(0, len).Select(i => (float)i - 3e38f * (i % 2)).ToArray(); // large but finite
                    Rnn.Guard.Finite<float>(x);
                    x[pos] = bad;
                    var e = Assert.Throws<ArgumentException>(() => Rnn.Guard.Finite<float>(x, "x"));
                    Assert.Contains($"at flat index {pos}", e.Message);
                }
    }

    private static void AssertClose(float[] a, float[] b, float tol, string what, int len)
    {
        for (int i = 0; i < a.Length; i++)
            Assert.True(float.IsNaN(a[i]) && float.IsNaN(b[i]) || Math.Abs(a[i] - b[i]) <= tol * (1 + Math.Abs(b[i])),
                $"{what} len {len} [{i}]: {a[i]} vs {b[i]}");
    }
}

/// <summary>Vec.Mul and Vec.AddMul (the dropout-mask products) against their scalar references, every length 0..257.</summary>
public class VecMulTests
{
    [Fact] public void Float() => Run<float>();
    [Fact] public void Double() => Run<double>();

    private static void Run<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int n = 0; n <= 257; n++)
        {
            T[] a = GradCheck.Det(n, 3, 0.1).Select(T.CreateTruncating).ToArray(), b = GradCheck.Det(n, 1.7, 0.5).Select(T.CreateTruncating).ToArray();
            T[] y0 = GradCheck.Det(n, 2, 0.9).Select(T.CreateTruncating).ToArray();
            T[] m1 = new T[n], m2 = new T[n];
            Vec.Mul<T>(m1, a, b); Vec.MulReference<T>(m2, a, b);
            Assert.Equal(m2, m1);
            for (int i = 0; i < n; i++) Assert.Equal(a[i] * b[i], m1[i]);
            var alias = (T[])a.Clone();
            Vec.Mul<T>(alias, alias, b); // y may alias a
            Assert.Equal(m2, alias);
            T[] s1 = (T[])y0.Clone(), s2 = (T[])y0.Clone();
            Vec.AddMul<T>(s1, a, b); Vec.AddMulReference<T>(s2, a, b);
            Assert.Equal(s2, s1);
            for (int i = 0; i < n; i++) Assert.Equal(y0[i] + a[i] * b[i], s1[i]);
        }
        var ex = Assert.Throws<ArgumentException>(() => Vec.Mul<T>(new T[4], new T[4], new T[3]));
        Assert.Equal("b", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => Vec.AddMul<T>(new T[4], new T[5], new T[4]));
        Assert.Equal("a", ex.ParamName);
    }
}
