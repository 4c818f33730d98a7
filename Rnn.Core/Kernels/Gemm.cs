using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Rnn.Kernels;

/// <summary>
/// C = alpha·op(A)·op(B) + beta·C over row-major spans. op(A) is (m, k), op(B) is (k, n), C is (m, n).
/// With transA, A is stored (k, m); with transB, B is stored (n, k). lda (optional, 0 = dense) is the stride
/// between A's stored rows when they are further apart than k (m with transA), e.g. rows padded so that they
/// do not fall a multiple of 2 KB apart; ldc (likewise) is the stride between C's rows when wider than n.
/// </summary>
public static unsafe partial class Gemm
{
    /// <summary>
    /// The fast path. See the class summary for shapes. float runs the packed, cache- and register-blocked
    /// kernels (<see cref="Dispatch.KernelPath"/> says which ISA), split over <see cref="Engine.Threads"/>
    /// by output blocks, so the result is bit-identical for any thread count; double runs a plain vectorised
    /// loop (it serves gradient checks). Allocates nothing in steady state (pack buffers come from ArrayPool).
    /// beta = 0 overwrites C without reading it (NaN garbage in C is ignored).
    /// </summary>
    public static void Multiply<T>(Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        bool transA, bool transB, T alpha, T beta, int m, int n, int k, int lda = 0, int ldc = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyWith(GemmPolicy.Default, c, a, b, transA, transB, alpha, beta, m, n, k, lda, ldc);

    /// <summary><see cref="Multiply{T}"/> taking the float paths that policy chooses (the same bits, another speed).</summary>
    internal static void MultiplyWith<T>(GemmPolicy policy, Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        bool transA, bool transB, T alpha, T beta, int m, int n, int k, int lda = 0, int ldc = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(c, a, b, m, n, k, transA, lda, ldc);
        if (m == 0 || n == 0) return;
        if (typeof(T) == typeof(float))
        {
            fixed (T* pc = c, pa = a, pb = b)
                MultiplyFloat((float*)pc, (float*)pa, (float*)pb, transA, transB,
                    float.CreateTruncating(alpha), float.CreateTruncating(beta), m, n, k, lda, policy, ldc: ldc);
            return;
        }
        if (ldc > 0 && ldc != n)
        {
            // The reference path writes C densely: through a dense copy of its rows.
            T[] dc = ArrayPool<T>.Shared.Rent(m * n);
            try
            {
                CopyRows<T>(dc, n, c, ldc, m, n);
                MultiplyWith(policy, dc.AsSpan(0, m * n), a, b, transA, transB, alpha, beta, m, n, k, lda);
                CopyRows<T>(c, ldc, dc, n, m, n);
            }
            finally { ArrayPool<T>.Shared.Return(dc); }
            return;
        }
        if (lda > 0 && lda != (transA ? m : k))
        {
            // The reference path reads A densely: copy its rows together first.
            int rows = transA ? k : m, cols = transA ? m : k;
            T[] dense = ArrayPool<T>.Shared.Rent(rows * cols);
            try
            {
                CopyRows<T>(dense, cols, a, lda, rows, cols);
                MultiplyWith(policy, c, dense.AsSpan(0, rows * cols), b, transA, transB, alpha, beta, m, n, k);
            }
            finally { ArrayPool<T>.Shared.Return(dense); }
            return;
        }
        if (beta == T.Zero) c[..(m * n)].Clear();
        else if (beta != T.One) Vec.Scale(c[..(m * n)], beta);
        if (k == 0 || alpha == T.Zero) return;

        // Make op(A) row-major (m, k) and op(B) row-major (k, n), packing transposed operands.
        T[]? packA = null, packB = null;
        ReadOnlySpan<T> aa = a, bb = b;
        if (transA) { packA = ArrayPool<T>.Shared.Rent(m * k); Transpose(packA, a, k, m); aa = packA.AsSpan(0, m * k); }
        if (transB) { packB = ArrayPool<T>.Shared.Rent(k * n); Transpose(packB, b, n, k); bb = packB.AsSpan(0, k * n); }
        try { RowMajorAxpy(c, aa, bb, alpha, m, n, k); }
        finally
        {
            if (packA != null) ArrayPool<T>.Shared.Return(packA);
            if (packB != null) ArrayPool<T>.Shared.Return(packB);
        }
    }

    /// <summary>
    /// Elements of a buffer for <see cref="PackB{T}"/> of an op(B) with n columns and k rows: float uses the
    /// micro-kernel's column panels (n rounded up to whole panels), double the plain (k, n) matrix.
    /// </summary>
    public static int PackedBLength<T>(int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float) ? checked((n + MicroCols - 1) / MicroCols * MicroCols * k + PackedHeader) : checked(n * k);

    // float packing: element 0 holds the offset of the panels, chosen when packing so that they start on a
    // 64-byte line (whole-line vector loads); later calls read the offset back, so moving memory stays correct.
    private const int PackedHeader = 16;

    // Header bit set when the panels are laid out for one-row products (PackB forOneRow).
    private const int OneRowLayout = 0x100;

    /// <summary>
    /// Packs op(B) (k, n) once for many <see cref="MultiplyPacked{T}"/> calls with the same B, e.g. an RNN's
    /// W_hhᵀ over every step of a sequence, so no call copies or transposes it again. b is (k, n), or (n, k)
    /// with transB. packed (<see cref="PackedBLength{T}"/> elements) is owned by the caller; its layout is
    /// private to this process (it depends on the instruction set in use). forOneRow lays B out for products
    /// with m = 1 only (a batch-1 recurrent step streams B as one contiguous run instead of eight panels
    /// side by side); MultiplyPacked then refuses other m. Results are the same bits either way.
    /// </summary>
    public static void PackB<T>(Span<T> packed, ReadOnlySpan<T> b, bool transB, int n, int k, bool forOneRow = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(n), $"PackB sizes: expected n, k >= 0, got ({n}, {k}).");
        if (b.Length < k * n) throw new ArgumentException($"b: expected at least k*n = {k * n} elements, got {b.Length}.", nameof(b));
        int len = PackedBLength<T>(n, k);
        if (packed.Length < len) throw new ArgumentException($"packed: expected at least {len} elements, got {packed.Length}.", nameof(packed));
        if (n == 0 || k == 0) return;
        if (typeof(T) == typeof(float))
        {
            fixed (T* pp = packed, pb = b)
            {
                float* f = (float*)pp;
                int off = 1 + (int)((64 - ((nint)(f + 1) & 63)) & 63) / 4; // 1..16 when f is 4-byte aligned
                if (((nint)f & 3) != 0) off = 1;
                bool wide = forOneRow && OneRowWidth > 0;
                *(int*)f = off | (wide ? OneRowLayout : 0);
                PackBFloat(f + off, (float*)pb, transB, n, k, wide);
            }
            return;
        }
        if (transB) Transpose(packed, b, n, k);
        else b[..(k * n)].CopyTo(packed);
    }

