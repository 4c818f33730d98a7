using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>Tests that change <see cref="Engine.Threads"/> or count allocations run alone.</summary>
[CollectionDefinition("Kernels", DisableParallelization = true)]
public sealed class KernelsCollection;

/// <summary>
/// The float fast path against MultiplyReference evaluated in double on the same float inputs.
/// Tolerance: |fast − ref| ≤ 1e-5·Σ_p |op(A)_ip·op(B)_pj| + 1e-6 (float summation in another order:
/// each of k roundings is ≤ 6e-8 of a partial sum, and k ≤ 300 here).
/// </summary>
[Collection("Kernels")]
public class GemmTests
{
    private static readonly int[] Sizes = [1, 3, 7, 17, 33, 100, 129];

    private static float[] Random(int len, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var x = new float[len];
        for (int i = 0; i < len; i++) x[i] = ((float)r.NextDouble() * 2f - 1f) * scale;
        return x;
    }

    /// <summary>Runs the fast float GEMM and checks it against the double reference; returns the fast C.</summary>
    private static float[] CheckOne(int m, int n, int k, bool ta, bool tb, float alpha, float beta, int seed, bool nanInC = false)
    {
        var a = Random(m * k, seed);
        var b = Random(k * n, seed + 1);
        var c0 = nanInC ? Enumerable.Repeat(float.NaN, m * n).ToArray() : Random(m * n, seed + 2);
        var c = (float[])c0.Clone();
        Gemm.Multiply<float>(c, a, b, ta, tb, alpha, beta, m, n, k);

        var ad = a.Select(v => (double)v).ToArray();
        var bd = b.Select(v => (double)v).ToArray();
        var cd = c0.Select(v => (double)v).ToArray();
        Gemm.MultiplyReference<double>(cd, ad, bd, ta, tb, alpha, beta, m, n, k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double mag = 0;
                for (int p = 0; p < k; p++)
                    mag += Math.Abs((ta ? ad[p * m + i] : ad[i * k + p]) * (tb ? bd[j * k + p] : bd[p * n + j]));
                double tol = 1e-5 * Math.Abs(alpha) * mag + 1e-6 + 1e-6 * Math.Abs(beta * (nanInC ? 0 : c0[i * n + j]));
                double err = Math.Abs(c[i * n + j] - cd[i * n + j]);
                Assert.True(err <= tol,
                    $"({m},{n},{k}) ta={ta} tb={tb} alpha={alpha} beta={beta}: C[{i},{j}] = {c[i * n + j]}, expected {cd[i * n + j]} (err {err:E2} > tol {tol:E2})");
            }
        return c;
    }

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Transposes))]
    public void AllOddShapesMatchReference(bool ta, bool tb)
    {
        Engine.Threads = 1;
        (float alpha, float beta)[] ab = [(1f, 0f), (1f, 1f), (0.5f, -2f), (-1.5f, 0.25f)];
        int seed = 0;
        foreach (int m in Sizes)
            foreach (int n in Sizes)
                foreach (int k in Sizes)
                {
                    var (alpha, beta) = ab[seed % ab.Length];
                    CheckOne(m, n, k, ta, tb, alpha, beta, seed++);
                }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void BigShapesMatchReference(bool ta, bool tb)
    {
        Engine.Threads = 1;
        CheckOne(257, 300, 129, ta, tb, 1f, 0f, 1);
        CheckOne(64, 520, 300, ta, tb, 1f, 1f, 2);   // few rows: B read in place when not transposed
        CheckOne(300, 40, 270, ta, tb, 0.75f, -1f, 3); // more rows than columns: split by rows
        CheckOne(1, 1000, 300, ta, tb, 1f, 1f, 4);     // GEMV over B's columns
        CheckOne(290, 1, 300, ta, tb, 2f, 0.5f, 5);    // GEMV over A's rows
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void BetaZeroIgnoresNaNInC(bool ta, bool tb)
    {
        Engine.Threads = 1;
        foreach (var (m, n, k) in new[] { (1, 33, 17), (33, 1, 17), (17, 33, 100), (129, 257, 33), (100, 100, 0) })
        {
            var c = CheckOne(m, n, k, ta, tb, 1f, 0f, m + n + k, nanInC: true);
            Assert.DoesNotContain(c, float.IsNaN);
        }
    }

    [Fact]
    public void BetaOneAccumulates()
    {
        Engine.Threads = 1;
        int m = 33, n = 65, k = 300;
        var a = Random(m * k, 1); var b = Random(k * n, 2);
        var once = new float[m * n];
        Gemm.Multiply<float>(once, a, b, false, false, 1f, 0f, m, n, k);
        var twice = new float[m * n];
        Gemm.Multiply<float>(twice, a, b, false, false, 1f, 1f, m, n, k);
        Gemm.Multiply<float>(twice, a, b, false, false, 1f, 1f, m, n, k);
        for (int i = 0; i < once.Length; i++) Assert.Equal(2f * once[i], twice[i], 1e-5f * Math.Max(1f, Math.Abs(once[i])));
        Assert.Contains(once, v => v != 0f);
    }

    [Fact]
    public void AlphaZeroOrKZeroScalesByBeta()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Gemm.Multiply<float>(c, new float[6], new float[9], false, false, 0f, 2f, 2, 3, 3);
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, c);
        Gemm.Multiply<float>(c, default, default, false, false, 1f, 0.5f, 2, 3, 0);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, c);
    }

    public static TheoryData<int, int, int, bool, bool> ParallelShapes => new()
    {
        { 257, 300, 129, false, false }, { 257, 300, 129, true, true }, { 64, 2048, 128, false, true },
        { 64, 520, 300, false, false }, { 600, 40, 130, true, false }, { 1, 4000, 300, false, true },
        { 1, 4000, 300, false, false }, { 4000, 1, 300, false, false }, { 4000, 1, 300, true, false },
        // Rows split over a B packed once for all threads; B's columns in L2-sized runs (kc 300: runs of 416).
        { 400, 300, 700, false, false }, { 520, 1000, 600, false, true }, { 512, 600, 200, true, false },
    };

    [Theory]
    [MemberData(nameof(ParallelShapes))]
    public void OneAndTwoThreadsAreBitIdentical(int m, int n, int k, bool ta, bool tb)
    {
        var a = Random(m * k, 7); var b = Random(k * n, 8); var c0 = Random(m * n, 9);
        var c1 = (float[])c0.Clone(); var c2 = (float[])c0.Clone();
        try
        {
            Engine.Threads = 1;
            Gemm.Multiply<float>(c1, a, b, ta, tb, 1.25f, 0.5f, m, n, k);
            Engine.Threads = 2;
            long before = WorkerPool.Dispatches;
            Gemm.Multiply<float>(c2, a, b, ta, tb, 1.25f, 0.5f, m, n, k);
            Assert.True(WorkerPool.Dispatches > before, "the 2-thread call did not run on the pool");
        }
        finally { Engine.Threads = 1; }
        for (int i = 0; i < c1.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(c1[i]) == BitConverter.SingleToInt32Bits(c2[i]),
                $"C[{i}]: 1 thread {c1[i]:R}, 2 threads {c2[i]:R}");
        CheckOne(m, n, k, ta, tb, 1.25f, 0.5f, 7); // and both are right
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SteadyStateAllocatesNothing(int threads)
    {
        var shapes = new (int m, int n, int k, bool ta, bool tb)[]
        {
            (100, 100, 100, false, false), (32, 512, 128, false, true), (64, 520, 300, false, false),
            (257, 300, 129, true, true), (1, 1024, 256, false, true), (1, 1024, 256, false, false), (300, 1, 200, false, false),
            (520, 1000, 600, false, true),
        };
        var bufs = shapes.Select(s => (a: Random(s.m * s.k, 1), b: Random(s.k * s.n, 2), c: new float[s.m * s.n])).ToArray();
        try
        {
            Engine.Threads = threads;
            // Warm up past tiered compilation (methods are rejitted after 30 calls) and fill the pools.
            for (int rep = 0; rep < 60; rep++)
                for (int i = 0; i < shapes.Length; i++)
                {
                    var (m, n, k, ta, tb) = shapes[i];
                    Gemm.Multiply<float>(bufs[i].c, bufs[i].a, bufs[i].b, ta, tb, 1f, 0f, m, n, k);
                }
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int rep = 0; rep < 10; rep++)
                for (int i = 0; i < shapes.Length; i++)
                {
                    var (m, n, k, ta, tb) = shapes[i];
                    Gemm.Multiply<float>(bufs[i].c, bufs[i].a, bufs[i].b, ta, tb, 1f, 0f, m, n, k);
                }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally { Engine.Threads = 1; }
    }

    public static TheoryData<int, int, int, bool, bool> PackedShapes => new()
    {
        { 1, 1024, 256, false, true }, { 1, 37, 700, true, false }, { 3, 70, 33, false, false }, { 32, 512, 128, false, true },
        { 64, 2048, 96, true, true }, { 100, 100, 100, false, false }, { 13, 200, 1100, false, true }, { 257, 41, 129, true, false },
    };

    /// <summary>B packed once gives the same bits as Multiply packing it per call, on 1 and 2 threads (m = 1: right, not same bits).</summary>
    [Theory]
    [MemberData(nameof(PackedShapes))]
    public void PrepackedBMatchesMultiply(int m, int n, int k, bool ta, bool tb)
    {
        var a = Random(m * k, 11); var b = Random(k * n, 12); var c0 = Random(m * n, 13);
        var packed = new float[Gemm.PackedBLength<float>(n, k)];
        Gemm.PackB<float>(packed, b, tb, n, k);
        var expect = (float[])c0.Clone();
        try
        {
            Engine.Threads = 1;
            Gemm.Multiply<float>(expect, a, b, ta, tb, 0.75f, 0.5f, m, n, k);
            foreach (int threads in new[] { 1, 2 })
            {
                Engine.Threads = threads;
                var c = (float[])c0.Clone();
                Gemm.MultiplyPacked<float>(c, a, packed, ta, 0.75f, 0.5f, m, n, k);
                for (int i = 0; i < c.Length; i++)
                {
                    if (m > 1)
                        Assert.True(BitConverter.SingleToInt32Bits(c[i]) == BitConverter.SingleToInt32Bits(expect[i]),
                            $"({m},{n},{k}) threads {threads}: C[{i}] = {c[i]:R}, Multiply gave {expect[i]:R}");
                    else Assert.True(Math.Abs(c[i] - expect[i]) <= 1e-4f * (1 + Math.Abs(expect[i])), $"C[{i}] = {c[i]}, expected {expect[i]}");
                }
            }
            // The double path packs as a plain (k, n) matrix.
            var ad = a.Select(v => (double)v).ToArray(); var bd = b.Select(v => (double)v).ToArray();
            var pd = new double[Gemm.PackedBLength<double>(n, k)];
            Gemm.PackB<double>(pd, bd, tb, n, k);
            var cd = c0.Select(v => (double)v).ToArray(); var cr = (double[])cd.Clone();
            Gemm.MultiplyPacked<double>(cd, ad, pd, ta, 0.75, 0.5, m, n, k);
            Gemm.MultiplyReference<double>(cr, ad, bd, ta, tb, 0.75, 0.5, m, n, k);
            for (int i = 0; i < cd.Length; i++) Assert.True(Math.Abs(cd[i] - cr[i]) <= 1e-12 * k, $"double C[{i}] = {cd[i]}, expected {cr[i]}");
        }
        finally { Engine.Threads = 1; }
    }

    [Fact]
    public void PrepackedBWithOneRowMatchesReference()
    {
        Engine.Threads = 1;
        foreach (var (n, k) in new[] { (1, 1), (5, 3), (33, 17), (129, 600), (1000, 300) })
        {
            var a = Random(k, n); var b = Random(k * n, k); var c = Random(n, 3);
            var packed = new float[Gemm.PackedBLength<float>(n, k)];
            Gemm.PackB<float>(packed, b, false, n, k);
            var cd = c.Select(v => (double)v).ToArray();
            Gemm.MultiplyPacked<float>(c, a, packed, false, 1f, -1f, 1, n, k);
            Gemm.MultiplyReference<double>(cd, a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), false, false, 1.0, -1.0, 1, n, k);
            for (int j = 0; j < n; j++) Assert.True(Math.Abs(c[j] - cd[j]) <= 1e-5 * k + 1e-5, $"(1,{n},{k}) C[{j}] = {c[j]}, expected {cd[j]}");
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void DoubleMatchesReference(bool ta, bool tb)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 7, 17), (17, 33, 3), (33, 17, 100), (1, 129, 7), (129, 1, 33) })
        {
            var r = new Random(m * 1000 + n * 10 + k);
            double[] Rand(int len) => Enumerable.Range(0, len).Select(_ => r.NextDouble() * 2 - 1).ToArray();
            var a = Rand(m * k); var b = Rand(k * n); var c0 = Rand(m * n);
            var c = (double[])c0.Clone(); var cr = (double[])c0.Clone();
            Gemm.Multiply<double>(c, a, b, ta, tb, 0.5, -1.5, m, n, k);
            Gemm.MultiplyReference<double>(cr, a, b, ta, tb, 0.5, -1.5, m, n, k);
            for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - cr[i]) <= 1e-13 * k + 1e-14, $"({m},{n},{k}) C[{i}] = {c[i]}, expected {cr[i]}");
        }
    }

    [Fact]
    public void WrongSizesThrowNamingTheArgument()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply<float>(new float[5], new float[6], new float[6], false, false, 1f, 0f, 2, 3, 3));
        Assert.Contains("c", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply<float>(new float[5], new float[6], new float[6], false, false, 1f, 0f, -1, 3, 3));
    }

    [Fact]
    public void DispatchReportsAKernelPath()
    {
        Assert.Contains(Dispatch.KernelPath, new[] { "Vector512", "Vector256", "Vector128", "scalar" });
        Assert.False(Dispatch.IsAot); // the test host runs on the JIT
    }
}
