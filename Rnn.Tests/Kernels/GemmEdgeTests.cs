using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// Edge tiles (fewer rows or columns than the micro-tile) must give each element the same bits as a full tile:
/// the top-left (r, cols) corner (r, cols ≥ 2: one row or column runs the GEMV, which sums in another order) of a (24, 64) product, computed alone, equals the full product's corner exactly.
/// </summary>
[Collection("Kernels")]
public class GemmEdgeTests
{
    private static float[] Random(int len, int seed)
    {
        var r = new Random(seed);
        var x = new float[len];
        for (int i = 0; i < len; i++) x[i] = (float)r.NextDouble() * 2f - 1f;
        return x;
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    [InlineData(-0.5f)]
    public void CornerOfAProductIsBitIdenticalToTheFullProduct(float beta)
    {
        Engine.Threads = 1;
        const int M = 24, N = 64, K = 301;
        var a = Random(M * K, 1);
        var b = Random(K * N, 2);
        var c0 = Random(M * N, 3);
        var full = (float[])c0.Clone();
        Gemm.Multiply<float>(full, a, b, false, false, 0.75f, beta, M, N, K);
        for (int r = 2; r <= 13; r++)
            foreach (int cols in new[] { 2, 5, 15, 16, 17, 31, 32, 33, 48, 50 })
            {
                var bs = new float[K * cols];
                for (int p = 0; p < K; p++) Array.Copy(b, p * N, bs, p * cols, cols);
                var c = new float[r * cols];
                for (int i = 0; i < r; i++) Array.Copy(c0, i * N, c, i * cols, cols);
                Gemm.Multiply<float>(c, a, bs, false, false, 0.75f, beta, r, cols, K);
                for (int i = 0; i < r; i++)
                    for (int j = 0; j < cols; j++)
                        Assert.True(full[i * N + j] == c[i * cols + j], $"({r},{cols}) C[{i},{j}] = {c[i * cols + j]}, full product {full[i * N + j]}");
            }
    }

    /// <summary>
    /// Reading A in place (rows of A stored (m, k), or A stored (k, m) with its stride) gives the packed kernels'
    /// bits for every shape and edge, so which path ran never shows in a result.
    /// </summary>
    [Theory]
    [InlineData(false, 0f)]
    [InlineData(false, 1f)]
    [InlineData(true, 0f)]
    [InlineData(true, -0.5f)]
    public void ReadingAInPlaceGivesThePackedBits(bool transA, float beta)
    {
        Engine.Threads = 1;
        var packA = GemmPolicy.Default with { DirectRowsMaxCols = 0, DirectRowsMaxRows = 0, DirectATransposed = false };
        var readA = GemmPolicy.Default with { DirectRowsMaxCols = 1 << 20, DirectATransposed = true };
        foreach (int m in new[] { 2, 12, 16, 25, 64, 100 })
            foreach (int n in new[] { 2, 9, 40, 100, 256, 600 })
                foreach (int k in new[] { 32, 77, 600 })
                {
                    var a = Random(m * k, 4); var b = Random(k * n, 5); var c0 = Random(m * n, 6);
                    var packed = (float[])c0.Clone(); var direct = (float[])c0.Clone();
                    Gemm.MultiplyWith<float>(packA, packed, a, b, transA, false, 0.75f, beta, m, n, k);
                    Gemm.MultiplyWith<float>(readA, direct, a, b, transA, false, 0.75f, beta, m, n, k);
                    for (int i = 0; i < packed.Length; i++)
                        Assert.True(packed[i] == direct[i], $"({m},{n},{k}) C[{i / n},{i % n}] = {direct[i]}, packed {packed[i]}");
                }
    }

    /// <summary>
    /// Reading B in place (whole panels, and a last panel of at most 8 columns, which the narrow edge kernel reads a
    /// row at a time) gives the packed kernels' bits, with A read either way.
    /// </summary>
    [Theory]
    [InlineData(false, 0f)]
    [InlineData(false, 1f)]
    [InlineData(true, 0f)]
    [InlineData(true, -0.5f)]
    public void ReadingBInPlaceGivesThePackedBits(bool transA, float beta)
    {
        Engine.Threads = 1;
        var packB = GemmPolicy.Default with { DirectBMaxRows512 = 0 };
        var readB = GemmPolicy.Default with { DirectBMaxRows512 = 1 << 20 };
        foreach (int m in new[] { 4, 12, 25, 100 })
            foreach (int n in new[] { 3, 36, 100, 104, 130 })
                foreach (int k in new[] { 7, 77, 600 })
                {
                    var a = Random(m * k, 7); var b = Random(k * n, 8); var c0 = Random(m * n, 9);
                    var packed = (float[])c0.Clone(); var direct = (float[])c0.Clone();
                    Gemm.MultiplyWith<float>(packB, packed, a, b, transA, false, 0.75f, beta, m, n, k);
                    Gemm.MultiplyWith<float>(readB, direct, a, b, transA, false, 0.75f, beta, m, n, k);
                    for (int i = 0; i < packed.Length; i++)
                        Assert.True(packed[i] == direct[i], $"({m},{n},{k}) C[{i / n},{i % n}] = {direct[i]}, packed {packed[i]}");
                }
    }

    /// <summary>
    /// The policy is a value: the default is the measured one (new() gives the same), a derived policy leaves Default
    /// as it was, and a negative threshold is refused naming the setting and the value.
    /// </summary>
    [Fact]
    public void PolicyIsImmutableAndRefusesNegativeThresholds()
    {
        var packA = GemmPolicy.Default with { DirectATransposed = false, DirectRowsMaxCols = 0 };
        Assert.Equal(new GemmPolicy(), GemmPolicy.Default);
        Assert.True(GemmPolicy.Default.DirectATransposed);
        Assert.Equal((256, 64, 128), (GemmPolicy.Default.DirectRowsMaxCols, GemmPolicy.Default.DirectRowsMaxRows, GemmPolicy.Default.DirectBMaxRows512));
        Assert.True(GemmPolicy.Default.NarrowRegisters);
        Assert.NotEqual(GemmPolicy.Default, packA);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GemmPolicy.Default with { DirectRowsMaxRows = -1 });
        Assert.Equal("DirectRowsMaxRows", e.ParamName);
        Assert.Contains("got -1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmPolicy.Default with { DirectRowsMaxCols = -5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmPolicy.Default with { DirectBMaxRows512 = -2 });
    }

    /// <summary>
    /// A product with a few columns and A stored (k, m) (e.g. an RNN's dW_ih = dGᵀ·x for 2 inputs) gives every
    /// element the plain FMA chain over p in order, then alpha and beta as the kernels apply them: on the AVX-512
    /// path that keeps the sums in registers (row blocks of 64, partial vectors, the last rows of A read from a
    /// padded copy) and on the vector loop, for 1 and 2 threads, with and without a row stride.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void FewColumnsWithATransposedGiveTheFmaChainBits(int threads)
    {
        Engine.Threads = threads;
        foreach (int n in new[] { 2, 3, 4 })
            foreach (int m in new[] { 2, 5, 16, 17, 37, 64, 65, 100, 130, 700 }) // 700 x 4 x 300: split over 2 threads
                foreach (int k in new[] { 1, 2, 7, 300 })
                    foreach (int pad in new[] { 0, 3 })
                        foreach (float beta in new[] { 0f, 1f, -0.5f })
                        {
                            int lda = m + pad;
                            var a = Random((k - 1) * lda + m, 20 + m); var b = Random(k * n, 21); var c0 = Random(m * n, 22);
                            var want = new float[m * n];
                            for (int i = 0; i < m; i++)
                                for (int j = 0; j < n; j++)
                                {
                                    float acc = 0f;
                                    for (int p = 0; p < k; p++) acc = MathF.FusedMultiplyAdd(a[p * lda + i], b[p * n + j], acc);
                                    want[i * n + j] = beta == 0f ? acc * 0.75f : MathF.FusedMultiplyAdd(acc, 0.75f, c0[i * n + j] * beta);
                                }
                            foreach (bool reg in new[] { true, false })
                            {
                                var got = (float[])c0.Clone();
                                Gemm.MultiplyWith<float>(GemmPolicy.Default with { NarrowRegisters = reg }, got, a, b, true, false, 0.75f, beta, m, n, k, lda);
                                AssertSame(want, got, $"registers={reg} ({m},{n},{k}) lda={lda} beta={beta}");
                            }
                        }
    }

    /// <summary>
    /// A given with a row stride (lda) gives the bits of the same A stored densely, for every path: packed, read in
    /// place (rows, or (k, m) with its stride), a few columns, one row or column, prepacked B, two outputs sharing A;
    /// the double path too.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void RowStrideOfAGivesTheDenseBits(int threads)
    {
        Engine.Threads = threads;
        try
        {
            foreach (bool ta in new[] { false, true })
                foreach (int m in new[] { 1, 2, 13, 64, 100, 512 })
                    foreach (int n in new[] { 1, 3, 40, 128 })
                        foreach (int k in new[] { 1, 33, 300 })
                        {
                            int rows = ta ? k : m, cols = ta ? m : k, lda = cols + (cols % 3 == 0 ? 16 : 5);
                            var dense = Random(rows * cols, 10); var b = Random(k * n, 11); var c0 = Random(m * n, 12);
                            var strided = new float[(rows - 1) * lda + cols];
                            for (int r = 0; r < rows; r++) Array.Copy(dense, r * cols, strided, r * lda, cols);
                            var want = (float[])c0.Clone(); var got = (float[])c0.Clone();
                            Gemm.Multiply<float>(want, dense, b, ta, false, 0.75f, 1f, m, n, k);
                            Gemm.Multiply<float>(got, strided, b, ta, false, 0.75f, 1f, m, n, k, lda);
                            AssertSame(want, got, $"Multiply ta={ta} ({m},{n},{k})");
                            var pb = new float[Gemm.PackedBLength<float>(n, k)];
                            Gemm.PackB<float>(pb, b, false, n, k);
                            want = (float[])c0.Clone(); got = (float[])c0.Clone();
                            Gemm.MultiplyPacked<float>(want, dense, pb, ta, 1f, 0f, m, n, k);
                            Gemm.MultiplyPacked<float>(got, strided, pb, ta, 1f, 0f, m, n, k, lda);
                            AssertSame(want, got, $"MultiplyPacked ta={ta} ({m},{n},{k})");
                            var b2 = Random(k * 40, 13);
                            float[] w1 = (float[])c0.Clone(), g1 = (float[])c0.Clone(), w2 = Random(m * 40, 14), g2 = (float[])w2.Clone();
                            Gemm.MultiplyShared<float>(w1, b, n, w2, b2, 40, dense, ta, 1f, 1f, m, k);
                            Gemm.MultiplyShared<float>(g1, b, n, g2, b2, 40, strided, ta, 1f, 1f, m, k, lda);
                            AssertSame(w1, g1, $"MultiplyShared c1 ta={ta} ({m},{n},{k})"); AssertSame(w2, g2, $"MultiplyShared c2 ta={ta} ({m},{n},{k})");
                            // C with a row stride (ldc), beside A with one: the dense product's bits, the gaps untouched.
                            int ldc = n + 3;
                            foreach (bool packed in new[] { false, true })
                            {
                                var dense1 = (float[])c0.Clone();
                                var wide = Enumerable.Repeat(7f, (m - 1) * ldc + n).ToArray();
                                for (int i = 0; i < m; i++) Array.Copy(c0, i * n, wide, i * ldc, n);
                                if (packed) { Gemm.MultiplyPacked<float>(dense1, dense, pb, ta, 0.75f, 1f, m, n, k); Gemm.MultiplyPacked<float>(wide, strided, pb, ta, 0.75f, 1f, m, n, k, lda, ldc); }
                                else { Gemm.Multiply<float>(dense1, dense, b, ta, false, 0.75f, 1f, m, n, k); Gemm.Multiply<float>(wide, strided, b, ta, false, 0.75f, 1f, m, n, k, lda, ldc); }
                                for (int i = 0; i < m; i++)
                                    for (int j = 0; j < ldc && i * ldc + j < wide.Length; j++)
                                        Assert.True(j < n ? wide[i * ldc + j] == dense1[i * n + j] : wide[i * ldc + j] == 7f, $"ldc packed={packed} ta={ta} ({m},{n},{k}) C[{i},{j}]");
                            }
                        }
            // double: the reference path
            var ad = Enumerable.Range(0, 7 * 5).Select(i => Math.Sin(i)).ToArray(); var bd = Enumerable.Range(0, 5 * 3).Select(i => Math.Cos(i)).ToArray();
            var sd = new double[6 * 8 + 5];
            for (int r = 0; r < 7; r++) Array.Copy(ad, r * 5, sd, r * 8, 5);
            double[] cw = new double[21], cg = new double[21];
            Gemm.Multiply<double>(cw, ad, bd, false, false, 1.0, 0.0, 7, 3, 5);
            Gemm.Multiply<double>(cg, sd, bd, false, false, 1.0, 0.0, 7, 3, 5, 8);
            Assert.Equal(cw, cg);
            var cs = Enumerable.Repeat(5.0, 6 * 4 + 3).ToArray();
            Gemm.Multiply<double>(cs, sd, bd, false, false, 1.0, 0.0, 7, 3, 5, 8, 4);
            for (int i = 0; i < 7; i++) { Assert.Equal(cw.AsSpan(i * 3, 3).ToArray(), cs.AsSpan(i * 4, 3).ToArray()); if (i < 6) Assert.Equal(5.0, cs[i * 4 + 3]); }
            Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply<float>(new float[4], new float[4], new float[4], false, false, 1f, 0f, 2, 2, 2, 1));
            Assert.Throws<ArgumentException>(() => Gemm.Multiply<float>(new float[4], new float[4], new float[4], false, false, 1f, 0f, 2, 2, 2, 3));
        }
        finally { Engine.Threads = 1; }
    }

