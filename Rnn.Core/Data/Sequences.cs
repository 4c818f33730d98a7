namespace Rnn.Data;

/// <summary>Which end of a short sequence receives the padding (Keras pad_sequences' <c>padding</c>).</summary>
public enum Padding
{
    /// <summary>Pad at the start: the sequence ends at the last column (Keras's default).</summary>
    Pre,
    /// <summary>Pad at the end.</summary>
    Post,
}

/// <summary>Which end of a long sequence is cut (Keras pad_sequences' <c>truncating</c>).</summary>
public enum Truncating
{
    /// <summary>Drop the first tokens, keep the last maxlen (Keras's default).</summary>
    Pre,
    /// <summary>Drop the last tokens, keep the first maxlen.</summary>
    Post,
}

/// <summary>Padding and truncating of token sequences, with Keras's pad_sequences semantics.</summary>
public static class Sequences
{
    /// <summary>
    /// Packs sequences into a row-major (n, maxlen) matrix, a new array owned by the caller. Longer
    /// sequences are cut per <paramref name="truncating"/>, shorter ones filled with <paramref name="value"/>
    /// per <paramref name="padding"/>; an empty sequence is a row of <paramref name="value"/>.
    /// </summary>
    public static int[] Pad(int[][] seqs, int maxlen, Padding padding = Padding.Pre, Truncating truncating = Truncating.Pre, int value = 0)
    {
        ArgumentNullException.ThrowIfNull(seqs);
        Guard.AtLeast(maxlen, 1);
        var x = new int[checked(seqs.Length * maxlen)];
        if (value != 0) x.AsSpan().Fill(value);
        for (int i = 0; i < seqs.Length; i++)
        {
            var s = seqs[i] ?? throw new ArgumentNullException(nameof(seqs), $"seqs: expected a sequence at index {i}, got null.");
            int len = Math.Min(s.Length, maxlen);
            var kept = truncating == Truncating.Pre ? s.AsSpan(s.Length - len, len) : s.AsSpan(0, len);
            int col = padding == Padding.Pre ? maxlen - len : 0;
            kept.CopyTo(x.AsSpan(i * maxlen + col, len));
        }
        return x;
    }

    /// <summary>The longest length in <paramref name="seqs"/> (Keras's maxlen=None), 0 for no sequences.</summary>
    public static int MaxLength(int[][] seqs)
    {
        int m = 0;
        foreach (var s in seqs) m = Math.Max(m, s.Length);
        return m;
    }
}
