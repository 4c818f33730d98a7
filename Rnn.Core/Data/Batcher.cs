using Rnn.Init;

namespace Rnn.Data;

/// <summary>
/// Splits n examples into mini-batches, reshuffled each epoch with a seeded <see cref="Rng"/> (Keras's
/// fit(shuffle=True)). Each epoch starts from the order 0..n−1 and shuffles it, so the permutations depend
/// only on the generator. The last partial batch is kept unless <see cref="DropLast"/>.
/// </summary>
public sealed class Batcher
{
    private readonly int[] _order;
    private readonly Rng? _rng;

    /// <summary>Number of examples.</summary>
    public int Count { get; }
    /// <summary>Examples per batch (the last batch may be smaller).</summary>
    public int BatchSize { get; }
    /// <summary>Drop the last batch when it is smaller than <see cref="BatchSize"/>.</summary>
    public bool DropLast { get; }
    /// <summary>Epochs started so far.</summary>
    public int Epoch { get; private set; }

    /// <summary>Creates the batcher; a null <paramref name="rng"/> keeps the order 0..n−1 (evaluation).</summary>
    public Batcher(int count, int batchSize, Rng? rng, bool dropLast = false)
    {
        Guard.AtLeast(count, 1); Guard.AtLeast(batchSize, 1);
        Count = count; BatchSize = batchSize; _rng = rng; DropLast = dropLast;
        _order = new int[count];
        for (int i = 0; i < count; i++) _order[i] = i;
    }

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => DropLast ? Count / BatchSize : (Count + BatchSize - 1) / BatchSize;

    /// <summary>The example order of the current epoch. Owned by the batcher; valid until the next epoch.</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>
    /// Starts an epoch (reshuffling when a generator was given) and yields its batches as slices of
    /// <see cref="Order"/>: the indices of the examples in each batch.
    /// </summary>
    public IEnumerable<ReadOnlyMemory<int>> NextEpoch()
    {
        Epoch++;
        if (_rng != null)
        {
            for (int i = 0; i < Count; i++) _order[i] = i;
            _rng.Shuffle(_order.AsSpan());
        }
        return Batches();
    }

    private IEnumerable<ReadOnlyMemory<int>> Batches()
    {
        int nb = BatchesPerEpoch;
        for (int k = 0; k < nb; k++)
        {
            int start = k * BatchSize;
            yield return new ReadOnlyMemory<int>(_order, start, Math.Min(BatchSize, Count - start));
        }
    }

    /// <summary>
    /// Copies rows <paramref name="indices"/> of a row-major (n, rowLength) source into dst (indices.Length, rowLength),
    /// e.g. the token rows or the labels of one batch.
    /// </summary>
    public static void Gather<TItem>(Span<TItem> dst, ReadOnlySpan<TItem> src, ReadOnlySpan<int> indices, int rowLength)
    {
        Guard.AtLeast(rowLength, 1);
        Guard.Length(dst.Length, indices.Length * rowLength, $"(batch={indices.Length}, row={rowLength})");
        int rows = src.Length / rowLength;
        for (int i = 0; i < indices.Length; i++)
        {
            int r = indices[i];
            if ((uint)r >= (uint)rows)
                throw new ArgumentOutOfRangeException(nameof(indices), r, $"indices: expected rows in [0, {rows}), got {r} at {i}.");
            src.Slice(r * rowLength, rowLength).CopyTo(dst.Slice(i * rowLength, rowLength));
        }
    }
}
