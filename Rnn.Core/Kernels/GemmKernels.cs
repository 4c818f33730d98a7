// The kernels are regular by construction (one line per row of the tile); they were written by a small script.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// A register-blocked micro-kernel: C (MR, NR) = alpha·Σ_p a[p]·b[p] + beta·C, where a is a packed A panel
    /// (MR floats per p) and b's row p starts at b + p·sb (NR floats). Every output element is accumulated in
    /// p order in its own lane, so the result does not depend on where the tile sits in C.
    /// </summary>
    internal interface IMicroKernel
    {
        static abstract int MR { get; }
        static abstract int NR { get; }
        static abstract void Run(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta);
    }

    /// <summary>AVX-512: 12 rows x 32 columns, 24 zmm accumulators.</summary>
    internal readonly struct Kernel512 : IMicroKernel
    {
        public static int MR => 12;
        public static int NR => 32;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        {
            // Start fetching the C tile now: it is read (beta != 0) and written after the k loop.
            if (Sse.IsSupported)
                for (int i = 0; i < 12; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 31); }
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
            // Unrolled by two: half the loop overhead per FMA.
            int p = 0;
            for (; p + 2 <= kc; p += 2)
            {
                float* an = a + sa; // the next p's A values
                {
                var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
                var a0 = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
                var a6 = Vector512.Create(a[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
                var a7 = Vector512.Create(a[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
                var a8 = Vector512.Create(a[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
                var a9 = Vector512.Create(a[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
                var a10 = Vector512.Create(a[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
                var a11 = Vector512.Create(a[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
                }
                b += sb;
                {
                var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
                var a0 = Vector512.Create(an[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector512.Create(an[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector512.Create(an[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector512.Create(an[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector512.Create(an[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector512.Create(an[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
                var a6 = Vector512.Create(an[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
                var a7 = Vector512.Create(an[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
                var a8 = Vector512.Create(an[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
                var a9 = Vector512.Create(an[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
                var a10 = Vector512.Create(an[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
                var a11 = Vector512.Create(an[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
                }
                a += 2 * sa; b += sb;
            }
            if (p < kc)
            {
                {
                var b0 = Vector512.Load(b + 0); var b1 = Vector512.Load(b + 16);
                var a0 = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
                var a6 = Vector512.Create(a[6]); c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
                var a7 = Vector512.Create(a[7]); c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
                var a8 = Vector512.Create(a[8]); c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
                var a9 = Vector512.Create(a[9]); c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
                var a10 = Vector512.Create(a[10]); c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
                var a11 = Vector512.Create(a[11]); c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
                }
            }
            var va = Vector512.Create(alpha);
            if (beta == 0f)
            {
                (c0_0 * va).Store(c + 0 * ldc + 0); (c0_1 * va).Store(c + 0 * ldc + 16);
                (c1_0 * va).Store(c + 1 * ldc + 0); (c1_1 * va).Store(c + 1 * ldc + 16);
                (c2_0 * va).Store(c + 2 * ldc + 0); (c2_1 * va).Store(c + 2 * ldc + 16);
                (c3_0 * va).Store(c + 3 * ldc + 0); (c3_1 * va).Store(c + 3 * ldc + 16);
                (c4_0 * va).Store(c + 4 * ldc + 0); (c4_1 * va).Store(c + 4 * ldc + 16);
                (c5_0 * va).Store(c + 5 * ldc + 0); (c5_1 * va).Store(c + 5 * ldc + 16);
                (c6_0 * va).Store(c + 6 * ldc + 0); (c6_1 * va).Store(c + 6 * ldc + 16);
                (c7_0 * va).Store(c + 7 * ldc + 0); (c7_1 * va).Store(c + 7 * ldc + 16);
                (c8_0 * va).Store(c + 8 * ldc + 0); (c8_1 * va).Store(c + 8 * ldc + 16);
                (c9_0 * va).Store(c + 9 * ldc + 0); (c9_1 * va).Store(c + 9 * ldc + 16);
                (c10_0 * va).Store(c + 10 * ldc + 0); (c10_1 * va).Store(c + 10 * ldc + 16);
                (c11_0 * va).Store(c + 11 * ldc + 0); (c11_1 * va).Store(c + 11 * ldc + 16);
            }
            else
            {
                var vb = Vector512.Create(beta);
                Vector512.FusedMultiplyAdd(c0_0, va, Vector512.Load(c + 0 * ldc + 0) * vb).Store(c + 0 * ldc + 0); Vector512.FusedMultiplyAdd(c0_1, va, Vector512.Load(c + 0 * ldc + 16) * vb).Store(c + 0 * ldc + 16);
                Vector512.FusedMultiplyAdd(c1_0, va, Vector512.Load(c + 1 * ldc + 0) * vb).Store(c + 1 * ldc + 0); Vector512.FusedMultiplyAdd(c1_1, va, Vector512.Load(c + 1 * ldc + 16) * vb).Store(c + 1 * ldc + 16);
                Vector512.FusedMultiplyAdd(c2_0, va, Vector512.Load(c + 2 * ldc + 0) * vb).Store(c + 2 * ldc + 0); Vector512.FusedMultiplyAdd(c2_1, va, Vector512.Load(c + 2 * ldc + 16) * vb).Store(c + 2 * ldc + 16);
                Vector512.FusedMultiplyAdd(c3_0, va, Vector512.Load(c + 3 * ldc + 0) * vb).Store(c + 3 * ldc + 0); Vector512.FusedMultiplyAdd(c3_1, va, Vector512.Load(c + 3 * ldc + 16) * vb).Store(c + 3 * ldc + 16);
                Vector512.FusedMultiplyAdd(c4_0, va, Vector512.Load(c + 4 * ldc + 0) * vb).Store(c + 4 * ldc + 0); Vector512.FusedMultiplyAdd(c4_1, va, Vector512.Load(c + 4 * ldc + 16) * vb).Store(c + 4 * ldc + 16);
                Vector512.FusedMultiplyAdd(c5_0, va, Vector512.Load(c + 5 * ldc + 0) * vb).Store(c + 5 * ldc + 0); Vector512.FusedMultiplyAdd(c5_1, va, Vector512.Load(c + 5 * ldc + 16) * vb).Store(c + 5 * ldc + 16);
                Vector512.FusedMultiplyAdd(c6_0, va, Vector512.Load(c + 6 * ldc + 0) * vb).Store(c + 6 * ldc + 0); Vector512.FusedMultiplyAdd(c6_1, va, Vector512.Load(c + 6 * ldc + 16) * vb).Store(c + 6 * ldc + 16);
                Vector512.FusedMultiplyAdd(c7_0, va, Vector512.Load(c + 7 * ldc + 0) * vb).Store(c + 7 * ldc + 0); Vector512.FusedMultiplyAdd(c7_1, va, Vector512.Load(c + 7 * ldc + 16) * vb).Store(c + 7 * ldc + 16);
                Vector512.FusedMultiplyAdd(c8_0, va, Vector512.Load(c + 8 * ldc + 0) * vb).Store(c + 8 * ldc + 0); Vector512.FusedMultiplyAdd(c8_1, va, Vector512.Load(c + 8 * ldc + 16) * vb).Store(c + 8 * ldc + 16);
                Vector512.FusedMultiplyAdd(c9_0, va, Vector512.Load(c + 9 * ldc + 0) * vb).Store(c + 9 * ldc + 0); Vector512.FusedMultiplyAdd(c9_1, va, Vector512.Load(c + 9 * ldc + 16) * vb).Store(c + 9 * ldc + 16);
                Vector512.FusedMultiplyAdd(c10_0, va, Vector512.Load(c + 10 * ldc + 0) * vb).Store(c + 10 * ldc + 0); Vector512.FusedMultiplyAdd(c10_1, va, Vector512.Load(c + 10 * ldc + 16) * vb).Store(c + 10 * ldc + 16);
                Vector512.FusedMultiplyAdd(c11_0, va, Vector512.Load(c + 11 * ldc + 0) * vb).Store(c + 11 * ldc + 0); Vector512.FusedMultiplyAdd(c11_1, va, Vector512.Load(c + 11 * ldc + 16) * vb).Store(c + 11 * ldc + 16);
            }
        }
    }

    /// <summary>AVX2+FMA: 6 rows x 16 columns, 12 ymm accumulators (fits 16 registers).</summary>
    internal readonly struct Kernel256 : IMicroKernel
    {
        public static int MR => 6;
        public static int NR => 16;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        {
            // Start fetching the C tile now: it is read (beta != 0) and written after the k loop.
            if (Sse.IsSupported)
                for (int i = 0; i < 6; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 15); }
            Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
            Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
            Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
            Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
            Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
            Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
            // Unrolled by two: half the loop overhead per FMA.
            int p = 0;
            for (; p + 2 <= kc; p += 2)
            {
                float* an = a + sa; // the next p's A values
                {
                var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
                var a0 = Vector256.Create(a[0]); c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector256.Create(a[1]); c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector256.Create(a[2]); c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector256.Create(a[3]); c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector256.Create(a[4]); c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector256.Create(a[5]); c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
                }
                b += sb;
                {
                var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
                var a0 = Vector256.Create(an[0]); c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector256.Create(an[1]); c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector256.Create(an[2]); c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector256.Create(an[3]); c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector256.Create(an[4]); c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector256.Create(an[5]); c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
                }
                a += 2 * sa; b += sb;
            }
            if (p < kc)
            {
                {
                var b0 = Vector256.Load(b + 0); var b1 = Vector256.Load(b + 8);
                var a0 = Vector256.Create(a[0]); c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0); c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
                var a1 = Vector256.Create(a[1]); c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0); c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
                var a2 = Vector256.Create(a[2]); c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0); c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
                var a3 = Vector256.Create(a[3]); c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0); c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
                var a4 = Vector256.Create(a[4]); c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0); c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector256.Create(a[5]); c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0); c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
                }
            }
            var va = Vector256.Create(alpha);
            if (beta == 0f)
            {
                (c0_0 * va).Store(c + 0 * ldc + 0); (c0_1 * va).Store(c + 0 * ldc + 8);
                (c1_0 * va).Store(c + 1 * ldc + 0); (c1_1 * va).Store(c + 1 * ldc + 8);
                (c2_0 * va).Store(c + 2 * ldc + 0); (c2_1 * va).Store(c + 2 * ldc + 8);
                (c3_0 * va).Store(c + 3 * ldc + 0); (c3_1 * va).Store(c + 3 * ldc + 8);
                (c4_0 * va).Store(c + 4 * ldc + 0); (c4_1 * va).Store(c + 4 * ldc + 8);
                (c5_0 * va).Store(c + 5 * ldc + 0); (c5_1 * va).Store(c + 5 * ldc + 8);
            }
            else
            {
                var vb = Vector256.Create(beta);
                Vector256.FusedMultiplyAdd(c0_0, va, Vector256.Load(c + 0 * ldc + 0) * vb).Store(c + 0 * ldc + 0); Vector256.FusedMultiplyAdd(c0_1, va, Vector256.Load(c + 0 * ldc + 8) * vb).Store(c + 0 * ldc + 8);
                Vector256.FusedMultiplyAdd(c1_0, va, Vector256.Load(c + 1 * ldc + 0) * vb).Store(c + 1 * ldc + 0); Vector256.FusedMultiplyAdd(c1_1, va, Vector256.Load(c + 1 * ldc + 8) * vb).Store(c + 1 * ldc + 8);
                Vector256.FusedMultiplyAdd(c2_0, va, Vector256.Load(c + 2 * ldc + 0) * vb).Store(c + 2 * ldc + 0); Vector256.FusedMultiplyAdd(c2_1, va, Vector256.Load(c + 2 * ldc + 8) * vb).Store(c + 2 * ldc + 8);
                Vector256.FusedMultiplyAdd(c3_0, va, Vector256.Load(c + 3 * ldc + 0) * vb).Store(c + 3 * ldc + 0); Vector256.FusedMultiplyAdd(c3_1, va, Vector256.Load(c + 3 * ldc + 8) * vb).Store(c + 3 * ldc + 8);
                Vector256.FusedMultiplyAdd(c4_0, va, Vector256.Load(c + 4 * ldc + 0) * vb).Store(c + 4 * ldc + 0); Vector256.FusedMultiplyAdd(c4_1, va, Vector256.Load(c + 4 * ldc + 8) * vb).Store(c + 4 * ldc + 8);
                Vector256.FusedMultiplyAdd(c5_0, va, Vector256.Load(c + 5 * ldc + 0) * vb).Store(c + 5 * ldc + 0); Vector256.FusedMultiplyAdd(c5_1, va, Vector256.Load(c + 5 * ldc + 8) * vb).Store(c + 5 * ldc + 8);
            }
        }
    }

    /// <summary>128-bit SIMD: 6 rows x 8 columns (fused where the hardware has FMA).</summary>
    internal readonly struct Kernel128 : IMicroKernel
    {
        public static int MR => 6;
        public static int NR => 8;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        {
            // Start fetching the C tile now: it is read (beta != 0) and written after the k loop.
            if (Sse.IsSupported)
                for (int i = 0; i < 6; i++) { Sse.Prefetch0(c + i * ldc); Sse.Prefetch0(c + i * ldc + 7); }
            Vector128<float> c0_0 = default; Vector128<float> c0_1 = default;
            Vector128<float> c1_0 = default; Vector128<float> c1_1 = default;
            Vector128<float> c2_0 = default; Vector128<float> c2_1 = default;
            Vector128<float> c3_0 = default; Vector128<float> c3_1 = default;
            Vector128<float> c4_0 = default; Vector128<float> c4_1 = default;
            Vector128<float> c5_0 = default; Vector128<float> c5_1 = default;
            // Unrolled by two: half the loop overhead per FMA.
            int p = 0;
            for (; p + 2 <= kc; p += 2)
            {
                float* an = a + sa; // the next p's A values
                {
                var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4);
                var a0 = Vector128.Create(a[0]); c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
                var a1 = Vector128.Create(a[1]); c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
                var a2 = Vector128.Create(a[2]); c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
                var a3 = Vector128.Create(a[3]); c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
                var a4 = Vector128.Create(a[4]); c4_0 = Vector128.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector128.MultiplyAddEstimate(a4, b1, c4_1);
                var a5 = Vector128.Create(a[5]); c5_0 = Vector128.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector128.MultiplyAddEstimate(a5, b1, c5_1);
                }
                b += sb;
                {
                var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4);
                var a0 = Vector128.Create(an[0]); c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
                var a1 = Vector128.Create(an[1]); c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
                var a2 = Vector128.Create(an[2]); c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
                var a3 = Vector128.Create(an[3]); c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
                var a4 = Vector128.Create(an[4]); c4_0 = Vector128.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector128.MultiplyAddEstimate(a4, b1, c4_1);
                var a5 = Vector128.Create(an[5]); c5_0 = Vector128.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector128.MultiplyAddEstimate(a5, b1, c5_1);
                }
                a += 2 * sa; b += sb;
            }
            if (p < kc)
            {
                {
                var b0 = Vector128.Load(b + 0); var b1 = Vector128.Load(b + 4);
                var a0 = Vector128.Create(a[0]); c0_0 = Vector128.MultiplyAddEstimate(a0, b0, c0_0); c0_1 = Vector128.MultiplyAddEstimate(a0, b1, c0_1);
                var a1 = Vector128.Create(a[1]); c1_0 = Vector128.MultiplyAddEstimate(a1, b0, c1_0); c1_1 = Vector128.MultiplyAddEstimate(a1, b1, c1_1);
                var a2 = Vector128.Create(a[2]); c2_0 = Vector128.MultiplyAddEstimate(a2, b0, c2_0); c2_1 = Vector128.MultiplyAddEstimate(a2, b1, c2_1);
                var a3 = Vector128.Create(a[3]); c3_0 = Vector128.MultiplyAddEstimate(a3, b0, c3_0); c3_1 = Vector128.MultiplyAddEstimate(a3, b1, c3_1);
                var a4 = Vector128.Create(a[4]); c4_0 = Vector128.MultiplyAddEstimate(a4, b0, c4_0); c4_1 = Vector128.MultiplyAddEstimate(a4, b1, c4_1);
                var a5 = Vector128.Create(a[5]); c5_0 = Vector128.MultiplyAddEstimate(a5, b0, c5_0); c5_1 = Vector128.MultiplyAddEstimate(a5, b1, c5_1);
                }
            }
            var va = Vector128.Create(alpha);
            if (beta == 0f)
            {
                (c0_0 * va).Store(c + 0 * ldc + 0); (c0_1 * va).Store(c + 0 * ldc + 4);
                (c1_0 * va).Store(c + 1 * ldc + 0); (c1_1 * va).Store(c + 1 * ldc + 4);
                (c2_0 * va).Store(c + 2 * ldc + 0); (c2_1 * va).Store(c + 2 * ldc + 4);
                (c3_0 * va).Store(c + 3 * ldc + 0); (c3_1 * va).Store(c + 3 * ldc + 4);
                (c4_0 * va).Store(c + 4 * ldc + 0); (c4_1 * va).Store(c + 4 * ldc + 4);
                (c5_0 * va).Store(c + 5 * ldc + 0); (c5_1 * va).Store(c + 5 * ldc + 4);
            }
            else
            {
                var vb = Vector128.Create(beta);
                Vector128.MultiplyAddEstimate(c0_0, va, Vector128.Load(c + 0 * ldc + 0) * vb).Store(c + 0 * ldc + 0); Vector128.MultiplyAddEstimate(c0_1, va, Vector128.Load(c + 0 * ldc + 4) * vb).Store(c + 0 * ldc + 4);
                Vector128.MultiplyAddEstimate(c1_0, va, Vector128.Load(c + 1 * ldc + 0) * vb).Store(c + 1 * ldc + 0); Vector128.MultiplyAddEstimate(c1_1, va, Vector128.Load(c + 1 * ldc + 4) * vb).Store(c + 1 * ldc + 4);
                Vector128.MultiplyAddEstimate(c2_0, va, Vector128.Load(c + 2 * ldc + 0) * vb).Store(c + 2 * ldc + 0); Vector128.MultiplyAddEstimate(c2_1, va, Vector128.Load(c + 2 * ldc + 4) * vb).Store(c + 2 * ldc + 4);
                Vector128.MultiplyAddEstimate(c3_0, va, Vector128.Load(c + 3 * ldc + 0) * vb).Store(c + 3 * ldc + 0); Vector128.MultiplyAddEstimate(c3_1, va, Vector128.Load(c + 3 * ldc + 4) * vb).Store(c + 3 * ldc + 4);
                Vector128.MultiplyAddEstimate(c4_0, va, Vector128.Load(c + 4 * ldc + 0) * vb).Store(c + 4 * ldc + 0); Vector128.MultiplyAddEstimate(c4_1, va, Vector128.Load(c + 4 * ldc + 4) * vb).Store(c + 4 * ldc + 4);
                Vector128.MultiplyAddEstimate(c5_0, va, Vector128.Load(c + 5 * ldc + 0) * vb).Store(c + 5 * ldc + 0); Vector128.MultiplyAddEstimate(c5_1, va, Vector128.Load(c + 5 * ldc + 4) * vb).Store(c + 5 * ldc + 4);
            }
        }
    }

    /// <summary>Scalar 4x4 kernel for machines without SIMD.</summary>
    internal readonly struct KernelScalar : IMicroKernel
    {
        public static int MR => 4;
        public static int NR => 4;

        public static void Run(int kc, float* a, nint sa, float* b, nint sb, float* c, nint ldc, float alpha, float beta)
        {
            float c0_0 = 0; float c0_1 = 0; float c0_2 = 0; float c0_3 = 0;
            float c1_0 = 0; float c1_1 = 0; float c1_2 = 0; float c1_3 = 0;
            float c2_0 = 0; float c2_1 = 0; float c2_2 = 0; float c2_3 = 0;
            float c3_0 = 0; float c3_1 = 0; float c3_2 = 0; float c3_3 = 0;
            for (int p = 0; p < kc; p++)
            {
                float b0 = b[0]; float b1 = b[1]; float b2 = b[2]; float b3 = b[3];
                float a0 = a[0]; c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3;
                float a1 = a[1]; c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3;
                float a2 = a[2]; c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3;
                float a3 = a[3]; c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3;
                a += sa; b += sb;
            }
            c[0 * ldc + 0] = alpha * c0_0 + (beta == 0f ? 0f : beta * c[0 * ldc + 0]);
            c[0 * ldc + 1] = alpha * c0_1 + (beta == 0f ? 0f : beta * c[0 * ldc + 1]);
            c[0 * ldc + 2] = alpha * c0_2 + (beta == 0f ? 0f : beta * c[0 * ldc + 2]);
            c[0 * ldc + 3] = alpha * c0_3 + (beta == 0f ? 0f : beta * c[0 * ldc + 3]);
            c[1 * ldc + 0] = alpha * c1_0 + (beta == 0f ? 0f : beta * c[1 * ldc + 0]);
            c[1 * ldc + 1] = alpha * c1_1 + (beta == 0f ? 0f : beta * c[1 * ldc + 1]);
            c[1 * ldc + 2] = alpha * c1_2 + (beta == 0f ? 0f : beta * c[1 * ldc + 2]);
            c[1 * ldc + 3] = alpha * c1_3 + (beta == 0f ? 0f : beta * c[1 * ldc + 3]);
            c[2 * ldc + 0] = alpha * c2_0 + (beta == 0f ? 0f : beta * c[2 * ldc + 0]);
            c[2 * ldc + 1] = alpha * c2_1 + (beta == 0f ? 0f : beta * c[2 * ldc + 1]);
            c[2 * ldc + 2] = alpha * c2_2 + (beta == 0f ? 0f : beta * c[2 * ldc + 2]);
            c[2 * ldc + 3] = alpha * c2_3 + (beta == 0f ? 0f : beta * c[2 * ldc + 3]);
            c[3 * ldc + 0] = alpha * c3_0 + (beta == 0f ? 0f : beta * c[3 * ldc + 0]);
            c[3 * ldc + 1] = alpha * c3_1 + (beta == 0f ? 0f : beta * c[3 * ldc + 1]);
            c[3 * ldc + 2] = alpha * c3_2 + (beta == 0f ? 0f : beta * c[3 * ldc + 2]);
            c[3 * ldc + 3] = alpha * c3_3 + (beta == 0f ? 0f : beta * c[3 * ldc + 3]);
        }
    }
}
