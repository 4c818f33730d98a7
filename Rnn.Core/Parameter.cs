using System.Numerics;

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
