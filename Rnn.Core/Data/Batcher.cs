using Rnn.Init;

namespace Rnn.Data;

/// <summary>
/// Splits n examples into mini-batches, reshuffled each epoch with a seeded <see cref="Rng"/> (Keras's
/// fit(shuffle=True)). Each epoch starts from the order 0..n−1 and shuffles it, so the permutations depend
/// only on the generator. The last partial batch is kept unless <see cref="DropLast"/>.
/// With lengths (<see cref="Batcher(ReadOnlySpan{int}, int, Rng?, int, bool)"/>) it buckets: sequences of similar
/// length share a batch, so a packed batch has little padding to skip (torchtext's BucketIterator).
/// </summary>
public sealed class Batcher
{
    private readonly int[] _order;
    private readonly Rng? _rng;
    private readonly int[]? _lengths;    // bucketing: each example's length
    private readonly int[] _batchOrder;  // the epoch's batch order (shuffled when bucketing)
    private readonly long[] _keys = [];  // bucketing scratch: a pool's sort keys

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
        _batchOrder = new int[BatchesPerEpoch];
        for (int k = 0; k < _batchOrder.Length; k++) _batchOrder[k] = k;
    }

    /// <summary>
    /// A bucketing batcher over examples of the given lengths. Each epoch: shuffle all examples (as without
    /// bucketing), cut the order into pools of <paramref name="poolBatches"/>·batchSize, sort each pool by length
    /// (stably, longest first), cut it into batches, and shuffle the order of all the batches. Batches thus hold
    /// sequences of similar length, their make-up still changes from epoch to epoch, and the epochs depend only on
    /// the generator. A null <paramref name="rng"/> sorts the whole set once (pools of everything, no shuffles):
    /// for evaluation. The last, partial batch (the end of the last pool) is kept unless <paramref name="dropLast"/>.
    /// </summary>
    public Batcher(ReadOnlySpan<int> lengths, int batchSize, Rng? rng, int poolBatches = 100, bool dropLast = false)
        : this(lengths.Length, batchSize, rng, dropLast)
    {
        Guard.AtLeast(poolBatches, 1);
        for (int i = 0; i < lengths.Length; i++)
            if (lengths[i] < 0)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[i], $"lengths[{i}]: expected ≥ 0, got {lengths[i]}.");
        _lengths = lengths.ToArray();
        PoolBatches = poolBatches;
        _keys = new long[rng == null ? Count : (int)Math.Min(Count, (long)poolBatches * batchSize)];
        if (rng == null) Bucket();
    }

    /// <summary>Batches per sorted pool when bucketing; 0 without bucketing.</summary>
    public int PoolBatches { get; }

    /// <summary>True when the batcher groups examples of similar length.</summary>
    public bool Bucketing => _lengths != null;

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
        StartEpoch();
        return Batches();
    }

    /// <summary>Starts an epoch (reshuffling when a generator was given) without an enumerator: read the batches with <see cref="Batch"/>.</summary>
    public void StartEpoch()
    {
        Epoch++;
        if (_rng != null)
        {
            for (int i = 0; i < Count; i++) _order[i] = i;
            _rng.Shuffle(_order.AsSpan());
            if (_lengths != null)
            {
                Bucket();
                for (int k = 0; k < _batchOrder.Length; k++) _batchOrder[k] = k;
                // The partial batch stays out of the shuffle when dropped (it is not in _batchOrder).
                _rng.Shuffle(_batchOrder.AsSpan());
            }
        }
    }

    /// <summary>The indices of batch <paramref name="k"/> (0 ≤ k &lt; <see cref="BatchesPerEpoch"/>) of the current epoch, a slice of <see cref="Order"/>.</summary>
    public ReadOnlySpan<int> Batch(int k)
    {
        if ((uint)k >= (uint)BatchesPerEpoch) throw new ArgumentOutOfRangeException(nameof(k), k, $"k: expected 0..{BatchesPerEpoch - 1}, got {k}.");
        int start = k * BatchSize;
        return _order.AsSpan(start, Math.Min(BatchSize, Count - start));
    }

    /// <summary>Sorts each pool of the current order by length, longest first, keeping the order of ties.</summary>
    private void Bucket()
    {
        int pool = _rng == null ? Count : (int)Math.Min(Count, (long)PoolBatches * BatchSize);
        for (int start = 0; start < Count; start += pool)
        {
            int n = Math.Min(pool, Count - start);
            var idx = _order.AsSpan(start, n);
            var keys = _keys.AsSpan(0, n);
            // (−length, position): unique keys, so the unstable in-place sort gives the stable order, longest first.
            for (int i = 0; i < n; i++) keys[i] = ((long)-_lengths![idx[i]] << 32) | (uint)i;
            keys.Sort(idx);
        }
    }

    private IEnumerable<ReadOnlyMemory<int>> Batches()
    {
        int nb = BatchesPerEpoch;
        for (int i = 0; i < nb; i++)
        {
            int start = _batchOrder[i] * BatchSize;
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
