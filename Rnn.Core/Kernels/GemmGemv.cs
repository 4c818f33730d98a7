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

    /// <summary>
    /// c (1, n)[j0..j1) = alpha·a·op(B) + beta·c with B prepacked in panels: the micro-kernel's arithmetic
    /// (per k block, Σ fma in p order from 0, then alpha·acc + beta·c) on one row, several panels at a time so
    /// that enough accumulators hide the FMA latency; B is streamed once, contiguously.
    /// </summary>
    private static void GemvPacked(ref Job g, int j0, int j1)
    {
        int k = g.K, nr = MicroCols;
        int kBlocks = (k + KC - 1) / KC;
        int kcMax = (k + kBlocks - 1) / kBlocks;
        nint npad = RoundUp(g.N, nr);
        int group = Dispatch.Isa == 3 ? 8 : 4;   // panels per pass
        float* tile = stackalloc float[8 * 32];
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            float beta = pc == 0 ? g.Beta : 1f;
            float* x = g.A + pc;
            float* block = g.PB + pc * npad;
            for (int j = j0; j < j1;)
            {
                // Micro-kernel panels: up to `group` panels of (kc, nr), kc·nr apart. One-row layout (WideB): the same
                // columns inside one (kc, w) run, rows w apart, so the loop below streams B sequentially.
                int panels, jEnd; float* p0; nint ps, rs;
                if (g.WideB == 0) { panels = Math.Min(group, (j1 - j + nr - 1) / nr); jEnd = Math.Min(j1, j + group * nr); p0 = block + (nint)j * kc; ps = (nint)nr * kc; rs = nr; }
                else
                {
                    int js = j / g.WideB * g.WideB, w = Math.Min(g.WideB, (int)npad - js);
                    jEnd = Math.Min(j1, js + w);
                    panels = (jEnd - j + nr - 1) / nr;
                    p0 = block + (nint)js * kc + (j - js); ps = nr; rs = w;
                }
                if (Dispatch.Isa == 3) Panels512(tile, x, p0, kc, panels, ps, rs);
                else if (Dispatch.Isa == 2) Panels256(tile, x, p0, kc, panels, ps, rs);
                else PanelsScalar(tile, x, p0, kc, panels * nr, nr);
                int cols = jEnd - j;
                float* cj = g.C + j;
                int q = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    // Out() eight at a time: the same unfused multiplies and add, so the same bits.
                    var va = Vector256.Create(g.Alpha); var vb = Vector256.Create(beta);
                    for (; q + 8 <= cols; q += 8)
                    {
                        var acc = Vector256.Load(tile + q) * va;
                        (beta == 0f ? acc : acc + Vector256.Load(cj + q) * vb).Store(cj + q);
                    }
                }
                for (; q < cols; q++) cj[q] = Out(tile[q], g.Alpha, beta, cj + q);
                j = jEnd;
            }
        }
    }

    /// <summary>
    /// tile[0..panels·32) = Σ_p x[p]·panel[p] over up to eight 32-column panels at p0, p0 + ps, ..., whose row p
    /// starts p·rs after the panel's start (micro-kernel panels: ps = 32·kc, rs = 32; one-row layout: ps = 32, rs = w).
    /// </summary>
    private static void Panels512(float* tile, float* x, float* p0, int kc, int panels, nint ps, nint rs)
    {
        // Sixteen accumulators: enough independent FMA chains to cover the FMA latency at two per cycle.
        nint s = ps;
        float* q1 = panels > 1 ? p0 + s : p0, q2 = panels > 2 ? p0 + 2 * s : p0, q3 = panels > 3 ? p0 + 3 * s : p0;
        float* q4 = panels > 4 ? p0 + 4 * s : p0, q5 = panels > 5 ? p0 + 5 * s : p0, q6 = panels > 6 ? p0 + 6 * s : p0, q7 = panels > 7 ? p0 + 7 * s : p0;
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        Vector512<float> e0 = default, e1 = default, f0 = default, f1 = default, g0 = default, g1 = default, h0 = default, h1 = default;
        for (int p = 0; p < kc; p++)
        {
            var xp = Vector512.Create(x[p]);
            nint o = p * rs;
            a0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(p0 + o), a0); a1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(p0 + o + 16), a1);
            b0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q1 + o), b0); b1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q1 + o + 16), b1);
            c0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q2 + o), c0); c1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q2 + o + 16), c1);
            d0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q3 + o), d0); d1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q3 + o + 16), d1);
            e0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q4 + o), e0); e1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q4 + o + 16), e1);
            f0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q5 + o), f0); f1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q5 + o + 16), f1);
            g0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q6 + o), g0); g1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q6 + o + 16), g1);
            h0 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q7 + o), h0); h1 = Vector512.FusedMultiplyAdd(xp, Vector512.Load(q7 + o + 16), h1);
        }
        a0.Store(tile); a1.Store(tile + 16); b0.Store(tile + 32); b1.Store(tile + 48);
        c0.Store(tile + 64); c1.Store(tile + 80); d0.Store(tile + 96); d1.Store(tile + 112);
        e0.Store(tile + 128); e1.Store(tile + 144); f0.Store(tile + 160); f1.Store(tile + 176);
        g0.Store(tile + 192); g1.Store(tile + 208); h0.Store(tile + 224); h1.Store(tile + 240);
    }

    /// <summary>As <see cref="Panels512"/> for 16-column panels (micro-kernel panels: ps = 16·kc, rs = 16).</summary>
    private static void Panels256(float* tile, float* x, float* p0, int kc, int panels, nint ps, nint rs)
    {
        nint s = ps;
        float* q1 = panels > 1 ? p0 + s : p0, q2 = panels > 2 ? p0 + 2 * s : p0, q3 = panels > 3 ? p0 + 3 * s : p0;
        Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        for (int p = 0; p < kc; p++)
        {
            var xp = Vector256.Create(x[p]);
            nint o = p * rs;
            a0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(p0 + o), a0); a1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(p0 + o + 8), a1);
            b0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q1 + o), b0); b1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q1 + o + 8), b1);
            c0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q2 + o), c0); c1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q2 + o + 8), c1);
            d0 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q3 + o), d0); d1 = Vector256.FusedMultiplyAdd(xp, Vector256.Load(q3 + o + 8), d1);
        }
        a0.Store(tile); a1.Store(tile + 8); b0.Store(tile + 16); b1.Store(tile + 24);
        c0.Store(tile + 32); c1.Store(tile + 40); d0.Store(tile + 48); d1.Store(tile + 56);
    }

    /// <summary>Scalar panels (Vector128 and scalar paths): the same sums with the kernels' multiply-add.</summary>
    private static void PanelsScalar(float* tile, float* x, float* p0, int kc, int cols, int nr)
    {
        for (int q = 0; q < cols; q++)
        {
            float* col = p0 + (nint)(q / nr) * nr * kc + q % nr;
            float acc = 0f;
            for (int p = 0; p < kc; p++) acc = Madd(x[p], col[(nint)p * nr], acc);
            tile[q] = acc;
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