    /// <summary>
    /// <see cref="Multiply{T}"/> with B given packed by <see cref="PackB{T}"/> for the same (n, k): C (m, n) =
    /// alpha·op(A)·op(B) + beta·C. Bit-identical to Multiply for any thread count (same kernels, same order
    /// of summation), except that m = 1 runs a matrix-vector loop over the panels instead of a GEMV.
    /// </summary>
    public static void MultiplyPacked<T>(Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> packedB, bool transA,
        T alpha, T beta, int m, int n, int k, int lda = 0, int ldc = 0) where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplyPackedWith(GemmPolicy.Default, c, a, packedB, transA, alpha, beta, m, n, k, lda, ldc);

    /// <summary><see cref="MultiplyPacked{T}"/> taking the float paths that policy chooses (the same bits, another speed).</summary>
    internal static void MultiplyPackedWith<T>(GemmPolicy policy, Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> packedB, bool transA,
        T alpha, T beta, int m, int n, int k, int lda = 0, int ldc = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int len = PackedBLength<T>(n, k);
        if (packedB.Length < len) throw new ArgumentException($"packedB: expected at least {len} elements, got {packedB.Length}.", nameof(packedB));
        if (typeof(T) != typeof(float)) { MultiplyWith(policy, c, a, packedB, transA, false, alpha, beta, m, n, k, lda, ldc); return; }
        Check(c, a, packedB, m, n, k, transA, lda, ldc);
        if (m == 0 || n == 0) return;
        fixed (T* pc = c, pa = a, pb = packedB)
        {
            int head = *(int*)pb, off = head & ~OneRowLayout;
            if (off < 1 || off > PackedHeader) throw new ArgumentException($"packedB: expected a buffer filled by PackB, got panel offset {off}.", nameof(packedB));
            bool wide = (head & OneRowLayout) != 0;
            if (wide && m != 1) throw new ArgumentException($"packedB: packed for one-row products (PackB forOneRow), expected m = 1, got m = {m}.", nameof(packedB));
            MultiplyFloat((float*)pc, (float*)pa, null, transA, false,
                float.CreateTruncating(alpha), float.CreateTruncating(beta), m, n, k, lda, policy, (float*)pb + off, wide ? OneRowWidth : 0, ldc);
        }
    }

    /// <summary>
    /// Two products with the same A: C1 (m, n1) = alpha·op(A)·B1 + beta·C1 and C2 (m, n2) = alpha·op(A)·B2 + beta·C2,
    /// B1 (k, n1) and B2 (k, n2) row-major (e.g. an RNN's dW_hh = dGᵀ·H and dW_ih = dGᵀ·X over the same dG). The
    /// float path packs (or reads) A once for both; each element gets the bits of the two separate calls.
    /// </summary>
    public static void MultiplyShared<T>(Span<T> c1, ReadOnlySpan<T> b1, int n1, Span<T> c2, ReadOnlySpan<T> b2, int n2,
        ReadOnlySpan<T> a, bool transA, T alpha, T beta, int m, int k, int lda = 0) where T : unmanaged, IFloatingPointIeee754<T>
        => MultiplySharedWith(GemmPolicy.Default, c1, b1, n1, c2, b2, n2, a, transA, alpha, beta, m, k, lda);