    private static void AssertSame(float[] want, float[] got, string what)
    {
        for (int i = 0; i < want.Length; i++)
            Assert.True(want[i] == got[i], $"{what}: element {i} = {got[i]}, dense {want[i]}");
    }

    /// <summary>Two products sharing A give each output the bits of its own call, on 1 and 2 threads.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SharedAProductsMatchSeparateCalls(bool transA)
    {
        try
        {
            foreach (int threads in new[] { 1, 2 })
                foreach (var (m, n1, n2, k) in new[] { (2, 32, 7, 40), (25, 64, 100, 301), (100, 128, 128, 600), (512, 128, 33, 70), (40, 96, 200, 3) })
                {
                    Engine.Threads = threads;
                    var a = Random(m * k, 7); var b1 = Random(k * n1, 8); var b2 = Random(k * n2, 9);
                    var c1 = Random(m * n1, 10); var c2 = Random(m * n2, 11);
                    var s1 = (float[])c1.Clone(); var s2 = (float[])c2.Clone();
                    Gemm.Multiply<float>(c1, a, b1, transA, false, 0.5f, 1f, m, n1, k);
                    Gemm.Multiply<float>(c2, a, b2, transA, false, 0.5f, 1f, m, n2, k);
                    Gemm.MultiplyShared<float>(s1, b1, n1, s2, b2, n2, a, transA, 0.5f, 1f, m, k);
                    for (int i = 0; i < c1.Length; i++) Assert.True(c1[i] == s1[i], $"t={threads} ({m},{n1},{n2},{k}) C1[{i}]: {s1[i]} vs {c1[i]}");
                    for (int i = 0; i < c2.Length; i++) Assert.True(c2[i] == s2[i], $"t={threads} ({m},{n1},{n2},{k}) C2[{i}]: {s2[i]} vs {c2[i]}");
                }
        }
        finally { Engine.Threads = 1; }
    }

