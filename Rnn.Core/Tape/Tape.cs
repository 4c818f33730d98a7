using Rnn.Kernels;

namespace Rnn.Tape;

/// <summary>A named region of a <see cref="Tape{T}"/>: <c>Steps</c> consecutive blocks of <c>StepLength</c> elements.</summary>
public readonly record struct Slot(string Name, int Offset, int Steps, int StepLength)
{
    /// <summary>Total elements.</summary>
    public int Length => Steps * StepLength;
}

/// <summary>
/// The per-timestep activation arena of one layer, the way llm.c lays out its activations: the layer
/// computes a layout from (config, batch, seq_len), the tape backs every slot with ONE pinned array
/// whose first slot starts at a 64-byte boundary, and the same memory is reused batch after batch. A new layout is
/// only built when the batch shape changes, outside the time loop; inside it, slots are just spans.
/// Contents are not zeroed (reused memory): a layer writes each slot before it reads it.
/// </summary>
public sealed class Tape<T> : IDisposable where T : unmanaged
{
    private T[]? _arena;
    private int _base;   // elements before the arena's first 64-byte boundary (the array is pinned, so it stays)
    private int _length;
    private int _batch = -1, _seqLen = -1;
    private bool _open;

    /// <summary>Batch size of the current layout.</summary>
    public int Batch => _batch;
    /// <summary>Sequence length of the current layout.</summary>
    public int SeqLen => _seqLen;

    /// <summary>
    /// Starts a layout for (batch, seqLen). Returns false when the current layout already has that shape,
    /// so the caller keeps its slots; true when the caller must define them again with <see cref="Add"/>
    /// and close with <see cref="Commit"/>.
    /// </summary>
    public bool Begin(int batch, int seqLen)
    {
        if (batch == _batch && seqLen == _seqLen && _arena != null) return false;
        _batch = batch; _seqLen = seqLen; _length = 0; _open = true;
        return true;
    }

    /// <summary>Adds a slot of <paramref name="steps"/> × <paramref name="stepLength"/> elements.</summary>
    public Slot Add(string name, int steps, int stepLength)
    {
        if (!_open) throw new InvalidOperationException("Tape.Add: call Begin first.");
        var s = new Slot(name, _length, steps, stepLength);
        checked { _length += steps * stepLength; }
        return s;
    }

    /// <summary>Backs the layout with one pinned, 64-byte aligned array, reusing the current one when it is large enough.</summary>
    public void Commit()
    {
        _open = false;
        if (_arena != null && _arena.Length - _base >= _length) return;
        // Pinned and started at a 64-byte boundary: a vector load of a slot then splits a cache line only where the
        // slot's own offset does, whatever address the GC gave the array (lstm-infer-1 ran 1.1 or 1.5 ms by placement).
        (_arena, _base) = Aligned.Pinned<T>(Math.Max(_length, 1), zeroed: false);
    }

    /// <summary>The whole slot.</summary>
    public Span<T> this[Slot s] => _arena.AsSpan(_base + s.Offset, s.Length);

    /// <summary>Block <paramref name="step"/> of the slot.</summary>
    public Span<T> Step(Slot s, int step) => _arena.AsSpan(_base + s.Offset + step * s.StepLength, s.StepLength);

    /// <summary>Blocks [from, from+count) of the slot, contiguous.</summary>
    public Span<T> Steps(Slot s, int from, int count) => _arena.AsSpan(_base + s.Offset + from * s.StepLength, count * s.StepLength);

    /// <summary><paramref name="length"/> elements of the slot from element <paramref name="offset"/> (a layer's own row layout, e.g. packed steps).</summary>
    public Span<T> At(Slot s, int offset, int length)
    {
        if ((uint)offset > (uint)s.Length || (uint)length > (uint)(s.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset, length: expected a range inside slot {s.Name} ({s.Length} elements), got [{offset}, {offset + length}).");
        return _arena.AsSpan(_base + s.Offset + offset, length);
    }

    /// <summary>Forgets the layout's shape, so the next <see cref="Begin"/> returns true (the memory is kept for reuse).</summary>
    public void Invalidate() => _batch = _seqLen = -1;

    /// <summary>Elements in use by the current layout.</summary>
    public int Length => _length;

    /// <summary>Drops the arena.</summary>
    public void Dispose()
    {
        _arena = null; _base = 0; _batch = _seqLen = -1;
    }
}
