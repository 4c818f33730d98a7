using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

// Matrix-vector products (m = 1 or n = 1): memory-bound, so no packing; the matrix is streamed once.
public static unsafe partial class Gemm
{
    // Scalar tails use the same fused multiply-add as the vector lanes, so a column gives the same bits
    // whether it lands in a vector or in a tail (chunk boundaries move tails).
    // A JIT-time constant (not a static field, which a method compiled before the class is initialised cannot fold).
    private static bool FusedMadd => Fma.IsSupported || AdvSimd.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Madd(float a, float b, float c) => FusedMadd ? MathF.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Madd(Vector<float> a, Vector<float> b, Vector<float> c)
        => FusedMadd ? Vector.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Out(float acc, float alpha, float beta, float* c) => beta == 0f ? alpha * acc : alpha * acc + beta * *c;

    private static void Gemv(ref Job g, int i0, int i1, int j0, int j1)
    {
        if (g.M == 1)
        {
            // c (1, n) = a (k) · op(B): a is a k-vector whichever way A is stored.
            if (!g.TB) GemvRows(g.C, g.A, g.B, g.N, g.K, g.Alpha, g.Beta, j0, j1);
            else GemvDots(g.C, g.A, g.B, g.K, g.Alpha, g.Beta, j0, j1);
        }
        else
        {
            // c (m, 1) = op(A) · b: b is a k-vector whichever way B is stored.
            if (g.TA) GemvRows(g.C, g.B, g.A, g.M, g.K, g.Alpha, g.Beta, i0, i1);
            else GemvDots(g.C, g.B, g.A, g.K, g.Alpha, g.Beta, i0, i1);
        }
    }

    /// <summary>c[j] = alpha·Σ_p x[p]·M[p, j] + beta·c[j] for j in [j0, j1); M is (k, ld) row-major.</summary>
    private static void GemvRows(float* c, float* x, float* mat, int ld, int k, float alpha, float beta, int j0, int j1)
    {
        // Column blocks of JB sums live in an L1 scratch row while M is streamed row by row (contiguous reads);
        // each sum is still fma(x[p], M[p, j], sum) in p order, the same in a vector lane or in the tail.
        const int JB = 512;
        int w = Vector<float>.Count;
        float* t = stackalloc float[JB];
        for (int jb = j0; jb < j1; jb += JB)
        {
            int cols = Math.Min(JB, j1 - jb), cv = cols - cols % w;
            new Span<float>(t, cols).Clear();
            float* r = mat + jb;
            for (int p = 0; p < k; p++, r += ld)
            {
                var xp = new Vector<float>(x[p]);
                int j = 0;
                for (; j + 2 * w <= cv; j += 2 * w)
                {
                    Madd(xp, Vector.Load(r + j), Vector.Load(t + j)).Store(t + j);
                    Madd(xp, Vector.Load(r + j + w), Vector.Load(t + j + w)).Store(t + j + w);
                }
                for (; j < cv; j += w) Madd(xp, Vector.Load(r + j), Vector.Load(t + j)).Store(t + j);
                for (; j < cols; j++) t[j] = Madd(x[p], r[j], t[j]);
            }
            for (int j = 0; j < cols; j++) c[jb + j] = Out(t[j], alpha, beta, c + jb + j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOut(float* c, Vector<float> acc, float alpha, float beta)
    {
        var o = acc * new Vector<float>(alpha);
        if (beta != 0f) o += Vector.Load(c) * new Vector<float>(beta);
        o.Store(c);
    }

    /// <summary>c[j] = alpha·dot(x, M[j, :]) + beta·c[j] for j in [j0, j1); M is (rows, k) row-major.</summary>
    private static void GemvDots(float* c, float* x, float* mat, int k, float alpha, float beta, int j0, int j1)
    {
        int w = Vector<float>.Count;
        int kv = k - k % w;
        int j = j0;
        // Four rows at a time share each load of x; each row's sum is formed the same way as a single row's.
        for (; j + 4 <= j1; j += 4)
        {
            float* r0 = mat + (nint)j * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int p = 0; p < kv; p += w)
            {
                var xv = Vector.Load(x + p);
                s0 = Madd(Vector.Load(r0 + p), xv, s0);
                s1 = Madd(Vector.Load(r1 + p), xv, s1);
                s2 = Madd(Vector.Load(r2 + p), xv, s2);
                s3 = Madd(Vector.Load(r3 + p), xv, s3);
            }
            c[j] = Out(DotTail(s0, x, r0, kv, k), alpha, beta, c + j);
            c[j + 1] = Out(DotTail(s1, x, r1, kv, k), alpha, beta, c + j + 1);
            c[j + 2] = Out(DotTail(s2, x, r2, kv, k), alpha, beta, c + j + 2);
            c[j + 3] = Out(DotTail(s3, x, r3, kv, k), alpha, beta, c + j + 3);
        }
        for (; j < j1; j++)
        {
            float* r0 = mat + (nint)j * k;
            Vector<float> s0 = default;
            for (int p = 0; p < kv; p += w) s0 = Madd(Vector.Load(r0 + p), Vector.Load(x + p), s0);
            c[j] = Out(DotTail(s0, x, r0, kv, k), alpha, beta, c + j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotTail(Vector<float> s, float* x, float* r, int kv, int k)
    {
        float t = Vector.Sum(s);
        for (int p = kv; p < k; p++) t = Madd(x[p], r[p], t);
        return t;
    }

    /// <summary>8x8 in-register transposes for packing a transposed B (AVX).</summary>
    private static class Transpose8
    {
        public static bool IsSupported => Avx.IsSupported;

        /// <summary>dst (kc, nr) = srcᵀ, src rows j at src + j·ld (nr rows of kc floats); nr and kc multiples of 8.</summary>
        public static void Pack(float* dst, float* src, int ld, int kc, int nr)
        {
            for (int jb = 0; jb < nr; jb += 8)
            {
                float* s = src + (nint)jb * ld;
                for (int p = 0; p < kc; p += 8)
                {
                    var r0 = Avx.LoadVector256(s + p); var r1 = Avx.LoadVector256(s + ld + p);
                    var r2 = Avx.LoadVector256(s + 2 * ld + p); var r3 = Avx.LoadVector256(s + 3 * ld + p);
                    var r4 = Avx.LoadVector256(s + 4 * ld + p); var r5 = Avx.LoadVector256(s + 5 * ld + p);
                    var r6 = Avx.LoadVector256(s + 6 * ld + p); var r7 = Avx.LoadVector256(s + 7 * ld + p);
                    var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
                    var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                    var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
                    var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                    var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
                    var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                    var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
                    var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                    float* d = dst + (nint)p * nr + jb;
                    Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
                    Avx.Store(d + nr, Avx.Permute2x128(u1, u5, 0x20));
                    Avx.Store(d + 2 * nr, Avx.Permute2x128(u2, u6, 0x20));
                    Avx.Store(d + 3 * nr, Avx.Permute2x128(u3, u7, 0x20));
                    Avx.Store(d + 4 * nr, Avx.Permute2x128(u0, u4, 0x31));
                    Avx.Store(d + 5 * nr, Avx.Permute2x128(u1, u5, 0x31));
                    Avx.Store(d + 6 * nr, Avx.Permute2x128(u2, u6, 0x31));
                    Avx.Store(d + 7 * nr, Avx.Permute2x128(u3, u7, 0x31));
                }
            }
        }
    }
}
