// Generated like GemmKernels.cs (one line per row of the tile): the AVX-512 kernel reading A's rows in place.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// <see cref="Edge512{TR, TW}"/> with A read in place from its rows (A stored (m, k), row i at a + i·lda) instead
    /// of from a packed panel: a product with few column panels (an RNN step's h·W_hhᵀ, the backward's dG·W_hh)
    /// no longer copies A into panels before using each value only a few times. Rows are addressed from three
    /// base pointers (rows 0-3, 4-7, 8-11) and the strides L, 2L, 3L, so no row needs a register of its own.
    /// Each element gets the packed kernels' FMA sequence, so results do not depend on which kernel ran.
    /// </summary>
    private static void Rows512(int rows, bool wide, int kc, float* a, nint lda, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
    {
        switch (rows)
        {
            case 1: if (wide) Rows512<K1, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K1, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 2: if (wide) Rows512<K2, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K2, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 3: if (wide) Rows512<K3, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K3, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 4: if (wide) Rows512<K4, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K4, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 5: if (wide) Rows512<K5, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K5, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 6: if (wide) Rows512<K6, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K6, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 7: if (wide) Rows512<K7, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K7, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 8: if (wide) Rows512<K8, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K8, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 9: if (wide) Rows512<K9, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K9, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 10: if (wide) Rows512<K10, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K10, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 11: if (wide) Rows512<K11, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K11, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 12: if (wide) Rows512<K12, K2>(kc, a, lda, b, sb, c, ldc, alpha, beta); else Rows512<K12, K1>(kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows512<TR, TW>(int kc, float* a, nint lda, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
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
        nint L = lda * sizeof(float), L3 = 3 * L;
        byte* q0 = (byte*)a, q4 = q0 + 4 * L, q8 = q0 + 8 * L;
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(*(float*)(q0)); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(*(float*)(q0 + L)); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(*(float*)(q0 + 2 * L)); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(*(float*)(q0 + L3)); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(*(float*)(q4)); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(*(float*)(q4 + L)); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(*(float*)(q4 + 2 * L)); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(*(float*)(q4 + L3)); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(*(float*)(q8)); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(*(float*)(q8 + L)); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(*(float*)(q8 + 2 * L)); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(*(float*)(q8 + L3)); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
            }
            b += sb;
            {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(*(float*)(q0 + 4)); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(*(float*)(q0 + L + 4)); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(*(float*)(q0 + 2 * L + 4)); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(*(float*)(q0 + L3 + 4)); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(*(float*)(q4 + 4)); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(*(float*)(q4 + L + 4)); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(*(float*)(q4 + 2 * L + 4)); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(*(float*)(q4 + L3 + 4)); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(*(float*)(q8 + 4)); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(*(float*)(q8 + L + 4)); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(*(float*)(q8 + 2 * L + 4)); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(*(float*)(q8 + L3 + 4)); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
            }
            b += sb;
            q0 += 8; q4 += 8; q8 += 8;
        }
        if (p < kc)
        {
            var b0 = Vector512.Load(b); var b1 = two ? Vector512.Load(b + 16) : default;
            if (TR.Value > 0) { var a0 = Vector512.Create(*(float*)(q0)); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); if (two) c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1); }
            if (TR.Value > 1) { var a1 = Vector512.Create(*(float*)(q0 + L)); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); if (two) c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1); }
            if (TR.Value > 2) { var a2 = Vector512.Create(*(float*)(q0 + 2 * L)); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); if (two) c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1); }
            if (TR.Value > 3) { var a3 = Vector512.Create(*(float*)(q0 + L3)); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); if (two) c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1); }
            if (TR.Value > 4) { var a4 = Vector512.Create(*(float*)(q4)); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); if (two) c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1); }
            if (TR.Value > 5) { var a5 = Vector512.Create(*(float*)(q4 + L)); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); if (two) c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1); }
            if (TR.Value > 6) { var a6 = Vector512.Create(*(float*)(q4 + 2 * L)); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); if (two) c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1); }
            if (TR.Value > 7) { var a7 = Vector512.Create(*(float*)(q4 + L3)); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); if (two) c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1); }
            if (TR.Value > 8) { var a8 = Vector512.Create(*(float*)(q8)); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); if (two) c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1); }
            if (TR.Value > 9) { var a9 = Vector512.Create(*(float*)(q8 + L)); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); if (two) c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1); }
            if (TR.Value > 10) { var a10 = Vector512.Create(*(float*)(q8 + 2 * L)); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); if (two) c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1); }
            if (TR.Value > 11) { var a11 = Vector512.Create(*(float*)(q8 + L3)); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); if (two) c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1); }
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
    /// The last panel of at most 8 columns with A read from its rows (<see cref="Rows512"/>'s addressing): one 8-lane
    /// accumulator per row, the same FMA chain per element as every other kernel, so a 100-wide product reads A in
    /// place instead of packing all of it for the sake of its last 4 columns. B is a packed (zero-padded) panel.
    /// </summary>
    private static void NarrowRows512(int cols, int rows, int kc, float* a, nint lda, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
    {
        switch (rows)
        {
            case 1: NarrowRows512<K1>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 2: NarrowRows512<K2>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 3: NarrowRows512<K3>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 4: NarrowRows512<K4>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 5: NarrowRows512<K5>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 6: NarrowRows512<K6>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 7: NarrowRows512<K7>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 8: NarrowRows512<K8>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 9: NarrowRows512<K9>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 10: NarrowRows512<K10>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 11: NarrowRows512<K11>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            case 12: NarrowRows512<K12>(cols, kc, a, lda, b, sb, c, ldc, alpha, beta); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowRows512<TR>(int cols, int kc, float* a, nint lda, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        where TR : struct, IConst
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        Vector256<float> c6 = default, c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        nint L = lda * sizeof(float), L3 = 3 * L;
        byte* q0 = (byte*)a, q4 = q0 + 4 * L, q8 = q0 + 8 * L;
        for (int p = 0; p < kc; p++, b += sb, q0 += 4, q4 += 4, q8 += 4)
        {
            var bv = Vector256.Load(b);
            if (TR.Value > 0) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q0)), bv, c0);
            if (TR.Value > 1) c1 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q0 + L)), bv, c1);
            if (TR.Value > 2) c2 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q0 + 2 * L)), bv, c2);
            if (TR.Value > 3) c3 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q0 + L3)), bv, c3);
            if (TR.Value > 4) c4 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q4)), bv, c4);
            if (TR.Value > 5) c5 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q4 + L)), bv, c5);
            if (TR.Value > 6) c6 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q4 + 2 * L)), bv, c6);
            if (TR.Value > 7) c7 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q4 + L3)), bv, c7);
            if (TR.Value > 8) c8 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q8)), bv, c8);
            if (TR.Value > 9) c9 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q8 + L)), bv, c9);
            if (TR.Value > 10) c10 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q8 + 2 * L)), bv, c10);
            if (TR.Value > 11) c11 = Vector256.FusedMultiplyAdd(Vector256.Create(*(float*)(q8 + L3)), bv, c11);
        }
        float* t = stackalloc float[12 * 8];
        if (TR.Value > 0) c0.Store(t + 0 * 8);
        if (TR.Value > 1) c1.Store(t + 1 * 8);
        if (TR.Value > 2) c2.Store(t + 2 * 8);
        if (TR.Value > 3) c3.Store(t + 3 * 8);
        if (TR.Value > 4) c4.Store(t + 4 * 8);
        if (TR.Value > 5) c5.Store(t + 5 * 8);
        if (TR.Value > 6) c6.Store(t + 6 * 8);
        if (TR.Value > 7) c7.Store(t + 7 * 8);
        if (TR.Value > 8) c8.Store(t + 8 * 8);
        if (TR.Value > 9) c9.Store(t + 9 * 8);
        if (TR.Value > 10) c10.Store(t + 10 * 8);
        if (TR.Value > 11) c11.Store(t + 11 * 8);
        StoreSums(c, ldc, t, 8, 1, TR.Value, cols, alpha, beta);
    }
}
