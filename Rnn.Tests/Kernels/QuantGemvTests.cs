using System.Runtime.Intrinsics.X86;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// The bf16 and int8 matrix-vector kernels: every SIMD path this CPU has gives the scalar reference's bits (they add
/// in its order; int8 sums are exact integers), and the result is within the format's bound of the exact float
/// product: bf16 |Δ| ≤ (2^-8 + K·2^-24)·Σ|w||x| (the unit roundoff of 8 significant bits, 7 stored, per weight, plus float32
/// accumulation); int8 |Δ| ≤ Σ_k (|w_k|·e_x + |x̂_k|·s_w/2) plus the dequantisation's rounding, where
/// e_x = s_x·(1/2 + 128·2^-24) (x/s_x rounded once in float, then to an integer) and x̂ = q·s_x.
/// </summary>
public class QuantGemvTests
{
    public static TheoryData<int, int, int> Shapes => new() { { 1, 1, 1 }, { 1, 64, 128 }, { 2, 100, 37 }, { 3, 130, 7 }, { 1, 1024, 256 }, { 2, 65, 5 } };

    private static float[] Data(int n, double scale, double phase) => GradCheck.Det(n, scale, phase).Select(v => (float)v).ToArray();

    private static IEnumerable<int> Bf16Paths()
    {
        yield return 0;
        if (Avx2.IsSupported && Fma.IsSupported) yield return 2;
        if (Dispatch.Isa == 3) yield return 3;
    }

    private static IEnumerable<int> Int8Paths()
    {
        yield return 0;
        if (Avx2.IsSupported) yield return 1;
        if (AvxVnni.IsSupported) yield return 2;
    }

