// Generated like GemmKernels.cs (one line per row of the tile): the AVX-512 kernel for edge tiles.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>A compile-time int: lets the JIT specialise <see cref="Edge512{TR, TW}"/> per row and vector count.</summary>
    internal interface IConst { static abstract int Value { get; } }
    internal readonly struct K1 : IConst { public static int Value => 1; }
    internal readonly struct K2 : IConst { public static int Value => 2; }
    internal readonly struct K3 : IConst { public static int Value => 3; }
    internal readonly struct K4 : IConst { public static int Value => 4; }
    internal readonly struct K5 : IConst { public static int Value => 5; }
    internal readonly struct K6 : IConst { public static int Value => 6; }
    internal readonly struct K7 : IConst { public static int Value => 7; }
    internal readonly struct K8 : IConst { public static int Value => 8; }
    internal readonly struct K9 : IConst { public static int Value => 9; }
    internal readonly struct K10 : IConst { public static int Value => 10; }
    internal readonly struct K11 : IConst { public static int Value => 11; }
    internal readonly struct K12 : IConst { public static int Value => 12; }

    /// <summary>
    /// An edge tile of <see cref="Kernel512"/>: rows (1..12) of a packed 12-row A panel times 16 (wide = false) or
    /// 32 columns of B, so a 100-row, 100-column product runs 100 x 112 instead of 108 x 128. Each element
    /// gets the same FMA sequence as in the full kernel, so results do not depend on the tile that computed them.
    /// </summary>
    private static void Edge512(int rows, bool wide, int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
    {
        switch (rows)
        {
            case 1: if (wide) Edge512<K1, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K1, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 2: if (wide) Edge512<K2, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K2, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 3: if (wide) Edge512<K3, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K3, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 4: if (wide) Edge512<K4, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K4, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 5: if (wide) Edge512<K5, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K5, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 6: if (wide) Edge512<K6, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K6, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 7: if (wide) Edge512<K7, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K7, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 8: if (wide) Edge512<K8, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K8, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 9: if (wide) Edge512<K9, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K9, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 10: if (wide) Edge512<K10, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K10, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 11: if (wide) Edge512<K11, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K11, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 12: if (wide) Edge512<K12, K2>(kc, a, sa, b, sb, c, ldc, alpha, beta); else Edge512<K12, K1>(kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Edge512<TR, TW>(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        where TR : struct, IConst where TW : struct, IConst
    {
        bool two = TW.Value == 2;
        if (Sse.IsSupported)
            for (int i = 0; i < TR.Value; i++) { Sse.Prefetch0(c + i * ldc); if (two) Sse.Prefetch0(c + i * ldc + 31); }
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> c8_0 = default; Vector512<float> c8_1 = default;
        Vector512<float> c9_0 = default; Vector512<float> c9_1 = default;
        Vector512<float> c10_0 = default; Vector512<float> c10_1 = default;
        Vector512<float> c11_0 = default; Vector512<float> c11_1 = default;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            float* an = a + sa; // the next p's A values
            {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(a[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(a[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(a[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(a[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(a[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(a[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
            }
            b += sb;
            {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(an[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(an[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(an[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(an[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(an[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(an[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(an[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(an[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(an[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(an[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(an[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(an[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
            }
            a += 2 * sa; b += sb;
        }
        if (p < kc)
        {
            {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(a[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(a[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(a[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(a[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(a[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(a[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
            }
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            if (TR.Value > 0) { (c0_0 * va).Store(c + 0 * ldc); if (two) (c0_1 * va).Store(c + 0 * ldc + 16); }
            if (TR.Value > 1) { (c1_0 * va).Store(c + 1 * ldc); if (two) (c1_1 * va).Store(c + 1 * ldc + 16); }
            if (TR.Value > 2) { (c2_0 * va).Store(c + 2 * ldc); if (two) (c2_1 * va).Store(c + 2 * ldc + 16); }
            if (TR.Value > 3) { (c3_0 * va).Store(c + 3 * ldc); if (two) (c3_1 * va).Store(c + 3 * ldc + 16); }
            if (TR.Value > 4) { (c4_0 * va).Store(c + 4 * ldc); if (two) (c4_1 * va).Store(c + 4 * ldc + 16); }
            if (TR.Value > 5) { (c5_0 * va).Store(c + 5 * ldc); if (two) (c5_1 * va).Store(c + 5 * ldc + 16); }
            if (TR.Value > 6) { (c6_0 * va).Store(c + 6 * ldc); if (two) (c6_1 * va).Store(c + 6 * ldc + 16); }
            if (TR.Value > 7) { (c7_0 * va).Store(c + 7 * ldc); if (two) (c7_1 * va).Store(c + 7 * ldc + 16); }
            if (TR.Value > 8) { (c8_0 * va).Store(c + 8 * ldc); if (two) (c8_1 * va).Store(c + 8 * ldc + 16); }
            if (TR.Value > 9) { (c9_0 * va).Store(c + 9 * ldc); if (two) (c9_1 * va).Store(c + 9 * ldc + 16); }
            if (TR.Value > 10) { (c10_0 * va).Store(c + 10 * ldc); if (two) (c10_1 * va).Store(c + 10 * ldc + 16); }
            if (TR.Value > 11) { (c11_0 * va).Store(c + 11 * ldc); if (two) (c11_1 * va).Store(c + 11 * ldc + 16); }
        }
        else
        {
            var vb = Vector512.Create(beta);
            if (TR.Value > 0) { Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc) * vb).Store(c + 0 * ldc); if (two) Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb).Store(c + 0 * ldc + 16); }
            if (TR.Value > 1) { Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc) * vb).Store(c + 1 * ldc); if (two) Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb).Store(c + 1 * ldc + 16); }
            if (TR.Value > 2) { Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc) * vb).Store(c + 2 * ldc); if (two) Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb).Store(c + 2 * ldc + 16); }
            if (TR.Value > 3) { Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc) * vb).Store(c + 3 * ldc); if (two) Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb).Store(c + 3 * ldc + 16); }
            if (TR.Value > 4) { Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc) * vb).Store(c + 4 * ldc); if (two) Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb).Store(c + 4 * ldc + 16); }
            if (TR.Value > 5) { Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc) * vb).Store(c + 5 * ldc); if (two) Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb).Store(c + 5 * ldc + 16); }
            if (TR.Value > 6) { Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc) * vb).Store(c + 6 * ldc); if (two) Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16) * vb).Store(c + 6 * ldc + 16); }
            if (TR.Value > 7) { Vector512.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc) * vb).Store(c + 7 * ldc); if (two) Vector512.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 16) * vb).Store(c + 7 * ldc + 16); }
            if (TR.Value > 8) { Vector512.FusedMultiplyAdd(c8_0, va, Vector512.Load(c + 8 * ldc) * vb).Store(c + 8 * ldc); if (two) Vector512.FusedMultiplyAdd(c8_1, va, Vector512.Load(c + 8 * ldc + 16) * vb).Store(c + 8 * ldc + 16); }
            if (TR.Value > 9) { Vector512.FusedMultiplyAdd(c9_0, va, Vector512.Load(c + 9 * ldc) * vb).Store(c + 9 * ldc); if (two) Vector512.FusedMultiplyAdd(c9_1, va, Vector512.Load(c + 9 * ldc + 16) * vb).Store(c + 9 * ldc + 16); }
            if (TR.Value > 10) { Vector512.FusedMultiplyAdd(c10_0, va, Vector512.Load(c + 10 * ldc) * vb).Store(c + 10 * ldc); if (two) Vector512.FusedMultiplyAdd(c10_1, va, Vector512.Load(c + 10 * ldc + 16) * vb).Store(c + 10 * ldc + 16); }
            if (TR.Value > 11) { Vector512.FusedMultiplyAdd(c11_0, va, Vector512.Load(c + 11 * ldc) * vb).Store(c + 11 * ldc); if (two) Vector512.FusedMultiplyAdd(c11_1, va, Vector512.Load(c + 11 * ldc + 16) * vb).Store(c + 11 * ldc + 16); }
        }
    }

    /// <summary>
    /// An edge tile of at most 8 columns: vectorised over the panel's 12 rows instead (one A load and one
    /// broadcast of B per column and p, where a 16-wide tile needs 12 broadcasts of A per p whatever the width),
    /// the same FMA chain per element, written straight to the rows x cols of C that exist.
    /// </summary>
    private static void NarrowEdge512(int cols, int rows, int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
    {
        switch (cols)
        {
            case 1: NarrowEdge512<K1>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 2: NarrowEdge512<K2>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 3: NarrowEdge512<K3>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 4: NarrowEdge512<K4>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 5: NarrowEdge512<K5>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 6: NarrowEdge512<K6>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 7: NarrowEdge512<K7>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            case 8: NarrowEdge512<K8>(rows, kc, a, sa, b, sb, c, ldc, alpha, beta); break;
            default: throw new ArgumentOutOfRangeException(nameof(cols));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowEdge512<TC>(int rows, int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        where TC : struct, IConst
    {
        Vector256<float> l0 = default; Vector128<float> h0 = default;
        Vector256<float> l1 = default; Vector128<float> h1 = default;
        Vector256<float> l2 = default; Vector128<float> h2 = default;
        Vector256<float> l3 = default; Vector128<float> h3 = default;
        Vector256<float> l4 = default; Vector128<float> h4 = default;
        Vector256<float> l5 = default; Vector128<float> h5 = default;
        Vector256<float> l6 = default; Vector128<float> h6 = default;
        Vector256<float> l7 = default; Vector128<float> h7 = default;
        for (int p = 0; p < kc; p++, a += sa, b += sb)
        {
            var al = Vector256.Load(a); var ah = Vector128.Load(a + 8);
            if (TC.Value > 0) { var bj = Avx.BroadcastScalarToVector256(b + 0); l0 = Vector256.FusedMultiplyAdd(al, bj, l0); h0 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h0); }
            if (TC.Value > 1) { var bj = Avx.BroadcastScalarToVector256(b + 1); l1 = Vector256.FusedMultiplyAdd(al, bj, l1); h1 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h1); }
            if (TC.Value > 2) { var bj = Avx.BroadcastScalarToVector256(b + 2); l2 = Vector256.FusedMultiplyAdd(al, bj, l2); h2 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h2); }
            if (TC.Value > 3) { var bj = Avx.BroadcastScalarToVector256(b + 3); l3 = Vector256.FusedMultiplyAdd(al, bj, l3); h3 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h3); }
            if (TC.Value > 4) { var bj = Avx.BroadcastScalarToVector256(b + 4); l4 = Vector256.FusedMultiplyAdd(al, bj, l4); h4 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h4); }
            if (TC.Value > 5) { var bj = Avx.BroadcastScalarToVector256(b + 5); l5 = Vector256.FusedMultiplyAdd(al, bj, l5); h5 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h5); }
            if (TC.Value > 6) { var bj = Avx.BroadcastScalarToVector256(b + 6); l6 = Vector256.FusedMultiplyAdd(al, bj, l6); h6 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h6); }
            if (TC.Value > 7) { var bj = Avx.BroadcastScalarToVector256(b + 7); l7 = Vector256.FusedMultiplyAdd(al, bj, l7); h7 = Vector128.FusedMultiplyAdd(ah, bj.GetLower(), h7); }
        }
        float* t = stackalloc float[8 * 12];
        if (TC.Value > 0) { l0.Store(t + 0 * 12); h0.Store(t + 0 * 12 + 8); }
        if (TC.Value > 1) { l1.Store(t + 1 * 12); h1.Store(t + 1 * 12 + 8); }
        if (TC.Value > 2) { l2.Store(t + 2 * 12); h2.Store(t + 2 * 12 + 8); }
        if (TC.Value > 3) { l3.Store(t + 3 * 12); h3.Store(t + 3 * 12 + 8); }
        if (TC.Value > 4) { l4.Store(t + 4 * 12); h4.Store(t + 4 * 12 + 8); }
        if (TC.Value > 5) { l5.Store(t + 5 * 12); h5.Store(t + 5 * 12 + 8); }
        if (TC.Value > 6) { l6.Store(t + 6 * 12); h6.Store(t + 6 * 12 + 8); }
        if (TC.Value > 7) { l7.Store(t + 7 * 12); h7.Store(t + 7 * 12 + 8); }
        StoreSums(c, ldc, t, 1, 12, rows, TC.Value, alpha, beta);
    }
}
