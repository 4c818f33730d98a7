using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

/// <summary>bfloat16: the top 16 bits of a float32 (8-bit mantissa), rounded to nearest even.</summary>
internal static class BFloat16
{
    /// <summary>Round to nearest even; NaN stays a (quiet) NaN, ±∞ stays ±∞, overflow rounds to ±∞.</summary>
    public static ushort FromFloat(float f)
    {
        uint b = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((b >> 16) | 0x40);
        return (ushort)((b + 0x7FFFu + ((b >> 16) & 1)) >> 16);
    }

    /// <summary>Exact widening: the 16 bits become the float's top half.</summary>
    public static float ToFloat(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);
}

/// <summary>
/// A weight W (N, K) (output rows × inputs) in reduced precision, laid out for <see cref="QuantGemv"/>: outputs in
/// groups of 64, and within a group, for each k block, the 64 outputs' weights side by side (bf16: pairs of k,
/// int8: quads of k, the dot-product instructions' operand shape). Padded outputs and inputs hold zero weights.
/// </summary>
internal sealed class QuantMatrix
{
    public const int Group = 64;
    public readonly int N, K, Groups, KBlocks;
    public readonly bool Int8;
    /// <summary>bf16: (Groups, K/2, 64, 2) ushorts.</summary>
    public readonly ushort[] Bf16 = [];
    /// <summary>int8: (Groups, K/4, 64, 4) sbytes, per-row scales (N padded) and 128·Σ_k wq (the zero point's share).</summary>
    public readonly sbyte[] Q = [];
    /// <summary>Where the weights start in <see cref="Q"/> or <see cref="Bf16"/>: a 64-byte boundary of the pinned array, so a
    /// vector load splits no cache line whatever address the GC gave the array.</summary>
    public readonly int Base;
    private readonly long _length;
    public readonly float[] Scale = [];
    public readonly int[] Corr = [];

    public QuantMatrix(int n, int k, bool int8)
    {
        N = n; K = k; Int8 = int8;
        Groups = (n + Group - 1) / Group;
        KBlocks = int8 ? (k + 3) / 4 : (k + 1) / 2;
        long len = (long)Groups * KBlocks * Group * (int8 ? 4 : 2);
        if (len > Array.MaxLength) throw new ArgumentException($"n, k: expected a quantised weight of at most {Array.MaxLength} elements, got ({n}, {k}).", nameof(n));
        _length = len;
        if (int8)
        {
            (Q, Base) = Aligned.Pinned<sbyte>((int)len, zeroed: true);
            Scale = new float[Groups * Group]; Corr = new int[Groups * Group];
        }
        else
        {
            (Bf16, Base) = Aligned.Pinned<ushort>((int)len, zeroed: true);
        }
    }

    /// <summary>The int8 weights without the alignment padding.</summary>
    public ReadOnlySpan<sbyte> QWeights => Q.AsSpan(Base, Int8 ? (int)_length : 0);

    /// <summary>Bytes of weight data (what a step streams).</summary>
    public long Bytes => Int8 ? _length + 8L * Scale.Length : 2L * _length;

    private int Index(int j, int k)
    {
        int per = Int8 ? 4 : 2;
        return (((j / Group) * KBlocks + k / per) * Group + j % Group) * per + k % per;
    }

    /// <summary>Quantises W (N, K) row-major into this layout (int8: <see cref="QuantiseRows"/>'s bits, row by row).</summary>
    public void Pack(ReadOnlySpan<float> w)
    {
        if (w.Length < N * K) throw new ArgumentException($"w: expected at least N·K = {N * K} elements, got {w.Length}.", nameof(w));
        if (!Int8)
        {
            for (int j = 0; j < N; j++)
            {
                // Row j's pairs sit 2·Group apart from its first (Index without a division per element: start-up cost).
                var row = w.Slice(j * K, K);
                int o = RowStart(j);
                for (int k = 0; k < K; k++) Bf16[Base + o + (k >> 1) * (2 * Group) + (k & 1)] = BFloat16.FromFloat(row[k]);
            }
            return;
        }
        Span<sbyte> q = K <= 4096 ? stackalloc sbyte[K] : new sbyte[K];
        for (int j = 0; j < N; j++) PackInt8Row(j, q, QuantiseRow(w.Slice(j * K, K), q, j));
    }

    // Index(j, 0): where row j's first block starts.
    private int RowStart(int j) => ((j / Group) * KBlocks * Group + j % Group) * (Int8 ? 4 : 2);