    /// <summary><see cref="MultiplyShared{T}"/> taking the float paths that policy chooses (the same bits, another speed).</summary>
    internal static void MultiplySharedWith<T>(GemmPolicy policy, Span<T> c1, ReadOnlySpan<T> b1, int n1, Span<T> c2, ReadOnlySpan<T> b2, int n2,
        ReadOnlySpan<T> a, bool transA, T alpha, T beta, int m, int k, int lda = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(c1, a, b1, m, n1, k, transA, lda); Check(c2, a, b2, m, n2, k, transA, lda);
        bool fused = typeof(T) == typeof(float) && m >= 2 && n1 > 0 && n2 > 0 && k > 0 && alpha != T.Zero
            && n1 % MicroCols == 0 && n2 > NarrowMaxCols;
        if (!fused)
        {
            MultiplyWith(policy, c1, a, b1, transA, false, alpha, beta, m, n1, k, lda);
            MultiplyWith(policy, c2, a, b2, transA, false, alpha, beta, m, n2, k, lda);
            return;
        }
        fixed (T* pc1 = c1, pc2 = c2, pb1 = b1, pb2 = b2, pa = a)
            MultiplySharedFloat((float*)pc1, (float*)pb1, n1, (float*)pc2, (float*)pb2, n2, (float*)pa, transA,
                float.CreateTruncating(alpha), float.CreateTruncating(beta), m, k, lda, policy);
    }

    /// <summary>Scalar reference: the plain triple loop, accumulated in T, k innermost.</summary>
    public static void MultiplyReference<T>(Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b,
        bool transA, bool transB, T alpha, T beta, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(c, a, b, m, n, k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = alpha * s + (beta == T.Zero ? T.Zero : beta * c[i * n + j]);
            }
    }

    private static void Check<T>(Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b, int m, int n, int k, bool transA = false, int lda = 0, int ldc = 0)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm sizes: expected m, n, k >= 0, got ({m}, {n}, {k}).");
        if (ldc != 0)
        {
            if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), $"ldc: expected 0 or at least n = {n}, got {ldc}.");
            long needC = m == 0 || n == 0 ? 0 : (long)(m - 1) * ldc + n;
            if (c.Length < needC) throw new ArgumentException($"c: expected at least {needC} elements for {m} rows {ldc} apart, got {c.Length}.", nameof(c));
        }
        else if (c.Length < m * n) throw new ArgumentException($"c: expected at least m*n = {m * n} elements, got {c.Length}.", nameof(c));
        if (lda != 0)
        {
            int rows = transA ? k : m, cols = transA ? m : k;
            if (lda < cols) throw new ArgumentOutOfRangeException(nameof(lda), $"lda: expected 0 or at least {(transA ? "m" : "k")} = {cols}, got {lda}.");
            long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * lda + cols;
            if (a.Length < need) throw new ArgumentException($"a: expected at least {need} elements for {rows} rows {lda} apart, got {a.Length}.", nameof(a));
        }
        else if (a.Length < m * k) throw new ArgumentException($"a: expected at least m*k = {m * k} elements, got {a.Length}.", nameof(a));
        if (b.Length < k * n) throw new ArgumentException($"b: expected at least k*n = {k * n} elements, got {b.Length}.", nameof(b));
    }

    /// <summary>rows × cols elements from src (rows lds apart) to dst (rows ldd apart): between strided and dense storage.</summary>
    internal static void CopyRows<T>(Span<T> dst, int ldd, ReadOnlySpan<T> src, int lds, int rows, int cols)
    {
        for (int r = 0; r < rows; r++) src.Slice(r * lds, cols).CopyTo(dst.Slice(r * ldd, cols));
    }

    /// <summary>dst (cols, rows) = srcᵀ where src is (rows, cols).</summary>
    internal static void Transpose<T>(Span<T> dst, ReadOnlySpan<T> src, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++)
                dst[col * rows + r] = src[r * cols + col];
    }

    // C[i,:] += alpha·A[i,p]·B[p,:], vectorised over n.
    private static void RowMajorAxpy<T>(Span<T> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b, T alpha, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T rc = ref MemoryMarshal.GetReference(c);
        ref T rb = ref MemoryMarshal.GetReference(b);
        int w = Vector<T>.Count;
        for (int i = 0; i < m; i++)
        {
            ref T ci = ref Unsafe.Add(ref rc, i * n);
            for (int p = 0; p < k; p++)
            {
                T s = alpha * a[i * k + p];
                var vs = new Vector<T>(s);
                ref T bp = ref Unsafe.Add(ref rb, p * n);
                int j = 0;
                for (; j <= n - w; j += w)
                {
                    var acc = Vector.LoadUnsafe(ref ci, (nuint)j);
                    (acc + vs * Vector.LoadUnsafe(ref bp, (nuint)j)).StoreUnsafe(ref ci, (nuint)j);
                }
                for (; j < n; j++) Unsafe.Add(ref ci, j) += s * Unsafe.Add(ref bp, j);
            }
        }
    }
}
