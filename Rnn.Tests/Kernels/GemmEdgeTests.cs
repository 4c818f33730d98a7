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
        int rowsMax = Gemm.DirectRowsMaxCols;
        bool directT = Gemm.DirectATransposed;
        try
        {
            foreach (int m in new[] { 2, 12, 25, 100 })
                foreach (int n in new[] { 2, 9, 40, 100, 256 })
                    foreach (int k in new[] { 32, 77, 600 })
                    {
                        var a = Random(m * k, 4); var b = Random(k * n, 5); var c0 = Random(m * n, 6);
                        var packed = (float[])c0.Clone(); var direct = (float[])c0.Clone();
                        Gemm.DirectRowsMaxCols = 0; Gemm.DirectATransposed = false;
                        Gemm.Multiply<float>(packed, a, b, transA, false, 0.75f, beta, m, n, k);
                        Gemm.DirectRowsMaxCols = 1 << 20; Gemm.DirectATransposed = true;
                        Gemm.Multiply<float>(direct, a, b, transA, false, 0.75f, beta, m, n, k);
                        for (int i = 0; i < packed.Length; i++)
                            Assert.True(packed[i] == direct[i], $"({m},{n},{k}) C[{i / n},{i % n}] = {direct[i]}, packed {packed[i]}");
                    }
        }
        finally { Gemm.DirectRowsMaxCols = rowsMax; Gemm.DirectATransposed = directT; }
    }
}