    // Row j's quantised weights (K) and scale into the layout; its quads sit 4·Group apart.
    private void PackInt8Row(int j, ReadOnlySpan<sbyte> q, float scale)
    {
        int o = RowStart(j), sum = 0;
        for (int k = 0; k < K; k++) { Q[Base + o + (k >> 2) * (4 * Group) + (k & 3)] = q[k]; sum += q[k]; }
        Scale[j] = scale; Corr[j] = 128 * sum;
    }

    /// <summary>Quantises W (rows, cols) row-major per row as <see cref="Pack"/> does: q (rows, cols) and scale (rows).</summary>
    public static void QuantiseRows(ReadOnlySpan<float> w, int rows, int cols, Span<sbyte> q, Span<float> scale)
    {
        for (int j = 0; j < rows; j++) scale[j] = QuantiseRow(w.Slice(j * cols, cols), q.Slice(j * cols, cols), j);
    }

    // Row j of W (its K weights w) into q with one symmetric scale max|w|/127 (returned).
    private static float QuantiseRow(ReadOnlySpan<float> w, Span<sbyte> q, int j)
    {
        float max = 0;
        foreach (float v in w) max = Math.Max(max, Math.Abs(v));
        if (!float.IsFinite(max)) throw new ArgumentException($"w: expected finite weights to quantise, got {max} in row {j}.", nameof(w));
        float s = max / 127;
        // in double, so |w − q·s| ≤ s/2 holds exactly (a float w/s could round past the half)
        for (int k = 0; k < w.Length; k++)
            q[k] = (sbyte)(s == 0 ? 0 : (int)Math.Clamp(Math.Round(w[k] / (double)s, MidpointRounding.ToEven), -127, 127));
        return s;
    }

    /// <summary>Packs already-quantised int8 rows (N, K) with their scales (a checkpoint's I8 tensor).</summary>
    public void PackInt8(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scale)
    {
        for (int j = 0; j < N; j++) PackInt8Row(j, q.Slice(j * K, K), scale[j]);
    }

    /// <summary>The weight as the kernels see it (dequantised), W (N, K) row-major: for tests and bounds.</summary>
    public float Dequantised(int j, int k) => Int8 ? Q[Base + Index(j, k)] * Scale[j] : BFloat16.ToFloat(Bf16[Base + Index(j, k)]);
    public sbyte QuantisedInt8(int j, int k) => Q[Base + Index(j, k)];
}

/// <summary>
/// Matrix-vector products c (n, N) = x (n, K)·Wᵀ (+ c) over a <see cref="QuantMatrix"/>, for the streaming step.
/// bf16: the weights widened to float32 in registers (a shift), float32 FMAs, two sums per output (even and odd k),
/// added at the end: every path (Vector512, Vector256, scalar) adds in that order, so all give the same bits.
/// int8: each row of x quantised symmetrically per call (s = max|x|/127), int32 dot products (exact, so every path
/// gives the same integers: VNNI u8×s8 with zero point 128, AVX2 widened to int16, scalar), dequantised as
/// (float)Σ · s_x · s_w[row].
/// </summary>
internal static class QuantGemv
{
    /// <summary>Kernel paths: 3 = Vector512, 2 = Vector256 (AVX2 + FMA; int8: AVX-VNNI), 1 = Vector256 AVX2 without VNNI (int8), 0 = scalar.</summary>
    internal static int Bf16Path => Dispatch.Isa == 3 ? 3 : Avx2.IsSupported && Fma.IsSupported ? 2 : 0;
    internal static int Int8Path => AvxVnni.IsSupported ? 2 : Avx2.IsSupported ? 1 : 0;