    /// <summary>B packed for one row (a batch-1 step) gives the bits of the usual packing, on 1 and 2 threads.</summary>
    [Fact]
    public void OneRowPackingGivesTheSameBits()
    {
        try
        {
            foreach (int threads in new[] { 1, 2 })
                foreach (var (n, k) in new[] { (1024, 256), (100, 37), (300, 600), (16, 1100), (520, 64) })
                {
                    Engine.Threads = threads;
                    var a = Random(k, 12); var b = Random(k * n, 13); var c0 = Random(n, 14);
                    foreach (bool tb in new[] { false, true })
                    {
                        var usual = new float[Gemm.PackedBLength<float>(n, k)]; var oneRow = new float[usual.Length];
                        Gemm.PackB<float>(usual, b, tb, n, k);
                        Gemm.PackB<float>(oneRow, b, tb, n, k, forOneRow: true);
                        var c1 = (float[])c0.Clone(); var c2 = (float[])c0.Clone();
                        Gemm.MultiplyPacked<float>(c1, a, usual, false, 0.5f, 1f, 1, n, k);
                        Gemm.MultiplyPacked<float>(c2, a, oneRow, false, 0.5f, 1f, 1, n, k);
                        for (int j = 0; j < n; j++) Assert.True(c1[j] == c2[j], $"t={threads} ({n},{k}) tb={tb} C[{j}]: {c2[j]} vs {c1[j]}");
                        if (Gemm.OneRowWidth == 0) continue; // no vector path: forOneRow keeps the usual layout
                        var e = Assert.Throws<ArgumentException>(() => Gemm.MultiplyPacked<float>(new float[2 * n], Random(2 * k, 15), oneRow, false, 1f, 0f, 2, n, k));
                        Assert.Contains("expected m = 1, got m = 2", e.Message);
                    }
                }
        }
        finally { Engine.Threads = 1; }
    }
}
