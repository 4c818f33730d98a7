using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Rnn.Kernels;

/// <summary>
/// Elementwise vector helpers over spans (axpy, scale, add, clip, sums). Vectorised with
/// <see cref="Vector{T}"/> so one body serves float and double; each has a scalar reference.
/// Reductions run in a fixed order (never realigned), so results are deterministic.
/// </summary>
public static class Vec
{
    /// <summary>y += a·x.</summary>
    public static void Axpy<T>(Span<T> y, T a, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rx = ref MemoryMarshal.GetReference(x);
        int i = 0, w = Vector<T>.Count;
        var va = new Vector<T>(a);
        for (; i <= y.Length - w; i += w)
            (Vector.LoadUnsafe(ref ry, (nuint)i) + va * Vector.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) += a * Unsafe.Add(ref rx, i);
    }

    /// <summary>Scalar reference for <see cref="Axpy{T}"/>.</summary>
    public static void AxpyReference<T>(Span<T> y, T a, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        for (int i = 0; i < y.Length; i++) y[i] += a * x[i];
    }

    /// <summary>y += x.</summary>
    public static void Add<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rx = ref MemoryMarshal.GetReference(x);
        int i = 0, w = Vector<T>.Count;
        for (; i <= y.Length - w; i += w)
            (Vector.LoadUnsafe(ref ry, (nuint)i) + Vector.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) += Unsafe.Add(ref rx, i);
    }

    /// <summary>Scalar reference for <see cref="Add{T}"/>.</summary>
    public static void AddReference<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        for (int i = 0; i < y.Length; i++) y[i] += x[i];
    }

    /// <summary>y = a ⊙ b (all the same length; y may alias a).</summary>
    public static void Mul<T>(Span<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, a.Length, nameof(a)); Same(y.Length, b.Length, nameof(b));
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        int i = 0, w = Vector<T>.Count;
        for (; i <= y.Length - w; i += w)
            (Vector.LoadUnsafe(ref ra, (nuint)i) * Vector.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) = Unsafe.Add(ref ra, i) * Unsafe.Add(ref rb, i);
    }

    /// <summary>Scalar reference for <see cref="Mul{T}"/>.</summary>
    public static void MulReference<T>(Span<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, a.Length, nameof(a)); Same(y.Length, b.Length, nameof(b));
        for (int i = 0; i < y.Length; i++) y[i] = a[i] * b[i];
    }

    /// <summary>y += a ⊙ b (all the same length).</summary>
    public static void AddMul<T>(Span<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, a.Length, nameof(a)); Same(y.Length, b.Length, nameof(b));
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        int i = 0, w = Vector<T>.Count;
        for (; i <= y.Length - w; i += w)
            (Vector.LoadUnsafe(ref ry, (nuint)i) + Vector.LoadUnsafe(ref ra, (nuint)i) * Vector.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) += Unsafe.Add(ref ra, i) * Unsafe.Add(ref rb, i);
    }

    /// <summary>Scalar reference for <see cref="AddMul{T}"/>.</summary>
    public static void AddMulReference<T>(Span<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, a.Length, nameof(a)); Same(y.Length, b.Length, nameof(b));
        for (int i = 0; i < y.Length; i++) y[i] += a[i] * b[i];
    }

    /// <summary>y *= a.</summary>
    public static void Scale<T>(Span<T> y, T a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T ry = ref MemoryMarshal.GetReference(y);
        int i = 0, w = Vector<T>.Count;
        var va = new Vector<T>(a);
        for (; i <= y.Length - w; i += w) (Vector.LoadUnsafe(ref ry, (nuint)i) * va).StoreUnsafe(ref ry, (nuint)i);
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) *= a;
    }

    /// <summary>Scalar reference for <see cref="Scale{T}"/>.</summary>
    public static void ScaleReference<T>(Span<T> y, T a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] *= a;
    }

    /// <summary>Clamps every element to [-limit, limit] in place (NaN stays NaN).</summary>
    public static void Clip<T>(Span<T> y, T limit) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T ry = ref MemoryMarshal.GetReference(y);
        int i = 0, w = Vector<T>.Count;
        var hi = new Vector<T>(limit);
        var lo = -hi;
        for (; i <= y.Length - w; i += w)
        {
            var v = Vector.LoadUnsafe(ref ry, (nuint)i);
            // ConditionalSelect keeps NaN lanes (both comparisons false).
            v = Vector.ConditionalSelect(Vector.GreaterThan(v, hi), hi, v);
            v = Vector.ConditionalSelect(Vector.LessThan(v, lo), lo, v);
            v.StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < y.Length; i++) Unsafe.Add(ref ry, i) = ClipOne(Unsafe.Add(ref ry, i), limit);
    }

    /// <summary>Scalar reference for <see cref="Clip{T}"/>.</summary>
    public static void ClipReference<T>(Span<T> y, T limit) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = ClipOne(y[i], limit);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T ClipOne<T>(T v, T limit) where T : unmanaged, IFloatingPointIeee754<T>
        => v > limit ? limit : v < -limit ? -limit : v;

    /// <summary>
    /// Σ x², accumulated in double. float: in four vector accumulators (lane j of accumulator q takes the
    /// elements i ≡ 4·w·(i / 4w) + q·w + j), summed in a fixed order, so the result depends only on x; the
    /// scalar chain it replaces cost 1 ns per element in the optimizer's global gradient norm.
    /// </summary>
    public static double SumSquares<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) || !Vector.IsHardwareAccelerated) return SumSquaresReference(x);
        var f = MemoryMarshal.Cast<T, float>(x);
        ref float r = ref MemoryMarshal.GetReference(f);
        int w = Vector<float>.Count, i = 0;
        Vector<double> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; i <= f.Length - 2 * w; i += 2 * w)
        {
            Vector.Widen(Vector.LoadUnsafe(ref r, (nuint)i), out var l0, out var h0);
            Vector.Widen(Vector.LoadUnsafe(ref r, (nuint)(i + w)), out var l1, out var h1);
            a0 += l0 * l0; a1 += h0 * h0; a2 += l1 * l1; a3 += h1 * h1;
        }
        double s = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < f.Length; i++) { double v = f[i]; s += v * v; }
        return s;
    }

    /// <summary>Scalar reference for <see cref="SumSquares{T}"/>: one double chain in index order.</summary>
    public static double SumSquaresReference<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) { double v = double.CreateTruncating(x[i]); s += v * v; }
        return s;
    }

    /// <summary>dst[r, :] += src over rows: column sums of a (rows, cols) matrix added into dst (cols).</summary>
    public static void AddColumnSums<T>(Span<T> dst, ReadOnlySpan<T> src, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(dst.Length, cols);
        ColumnSums(dst, default, src, rows, cols);
    }

    /// <summary>Scalar reference for <see cref="AddColumnSums{T}(Span{T}, ReadOnlySpan{T}, int, int)"/>: row after row.</summary>
    public static void AddColumnSumsReference<T>(Span<T> dst, ReadOnlySpan<T> src, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(dst.Length, cols);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) dst[j] += src[r * cols + j];
    }

    // Rows in blocks that stay in L1, each column vector summed over the block in a register: every column still
    // gets dst + row 0 + row 1 + ... in row order (the reference's bits), without a load and store of dst per row.
    private const int SumRowBlock = 32;

    private static void ColumnSums<T>(Span<T> dst1, Span<T> dst2, ReadOnlySpan<T> src, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T s0 = ref MemoryMarshal.GetReference(src);
        bool two = !dst2.IsEmpty;
        ref T d1 = ref MemoryMarshal.GetReference(dst1);
        ref T d2 = ref two ? ref MemoryMarshal.GetReference(dst2) : ref d1;
        int w = Vector<T>.Count;
        for (int r0 = 0; r0 < rows; r0 += SumRowBlock)
        {
            int r1 = Math.Min(rows, r0 + SumRowBlock);
            int j = 0;
            for (; j <= cols - 2 * w; j += 2 * w)
            {
                var a = Vector.LoadUnsafe(ref d1, (nuint)j);
                var b = Vector.LoadUnsafe(ref d1, (nuint)(j + w));
                var a2 = Vector.LoadUnsafe(ref d2, (nuint)j);
                var b2 = Vector.LoadUnsafe(ref d2, (nuint)(j + w));
                for (int r = r0; r < r1; r++)
                {
                    var x = Vector.LoadUnsafe(ref s0, (nuint)(r * cols + j));
                    var y = Vector.LoadUnsafe(ref s0, (nuint)(r * cols + j + w));
                    a += x; b += y;
                    if (two) { a2 += x; b2 += y; }
                }
                a.StoreUnsafe(ref d1, (nuint)j); b.StoreUnsafe(ref d1, (nuint)(j + w));
                if (two) { a2.StoreUnsafe(ref d2, (nuint)j); b2.StoreUnsafe(ref d2, (nuint)(j + w)); }
            }
            for (; j < cols; j++)
            {
                T a = dst1[j], a2 = two ? dst2[j] : T.Zero;
                for (int r = r0; r < r1; r++) { T x = src[r * cols + j]; a += x; a2 += x; }
                dst1[j] = a;
                if (two) dst2[j] = a2;
            }
        }
    }

    /// <summary>
    /// <see cref="AddColumnSums{T}(Span{T}, ReadOnlySpan{T}, int, int)"/> into two destinations (b_ih and b_hh see the same gradient) in one pass over
    /// src: each gets the same additions in the same order as two separate calls.
    /// </summary>
    internal static void AddColumnSums<T>(Span<T> dst1, Span<T> dst2, ReadOnlySpan<T> src, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(dst1.Length, cols); Same(dst2.Length, cols);
        ColumnSums(dst1, dst2, src, rows, cols);
    }

    /// <summary>Each row of a (rows, cols) matrix y gets <paramref name="row"/> added (a bias, added where the rows are hot).</summary>
    public static void AddToRows<T>(Span<T> y, ReadOnlySpan<T> row, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(row.Length, cols);
        for (int r = 0; r < rows; r++) Add(y.Slice(r * cols, cols), row);
    }

    /// <summary>
    /// y (rows, cols) += the rows of x that lie <paramref name="xStride"/> elements apart, starting at x[0]: one
    /// time step's rows of a batch-major (batch, seq, H) gradient added to the time loop's (batch, H) carry.
    /// </summary>
    public static void AddRows<T>(Span<T> y, ReadOnlySpan<T> x, int rows, int cols, int xStride) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows <= 0 || cols <= 0) return;
        if (y.Length < rows * cols) throw new ArgumentException($"y: expected at least {rows * cols} elements, got {y.Length}.", nameof(y));
        if (xStride < cols || x.Length < (long)(rows - 1) * xStride + cols)
            throw new ArgumentException($"x: expected {rows} rows of {cols} elements {xStride} apart, got {x.Length} elements.", nameof(x));
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rx = ref MemoryMarshal.GetReference(x);
        int w = Vector<T>.Count;
        for (int r = 0; r < rows; r++)
        {
            ref T yr = ref Unsafe.Add(ref ry, r * cols);
            ref T xr = ref Unsafe.Add(ref rx, r * xStride);
            int i = 0;
            for (; i <= cols - w; i += w)
                (Vector.LoadUnsafe(ref yr, (nuint)i) + Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
            for (; i < cols; i++) Unsafe.Add(ref yr, i) += Unsafe.Add(ref xr, i);
        }
    }

    /// <summary>Each row of a (rows, cols) matrix y set to <paramref name="row"/> (a bias broadcast).</summary>
    public static void BroadcastRows<T>(Span<T> y, ReadOnlySpan<T> row, int rows, int cols) where T : unmanaged
    {
        Same(row.Length, cols);
        for (int r = 0; r < rows; r++) row.CopyTo(y.Slice(r * cols, cols));
    }

    /// <summary>
    /// Asks the cache for x's lines without waiting, for reads whose addresses the hardware cannot predict (an
    /// embedding's rows, gathered by token id). No effect on values; a no-op where the hint does not exist.
    /// </summary>
    public static unsafe void Prefetch<T>(ReadOnlySpan<T> x) where T : unmanaged
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported || x.IsEmpty) return;
        fixed (T* p = x)
        {
            byte* b = (byte*)p, end = b + (nint)x.Length * sizeof(T);
            for (; b < end; b += 64) System.Runtime.Intrinsics.X86.Sse.Prefetch0(b);
        }
    }

    private static void Same(int expected, int actual, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name}: expected {expected} elements (y's length), got {actual}.", name);
    }

    private static void Same(int a, int b)
    {
        if (a != b) throw new ArgumentException($"length mismatch: expected {a}, got {b}.");
    }
}