    private static float MaxAbs(ReadOnlySpan<float> x)
    {
        float m = 0;
        int k = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            var v = Vector256<float>.Zero;
            for (; k + 8 <= x.Length; k += 8) v = Vector256.Max(v, Vector256.Abs(Vector256.Create(x.Slice(k, 8))));
            for (int e = 0; e < 8; e++) m = Math.Max(m, v.GetElement(e));
        }
        for (; k < x.Length; k++) m = Math.Max(m, Math.Abs(x[k]));
        return m;
    }

    /// <summary>c (n, N) = x (n, K)·Wᵀ, or c += it with <paramref name="accumulate"/>; c rows ldc apart (0: N).</summary>
    public static void MultiplyBf16(Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, bool accumulate, int n, int ldc = 0)
        => MultiplyBf16(Bf16Path, c, x, w, accumulate, n, ldc);

    internal static void MultiplyBf16(int path, Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, bool accumulate, int n, int ldc)
    {
        int N = w.N, K = w.K;
        if (ldc == 0) ldc = N;
        Check(c, x, n, N, K, ldc);
        Span<float> tmp = stackalloc float[QuantMatrix.Group];
        for (int r = 0; r < n; r++)
        {
            var xr = x.Slice(r * K, K);
            for (int g = 0; g < w.Groups; g++)
            {
                int j0 = g * QuantMatrix.Group, cnt = Math.Min(QuantMatrix.Group, N - j0);
                var dst = cnt == QuantMatrix.Group ? c.Slice(r * ldc + j0, cnt) : tmp;
                if (cnt != QuantMatrix.Group) c.Slice(r * ldc + j0, cnt).CopyTo(tmp);
                if (path == 3) Bf16Group512(dst, xr, w, g, accumulate);
                else if (path == 2) Bf16Group256(dst, xr, w, g, accumulate);
                else Bf16GroupScalar(dst, xr, w, g, accumulate);
                if (cnt != QuantMatrix.Group) tmp[..cnt].CopyTo(c.Slice(r * ldc + j0, cnt));
            }
        }
    }

    private static void Check(Span<float> c, ReadOnlySpan<float> x, int n, int N, int K, int ldc)
    {
        if (x.Length < n * K) throw new ArgumentException($"x: expected at least n·K = {n * K} elements, got {x.Length}.", nameof(x));
        if (n > 0 && c.Length < (n - 1) * ldc + N) throw new ArgumentException($"c: expected at least {(n - 1) * ldc + N} elements, got {c.Length}.", nameof(c));
    }

    // The reference: one output at a time, the SIMD paths' order (even k and odd k summed apart, then added).
    private static void Bf16GroupScalar(Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, int g, bool acc)
    {
        int K = w.K, kb = w.KBlocks;
        var d = w.Bf16.AsSpan(w.Base);
        for (int jj = 0; jj < QuantMatrix.Group; jj++)
        {
            float se = 0, so = 0;
            for (int p = 0; p < kb; p++)
            {
                int i = ((g * kb + p) * QuantMatrix.Group + jj) * 2;
                float x0 = x[2 * p], x1 = 2 * p + 1 < K ? x[2 * p + 1] : 0;
                se = MathF.FusedMultiplyAdd(BFloat16.ToFloat(d[i]), x0, se);
                so = MathF.FusedMultiplyAdd(BFloat16.ToFloat(d[i + 1]), x1, so);
            }
            float s = se + so;
            c[jj] = acc ? c[jj] + s : s;
        }
    }

    private static void Bf16Group512(Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, int g, bool acc)
    {
        int K = w.K, kb = w.KBlocks;
        ref ushort d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Bf16), w.Base);
        ref float xr = ref MemoryMarshal.GetReference(x);
        var hi = Vector512.Create(0xFFFF0000u);
        Vector512<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        nuint baseIdx = (nuint)(g * kb) * QuantMatrix.Group * 2;
        for (int p = 0; p < kb; p++)
        {
            var x0 = Vector512.Create(Unsafe.Add(ref xr, 2 * p));
            var x1 = Vector512.Create(2 * p + 1 < K ? Unsafe.Add(ref xr, 2 * p + 1) : 0f);
            nuint o = baseIdx + (nuint)p * QuantMatrix.Group * 2;
            var w0 = Vector512.LoadUnsafe(ref d, o).AsUInt32();
            var w1 = Vector512.LoadUnsafe(ref d, o + 32).AsUInt32();
            var w2 = Vector512.LoadUnsafe(ref d, o + 64).AsUInt32();
            var w3 = Vector512.LoadUnsafe(ref d, o + 96).AsUInt32();
            e0 = Avx512F.FusedMultiplyAdd(Avx512F.ShiftLeftLogical(w0, 16).AsSingle(), x0, e0);
            o0 = Avx512F.FusedMultiplyAdd((w0 & hi).AsSingle(), x1, o0);
            e1 = Avx512F.FusedMultiplyAdd(Avx512F.ShiftLeftLogical(w1, 16).AsSingle(), x0, e1);
            o1 = Avx512F.FusedMultiplyAdd((w1 & hi).AsSingle(), x1, o1);
            e2 = Avx512F.FusedMultiplyAdd(Avx512F.ShiftLeftLogical(w2, 16).AsSingle(), x0, e2);
            o2 = Avx512F.FusedMultiplyAdd((w2 & hi).AsSingle(), x1, o2);
            e3 = Avx512F.FusedMultiplyAdd(Avx512F.ShiftLeftLogical(w3, 16).AsSingle(), x0, e3);
            o3 = Avx512F.FusedMultiplyAdd((w3 & hi).AsSingle(), x1, o3);
        }
        ref float cr = ref MemoryMarshal.GetReference(c);
        Store512(ref cr, 0, e0 + o0, acc); Store512(ref cr, 16, e1 + o1, acc);
        Store512(ref cr, 32, e2 + o2, acc); Store512(ref cr, 48, e3 + o3, acc);
    }

    private static void Store512(ref float c, nuint at, Vector512<float> s, bool acc)
        => (acc ? Vector512.LoadUnsafe(ref c, at) + s : s).StoreUnsafe(ref c, at);

    private static void Bf16Group256(Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, int g, bool acc)
    {
        int K = w.K, kb = w.KBlocks;
        ref ushort d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Bf16), w.Base);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float cr = ref MemoryMarshal.GetReference(c);
        var hi = Vector256.Create(0xFFFF0000u);
        nuint baseIdx = (nuint)(g * kb) * QuantMatrix.Group * 2;
        // Two halves of 32 outputs: eight sums in registers at a time.
        for (nuint half = 0; half < 2; half++)
        {
            Vector256<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
            for (int p = 0; p < kb; p++)
            {
                var x0 = Vector256.Create(Unsafe.Add(ref xr, 2 * p));
                var x1 = Vector256.Create(2 * p + 1 < K ? Unsafe.Add(ref xr, 2 * p + 1) : 0f);
                nuint o = baseIdx + (nuint)p * QuantMatrix.Group * 2 + half * 64;
                var w0 = Vector256.LoadUnsafe(ref d, o).AsUInt32();
                var w1 = Vector256.LoadUnsafe(ref d, o + 16).AsUInt32();
                var w2 = Vector256.LoadUnsafe(ref d, o + 32).AsUInt32();
                var w3 = Vector256.LoadUnsafe(ref d, o + 48).AsUInt32();
                e0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w0, 16).AsSingle(), x0, e0);
                o0 = Fma.MultiplyAdd((w0 & hi).AsSingle(), x1, o0);
                e1 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w1, 16).AsSingle(), x0, e1);
                o1 = Fma.MultiplyAdd((w1 & hi).AsSingle(), x1, o1);
                e2 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w2, 16).AsSingle(), x0, e2);
                o2 = Fma.MultiplyAdd((w2 & hi).AsSingle(), x1, o2);
                e3 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(w3, 16).AsSingle(), x0, e3);
                o3 = Fma.MultiplyAdd((w3 & hi).AsSingle(), x1, o3);
            }
            nuint at = half * 32;
            Store256(ref cr, at, e0 + o0, acc); Store256(ref cr, at + 8, e1 + o1, acc);
            Store256(ref cr, at + 16, e2 + o2, acc); Store256(ref cr, at + 24, e3 + o3, acc);
        }
    }

    private static void Store256(ref float c, nuint at, Vector256<float> s, bool acc)
        => (acc ? Vector256.LoadUnsafe(ref c, at) + s : s).StoreUnsafe(ref c, at);

    // ---- int8 ----

    /// <summary>Quantises x (n, K) per row: xq (n, 4·⌈K/4⌉) = round(x / s) in [−127, 127] (padding 0), s = max|x|/127 (0 for a zero row).</summary>
    public static void QuantiseRows(Span<sbyte> xq, Span<float> sx, ReadOnlySpan<float> x, int n, int K)
    {
        int kp = (K + 3) / 4 * 4;
        for (int r = 0; r < n; r++)
        {
            var xr = x.Slice(r * K, K);
            var q = xq.Slice(r * kp, kp);
            float max = MaxAbs(xr);
            float s = max / 127;
            sx[r] = s;
            if (s == 0 || !float.IsFinite(s)) { q.Clear(); if (!float.IsFinite(s)) sx[r] = float.NaN; continue; }
            int k = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                // x / s rounded to nearest even, as MathF.Round below: the same integers on every path
                var sv = Vector256.Create(s);
                for (; k + 8 <= K; k += 8)
                {
                    var v = Vector256.ConvertToInt32(Vector256.Round(Vector256.Create(xr.Slice(k, 8)) / sv));
                    for (int e = 0; e < 8; e++) q[k + e] = (sbyte)v.GetElement(e);
                }
            }
            for (; k < K; k++) q[k] = (sbyte)(int)MathF.Round(xr[k] / s); // |x/s| ≤ 127 up to rounding: round stays in range
            q[K..].Clear();
        }
    }

    /// <summary>c (n, N) = x (n, K)·Wᵀ (or += it), x quantised per row into the caller's scratch xq (n, 4⌈K/4⌉) and sx (n).</summary>
    public static void MultiplyInt8(Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, bool accumulate, int n, Span<sbyte> xq, Span<float> sx, int ldc = 0)
        => MultiplyInt8(Int8Path, c, x, w, accumulate, n, xq, sx, ldc);

    internal static void MultiplyInt8(int path, Span<float> c, ReadOnlySpan<float> x, QuantMatrix w, bool accumulate, int n, Span<sbyte> xq, Span<float> sx, int ldc)
    {
        int N = w.N, K = w.K, kp = w.KBlocks * 4;
        if (ldc == 0) ldc = N;
        Check(c, x, n, N, K, ldc);
        if (xq.Length < n * kp || sx.Length < n) throw new ArgumentException($"xq, sx: expected at least {n * kp} and {n} elements, got {xq.Length} and {sx.Length}.", nameof(xq));
        QuantiseRows(xq, sx, x, n, K);
        Span<float> tmp = stackalloc float[QuantMatrix.Group];
        Span<int> sums = stackalloc int[QuantMatrix.Group];
        for (int r = 0; r < n; r++)
        {
            var q = xq.Slice(r * kp, kp);
            float s = sx[r];
            for (int g = 0; g < w.Groups; g++)
            {
                int j0 = g * QuantMatrix.Group, cnt = Math.Min(QuantMatrix.Group, N - j0);
                if (path == 2) Int8GroupVnni(sums, q, w, g);
                else if (path == 1) Int8GroupAvx2(sums, q, w, g);
                else Int8GroupScalar(sums, q, w, g);
                var dst = c.Slice(r * ldc + j0, cnt);
                if (cnt == QuantMatrix.Group && path > 0) Dequantise256(dst, sums, s, w.Scale.AsSpan(j0), accumulate);
                else
                    for (int jj = 0; jj < cnt; jj++)
                    {
                        float v = (float)sums[jj] * s * w.Scale[j0 + jj];
                        dst[jj] = accumulate ? dst[jj] + v : v;
                    }
            }
        }
    }

    // y = ((float)Σ · s_x) · s_w, the scalar loop's operations in its order.
    private static void Dequantise256(Span<float> c, Span<int> sums, float s, ReadOnlySpan<float> sw, bool acc)
    {
        var sv = Vector256.Create(s);
        for (int j = 0; j < QuantMatrix.Group; j += 8)
        {
            var v = Avx.ConvertToVector256Single(Vector256.Create(sums.Slice(j, 8))) * sv * Vector256.Create(sw.Slice(j, 8));
            (acc ? Vector256.Create(c.Slice(j, 8)) + v : v).CopyTo(c.Slice(j, 8));
        }
    }

    // The reference: exact integer sums per output.
    private static void Int8GroupScalar(Span<int> sums, ReadOnlySpan<sbyte> q, QuantMatrix w, int g)
    {
        int kb = w.KBlocks;
        var d = w.Q.AsSpan(w.Base);
        for (int jj = 0; jj < QuantMatrix.Group; jj++)
        {
            int s = 0;
            for (int p = 0; p < kb; p++)
            {
                int i = ((g * kb + p) * QuantMatrix.Group + jj) * 4;
                for (int e = 0; e < 4; e++) s += q[4 * p + e] * d[i + e];
            }
            sums[jj] = s;
        }
    }

    // vpdpbusd: u8 (x + 128) × s8 w, four products per int32 lane; the zero point's 128·Σw comes off at the end.
    private static void Int8GroupVnni(Span<int> sums, ReadOnlySpan<sbyte> q, QuantMatrix w, int g)
    {
        int kb = w.KBlocks;
        ref sbyte d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Q), w.Base);
        ref int xr = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(q));
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        nuint baseIdx = (nuint)(g * kb) * QuantMatrix.Group * 4;
        for (int p = 0; p < kb; p++)
        {
            var xv = Vector256.Create(Unsafe.Add(ref xr, p) ^ unchecked((int)0x80808080)).AsByte();
            nuint o = baseIdx + (nuint)p * QuantMatrix.Group * 4;
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, xv, Vector256.LoadUnsafe(ref d, o));
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, xv, Vector256.LoadUnsafe(ref d, o + 32));
            a2 = AvxVnni.MultiplyWideningAndAdd(a2, xv, Vector256.LoadUnsafe(ref d, o + 64));
            a3 = AvxVnni.MultiplyWideningAndAdd(a3, xv, Vector256.LoadUnsafe(ref d, o + 96));
            a4 = AvxVnni.MultiplyWideningAndAdd(a4, xv, Vector256.LoadUnsafe(ref d, o + 128));
            a5 = AvxVnni.MultiplyWideningAndAdd(a5, xv, Vector256.LoadUnsafe(ref d, o + 160));
            a6 = AvxVnni.MultiplyWideningAndAdd(a6, xv, Vector256.LoadUnsafe(ref d, o + 192));
            a7 = AvxVnni.MultiplyWideningAndAdd(a7, xv, Vector256.LoadUnsafe(ref d, o + 224));
        }
        ref int corr = ref MemoryMarshal.GetArrayDataReference(w.Corr);
        nuint c0 = (nuint)(g * QuantMatrix.Group);
        ref int sr = ref MemoryMarshal.GetReference(sums);
        (a0 - Vector256.LoadUnsafe(ref corr, c0)).StoreUnsafe(ref sr, 0);
        (a1 - Vector256.LoadUnsafe(ref corr, c0 + 8)).StoreUnsafe(ref sr, 8);
        (a2 - Vector256.LoadUnsafe(ref corr, c0 + 16)).StoreUnsafe(ref sr, 16);
        (a3 - Vector256.LoadUnsafe(ref corr, c0 + 24)).StoreUnsafe(ref sr, 24);
        (a4 - Vector256.LoadUnsafe(ref corr, c0 + 32)).StoreUnsafe(ref sr, 32);
        (a5 - Vector256.LoadUnsafe(ref corr, c0 + 40)).StoreUnsafe(ref sr, 40);
        (a6 - Vector256.LoadUnsafe(ref corr, c0 + 48)).StoreUnsafe(ref sr, 48);
        (a7 - Vector256.LoadUnsafe(ref corr, c0 + 56)).StoreUnsafe(ref sr, 56);
    }

    // AVX2 without VNNI: the weights widened to int16 and vpmaddwd against x's quad (signed, no zero point); a lane
    // pair per output, added by vphaddd at the end. 32 outputs (eight sums) at a time.
    private static void Int8GroupAvx2(Span<int> sums, ReadOnlySpan<sbyte> q, QuantMatrix w, int g)
    {
        int kb = w.KBlocks;
        ref sbyte d = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Q), w.Base);
        ref int xr = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(q));
        ref int sr = ref MemoryMarshal.GetReference(sums);
        nuint baseIdx = (nuint)(g * kb) * QuantMatrix.Group * 4;
        for (nuint half = 0; half < 2; half++)
        {
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int p = 0; p < kb; p++)
            {
                // x's four int8 as int16, repeated: (x0, x1, x2, x3) × 4
                var x16 = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(Unsafe.Add(ref xr, p)).AsSByte());
                var xv = Vector256.Create(x16.AsInt64().ToScalar()).AsInt16();
                nuint o = baseIdx + (nuint)p * QuantMatrix.Group * 4 + half * 128;
                a0 = Avx2.Add(a0, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o)), xv));
                a1 = Avx2.Add(a1, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 16)), xv));
                a2 = Avx2.Add(a2, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 32)), xv));
                a3 = Avx2.Add(a3, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 48)), xv));
                a4 = Avx2.Add(a4, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 64)), xv));
                a5 = Avx2.Add(a5, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 80)), xv));
                a6 = Avx2.Add(a6, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 96)), xv));
                a7 = Avx2.Add(a7, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref d, o + 112)), xv));
            }
            // (a0, a1) hold outputs 0..3 and 4..7 as lane pairs: hadd gives [o0 o1 o4 o5 | o2 o3 o6 o7], then reorder.
            nuint at = half * 32;
            Pairs(a0, a1).StoreUnsafe(ref sr, at);
            Pairs(a2, a3).StoreUnsafe(ref sr, at + 8);
            Pairs(a4, a5).StoreUnsafe(ref sr, at + 16);
            Pairs(a6, a7).StoreUnsafe(ref sr, at + 24);
        }
    }

    private static Vector256<int> Pairs(Vector256<int> lo, Vector256<int> hi)
        => Avx2.Permute4x64(Avx2.HorizontalAdd(lo, hi).AsInt64(), 0b11_01_10_00).AsInt32();
}
