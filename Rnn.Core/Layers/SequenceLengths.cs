using System.Numerics;

namespace Rnn.Layers;

/// <summary>What the last Forward of a recurrent layer was told about padding.</summary>
public enum BatchPadding
{
    /// <summary>Nothing: every step of every row is real.</summary>
    None,
    /// <summary>A (batch, seq) 0/1 mask: every step runs, masked steps carry the state.</summary>
    Mask,
    /// <summary>Sequence lengths (packed): each row runs only its own real steps (PyTorch's pack_padded_sequence).</summary>
    Lengths,
}

/// <summary>
/// Sequence lengths for packed batches (<c>ForwardPacked</c> of <see cref="IRecurrentLayer{T}"/>): one length per batch row,
/// each in 1..seq, the row's real steps being t &lt; length (post-padded, as pack_padded_sequence expects).
/// </summary>
public static class SequenceLengths
{
    /// <summary>Throws unless there is one length per row and each is in 1..<paramref name="seqLen"/>.</summary>
    public static void Check(ReadOnlySpan<int> lengths, int batch, int seqLen)
    {
        if (lengths.Length != batch)
            throw new ArgumentException($"lengths: expected one length per batch row ({batch}), got {lengths.Length}.", nameof(lengths));
        for (int b = 0; b < lengths.Length; b++)
            if (lengths[b] < 1 || lengths[b] > seqLen)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[b], $"lengths[{b}]: expected 1..{seqLen} (seq), got {lengths[b]}.");
    }

    /// <summary>
    /// Lengths (batch) from a post-padded 0/1 mask (batch, seq) whose rows are 1s then 0s, with at least one 1.
    /// Throws on any other mask (a 1 after a 0, a row of 0s, a value not 0 or 1), naming the row and step.
    /// </summary>
    public static void FromMask<T>(ReadOnlySpan<T> mask, int batch, int seqLen, Span<int> lengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        if (mask.Length != batch * seqLen)
            throw new ArgumentException($"mask: expected shape (batch={batch}, seq={seqLen}) = {batch * seqLen} elements, got {mask.Length}.", nameof(mask));
        if (lengths.Length != batch)
            throw new ArgumentException($"lengths: expected one element per batch row ({batch}), got {lengths.Length}.", nameof(lengths));
        for (int b = 0; b < batch; b++)
        {
            var row = mask.Slice(b * seqLen, seqLen);
            int n = 0;
            while (n < seqLen && row[n] == T.One) n++;
            for (int t = n; t < seqLen; t++)
            {
                if (row[t] == T.Zero) continue;
                throw new ArgumentException(row[t] == T.One
                    ? $"mask: expected each row to be 1s then 0s (post-padded) to convert to lengths, got a 1 after a 0 at (b={b}, t={t}); pass the mask to Forward instead."
                    : $"mask: expected 0 or 1, got {row[t]} at (b={b}, t={t}).", nameof(mask));
            }
            if (n == 0)
                throw new ArgumentException($"mask: expected at least one real step per row, got none in row {b} (a packed row needs length ≥ 1).", nameof(mask));
            lengths[b] = n;
        }
    }
}