    [Fact]
    public void Bf16RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, BFloat16.FromFloat(1f));
        Assert.Equal(0x3F80, BFloat16.FromFloat(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even stays
        Assert.Equal(0x3F82, BFloat16.FromFloat(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, odd rounds up
        Assert.Equal(0x3F81, BFloat16.FromFloat(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(BFloat16.ToFloat(BFloat16.FromFloat(float.NaN))));
        Assert.Equal(float.PositiveInfinity, BFloat16.ToFloat(BFloat16.FromFloat(float.MaxValue)));
        foreach (float f in Data(1000, 3, 0.1))
        {
            float r = BFloat16.ToFloat(BFloat16.FromFloat(f));
            Assert.True(Math.Abs(r - (double)f) <= Math.Abs((double)f) * Math.Pow(2, -8), $"{f} -> {r}");
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Bf16PathsMatchTheReferenceAndTheBound(int rows, int N, int K)
    {
        int n = rows;
        var w = Data(N * K, 0.5, 0.3); var x = Data(n * K, 1.5, 0.7);
        var q = new QuantMatrix(N, K, int8: false);
        q.Pack(w);
        foreach (bool acc in new[] { false, true })
        {
            var init = Data(n * (N + 3), 0.2, 0.9);
            var reference = (float[])init.Clone();
            QuantGemv.MultiplyBf16(0, reference, x, q, acc, n, N + 3);
            foreach (int p in Bf16Paths())
            {
                var c = (float[])init.Clone();
                QuantGemv.MultiplyBf16(p, c, x, q, acc, n, N + 3);
                Assert.Equal(reference, c); // bit for bit, padding columns untouched
            }
            for (int r = 0; r < n; r++)
                for (int j = 0; j < N; j++)
                {
                    double exact = acc ? init[r * (N + 3) + j] : 0, mag = 0;
                    for (int k = 0; k < K; k++) { exact += (double)w[j * K + k] * x[r * K + k]; mag += Math.Abs((double)w[j * K + k] * x[r * K + k]); }
                    double bound = (Math.Pow(2, -8) + (K + 1) * Math.Pow(2, -24)) * (mag + (acc ? Math.Abs(init[r * (N + 3) + j]) : 0));
                    Assert.True(Math.Abs(reference[r * (N + 3) + j] - exact) <= bound, $"({r}, {j}): {reference[r * (N + 3) + j]} vs {exact}, bound {bound}");
                }
            for (int r = 0; r < n; r++)
                for (int j = N; j < N + 3; j++) Assert.Equal(init[r * (N + 3) + j], reference[r * (N + 3) + j]);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Int8PathsMatchTheReferenceAndTheBound(int rows, int N, int K)
    {
        int n = rows;
        var w = Data(N * K, 0.5, 0.3); var x = Data(n * K, 1.5, 0.7);
        if (N > 2) w.AsSpan(K, K).Clear(); // a zero row: scale 0
        if (n > 1) x.AsSpan(K, K).Clear(); // a zero input row
        var q = new QuantMatrix(N, K, int8: true);
        q.Pack(w);
        int kp = (K + 3) / 4 * 4;
        var xq = new sbyte[n * kp]; var sx = new float[n];
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++)
                Assert.True(Math.Abs(w[j * K + k] - (double)q.QuantisedInt8(j, k) * q.Scale[j]) <= q.Scale[j] / 2.0, $"weight ({j}, {k})");
        foreach (bool acc in new[] { false, true })
        {
            var init = Data(n * (N + 3), 0.2, 0.9);
            var reference = (float[])init.Clone();
            QuantGemv.MultiplyInt8(0, reference, x, q, acc, n, xq, sx, N + 3);
            foreach (int p in Int8Paths())
            {
                var c = (float[])init.Clone();
                QuantGemv.MultiplyInt8(p, c, x, q, acc, n, xq, sx, N + 3);
                Assert.Equal(reference, c);
            }
            for (int r = 0; r < n; r++)
            {
                double ex = sx[r] * (0.5 + 128 * Math.Pow(2, -24));
                for (int j = 0; j < N; j++)
                {
                    double c0 = acc ? init[r * (N + 3) + j] : 0, exact = c0, bound = 0, mag = 0;
                    for (int k = 0; k < K; k++)
                    {
                        double wk = w[j * K + k], xk = x[r * K + k];
                        exact += wk * xk;
                        bound += Math.Abs(wk) * ex + (Math.Abs(xk) + ex) * q.Scale[j] / 2;
                        mag += Math.Abs(wk * xk);
                    }
                    // (float)Σ exact below 2^24; · s_x, · s_w and + c each round once (2^-24 relative).
                    bound += 4 * Math.Pow(2, -24) * (mag + bound + Math.Abs(c0));
                    Assert.True(Math.Abs(reference[r * (N + 3) + j] - exact) <= bound, $"({r}, {j}): {reference[r * (N + 3) + j]} vs {exact}, bound {bound}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(63, 5)]
    [InlineData(65, 7)]
    [InlineData(130, 257)]
    public void PackPlacesEachRowAsQuantiseRowsAndTheReferenceIndexSay(int N, int K)
    {
        var w = Data(N * K, 0.5, 0.3);
        if (N > 2) w.AsSpan(K, K).Clear(); // scale 0
        var q = new QuantMatrix(N, K, int8: true);
        q.Pack(w);
        var want = new sbyte[N * K]; var scale = new float[N];
        QuantMatrix.QuantiseRows(w, N, K, want, scale);
        var again = new QuantMatrix(N, K, int8: true);
        again.PackInt8(want, scale);
        Assert.Equal(q.QWeights.ToArray(), again.QWeights.ToArray()); Assert.Equal(q.Scale, again.Scale); Assert.Equal(q.Corr, again.Corr);
        long nonZero = 0;
        for (int j = 0; j < N; j++)
        {
            int sum = 0;
            for (int k = 0; k < K; k++)
            {
                Assert.Equal(want[j * K + k], q.QuantisedInt8(j, k)); // the element-wise Index
                sum += want[j * K + k]; nonZero += want[j * K + k] != 0 ? 1 : 0;
            }
            Assert.Equal(scale[j], q.Scale[j]);
            Assert.Equal(128 * sum, q.Corr[j]);
        }
        Assert.Equal(nonZero, q.Q.Count(v => v != 0)); // padding stays zero
        var b = new QuantMatrix(N, K, int8: false);
        b.Pack(w);
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++) Assert.Equal(BFloat16.ToFloat(BFloat16.FromFloat(w[j * K + k])), b.Dequantised(j, k));
        Assert.Equal(w.Count(v => BFloat16.FromFloat(v) != 0), b.Bf16.Count(v => v != 0));
    }

    [Fact]
    public void Int8RejectsNonFiniteWeights()
    {
        var q = new QuantMatrix(2, 3, int8: true);
        var ex = Assert.Throws<ArgumentException>(() => q.Pack([1, 2, 3, 4, float.NaN, 6]));
        Assert.Contains("row 1", ex.Message);
    }
}
