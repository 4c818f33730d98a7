using System.Numerics;
using System.Runtime.CompilerServices;

namespace Rnn;

/// <summary>
/// A trainable tensor and its gradient, row-major. The layer that creates it owns both arrays;
/// optimizers and IO read and write them in place. Backward passes accumulate into <see cref="Grad"/>;
/// <see cref="ZeroGrad"/> clears it.
/// </summary>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>PyTorch-style name, e.g. <c>weight_ih_l0</c>.</summary>
    public string Name { get; }
    /// <summary>Shape, row-major (e.g. (4H, I) for an LSTM's weight_ih).</summary>
    public int[] Shape { get; }
    /// <summary>
    /// The values. Owned by the layer; length = product of <see cref="Shape"/>. (An embedding table loaded from an
    /// int8 checkpoint is filled with q·scale on its first read here; lookups before that dequantise only their rows.)
    /// </summary>
    public T[] Value
    {
        get
        {
            if (Volatile.Read(ref _int8) != null) Fill();
            return _value;
        }
    }
    private readonly T[] _value;
    private IO.Int8Rows? _int8;

    /// <summary>Int8 rows not yet written to <see cref="Value"/> (null once filled, or for any other parameter).</summary>
    internal IO.Int8Rows? PendingInt8 => Volatile.Read(ref _int8);

    /// <summary>Defers the values to q·scale per row (a float table from an int8 checkpoint), filled on the first read of <see cref="Value"/>.</summary>
    internal void DeferInt8(IO.Int8Rows rows)
    {
        if (typeof(T) != typeof(float) || rows.Rows * rows.Cols != _value.Length)
            throw new ArgumentException($"rows: expected ({Shape[0]}, {_value.Length / Math.Max(Shape[0], 1)}) int8 rows for a float parameter, got ({rows.Rows}, {rows.Cols}) for {typeof(T).Name}.", nameof(rows));
        _int8 = rows;
    }

    // One thread fills, the others wait for it; the rows stay readable meanwhile (a lookup holding them).
    private void Fill()
    {
        var r = Volatile.Read(ref _int8);
        if (r == null) return;
        lock (r)
        {
            if (Volatile.Read(ref _int8) == null) return;
            r.All(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(_value.AsSpan()));
            Volatile.Write(ref _int8, null);
        }
    }
    /// <summary>The accumulated gradient, same shape as <see cref="Value"/>.</summary>
    public T[] Grad { get; }

    /// <summary>
    /// For row-sparse parameters (an embedding table): the rows that received gradient since the last
    /// <see cref="ZeroGrad"/>, in first-touch order; null for dense parameters. Only these rows of
    /// <see cref="Grad"/> are non-zero, and optimizers update only these rows.
    /// </summary>
    public RowSet? TouchedRows { get; }

    /// <summary>Creates a parameter of the given shape, zero-filled.</summary>
    public Parameter(string name, int[] shape, bool rowSparse = false)
    {
        Name = name;
        Shape = (int[])shape.Clone();
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"{name}: negative dimension {d}.");
            n *= d;
        }
        _value = new T[n];
        Grad = new T[n];
        if (rowSparse) TouchedRows = new RowSet(shape[0]);
    }

    /// <summary>Number of elements.</summary>
    public int Length => _value.Length;

    /// <summary>Clears the gradient (only the touched rows for a row-sparse parameter).</summary>
    public void ZeroGrad()
    {
        if (TouchedRows is null) { Array.Clear(Grad); return; }
        int row = Length / Shape[0];
        foreach (int r in TouchedRows.Rows) Array.Clear(Grad, r * row, row);
        TouchedRows.Clear();
    }

    /// <summary>Shape as text, e.g. "(512, 128)".</summary>
    public string ShapeText => "(" + string.Join(", ", Shape) + ")";
}

/// <summary>A set of row indices with O(1) insert and allocation-free reuse.</summary>
public sealed class RowSet
{
    private readonly bool[] _seen;
    private readonly int[] _rows;
    private int _count;

    /// <summary>Creates an empty set for rows 0..capacity-1.</summary>
    public RowSet(int capacity) { _seen = new bool[capacity]; _rows = new int[capacity]; }

    /// <summary>The rows added since the last clear, in first-touch order.</summary>
    public ReadOnlySpan<int> Rows => _rows.AsSpan(0, _count);

    /// <summary>Adds a row (no-op when present).</summary>
    public void Add(int row)
    {
        if (_seen[row]) return;
        _seen[row] = true;
        _rows[_count++] = row;
    }

    /// <summary>Empties the set.</summary>
    public void Clear()
    {
        foreach (int r in Rows) _seen[r] = false;
        _count = 0;
    }
}

/// <summary>
/// Clears the gradients of a parameter list (a model's or an optimizer's ZeroGrad), split between the kernel pool's
/// threads when large: each dense gradient in contiguous parts, each row-sparse one by its touched rows. Zeros are
/// zeros whoever writes them.
/// </summary>
internal static unsafe class GradZeroing<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Elements from which the clearing is split (256 KB of floats): below it a dispatch costs more than it saves.
    private const long ParallelMinElements = 1 << 16;

    private struct Job
    {
        public IReadOnlyList<Parameter<T>> Parameters;
        public int Chunks;
    }

    /// <summary>Clears every gradient of <paramref name="parameters"/> (and the touched-row sets).</summary>
    public static void Zero(IReadOnlyList<Parameter<T>> parameters)
    {
        long elements = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            elements += p.TouchedRows is null ? p.Length : (long)p.TouchedRows.Rows.Length * (p.Length / Math.Max(1, p.Shape[0]));
        }
        int chunks = elements >= ParallelMinElements && !Kernels.WorkerPool.InRows ? Kernels.WorkerPool.Size : 1;
        if (chunks <= 1)
        {
            for (int i = 0; i < parameters.Count; i++) parameters[i].ZeroGrad();
            return;
        }
        var job = new Job { Parameters = parameters, Chunks = chunks };
        Kernels.WorkerPool.Run(&Part, Unsafe.AsPointer(ref job), chunks);
        for (int i = 0; i < parameters.Count; i++) parameters[i].TouchedRows?.Clear();
    }

    /// <summary>Part c of every gradient: a contiguous share of a dense one, a share of a row-sparse one's touched rows.</summary>
    private static void Part(void* state, int c)
    {
        ref var j = ref Unsafe.AsRef<Job>(state);
        int k = j.Chunks;
        for (int i = 0; i < j.Parameters.Count; i++)
        {
            var p = j.Parameters[i];
            if (p.TouchedRows is null)
            {
                int lo = (int)((long)p.Length * c / k), hi = (int)((long)p.Length * (c + 1) / k);
                Array.Clear(p.Grad, lo, hi - lo);
                continue;
            }
            var rows = p.TouchedRows.Rows;
            int row = p.Length / p.Shape[0];
            int r0 = (int)((long)rows.Length * c / k), r1 = (int)((long)rows.Length * (c + 1) / k);
            for (int q = r0; q < r1; q++) Array.Clear(p.Grad, rows[q] * row, row);
        }
    }
}
