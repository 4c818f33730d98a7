using System.Numerics;
using Rnn.Init;
using Rnn.Models;

namespace Rnn.Samples.Addition;

/// <summary>
/// Keras's addition_rnn.py data: questions "a+b" with a and b of 1..digits random digits, padded with spaces to
/// 2·digits+1 characters (optionally reversed, Keras's INVERT/REVERSE = True), answers str(a+b) padded to
/// digits+1. Questions are unique up to the order of a and b (Keras keys on sorted (a, b)). The alphabet is
/// Keras's CharacterTable order, sorted("0123456789+ ") = " +0123456789".
/// </summary>
public sealed class AdditionData
{
    /// <summary>The characters, id = index.</summary>
    public const string Chars = " +0123456789";
    /// <summary>Digits per operand.</summary>
    public int Digits { get; }
    /// <summary>Question length 2·digits + 1.</summary>
    public int QueryLen => 2 * Digits + 1;
    /// <summary>Answer length digits + 1.</summary>
    public int AnswerLen => Digits + 1;
    /// <summary>Whether the questions are reversed.</summary>
    public bool Reverse { get; }
    /// <summary>The padded questions as the model reads them (reversed if <see cref="Reverse"/>).</summary>
    public string[] Queries { get; }
    /// <summary>The padded answers.</summary>
    public string[] Answers { get; }

    /// <summary>Generates <paramref name="count"/> unique questions with <paramref name="rng"/>.</summary>
    public AdditionData(int count, int digits, bool reverse, Rng rng)
    {
        Digits = digits; Reverse = reverse;
        long max = 1; for (int i = 0; i < digits; i++) max *= 10;
        // Unordered pairs (a, b) with a ≤ b < 10^digits: enough for count?
        double pairs = (double)max * (max + 1) / 2;
        if (count > pairs) throw new ArgumentOutOfRangeException(nameof(count), count, $"count: expected at most {pairs} unique questions with {digits} digits, got {count}.");
        var seen = new HashSet<(long, long)>();
        Queries = new string[count]; Answers = new string[count];
        int n = 0;
        while (n < count)
        {
            long a = Number(rng, digits), b = Number(rng, digits);
            if (!seen.Add(a <= b ? (a, b) : (b, a))) continue;
            string q = $"{a}+{b}".PadRight(QueryLen);
            if (reverse) { var c = q.ToCharArray(); Array.Reverse(c); q = new string(c); }
            Queries[n] = q;
            Answers[n] = (a + b).ToString(System.Globalization.CultureInfo.InvariantCulture).PadRight(AnswerLen);
            n++;
        }
    }

    // Keras: int(''.join(np.random.choice(list('0123456789')) for i in range(np.random.randint(1, DIGITS + 1))))
    private static long Number(Rng rng, int digits)
    {
        int len = rng.NextInt(1, digits + 1);
        long v = 0;
        for (int i = 0; i < len; i++) v = v * 10 + rng.NextInt(10);
        return v;
    }

    /// <summary>Number of questions.</summary>
    public int Count => Queries.Length;

    /// <summary>The id of a character of <see cref="Chars"/>.</summary>
    public static int Id(char c)
    {
        int i = Chars.IndexOf(c);
        return i >= 0 ? i : throw new ArgumentOutOfRangeException(nameof(c), c, $"c: expected one of \"{Chars}\", got '{c}'.");
    }

    /// <summary>
    /// One-hot questions x (n, QueryLen, 12) and answer ids y (n, AnswerLen) for the examples order[from..from+n).
    /// </summary>
    public void Batch<T>(Span<T> x, Span<int> y, ReadOnlySpan<int> order, int from, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int Q = QueryLen, A = AnswerLen, C = Chars.Length;
        x.Slice(0, n * Q * C).Clear();
        for (int i = 0; i < n; i++)
        {
            int e = order[from + i];
            for (int t = 0; t < Q; t++) x[(i * Q + t) * C + Id(Queries[e][t])] = T.One;
            for (int t = 0; t < A; t++) y[i * A + t] = Id(Answers[e][t]);
        }
    }

    /// <summary>A Fit batch source over the questions <paramref name="examples"/> (ids into this set): one-hot questions, answer ids.</summary>
    public IBatchSource<float, int> Source(int[] examples) => new QuestionSource(this, examples);

    private sealed class QuestionSource(AdditionData data, int[] examples) : IBatchSource<float, int>
    {
        public int Count => examples.Length;
        public int SeqLen => data.QueryLen;
        public int InputsPerSample => data.QueryLen * Chars.Length;
        public int TargetsPerSample => data.AnswerLen;
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<int> targets)
        {
            for (int i = 0; i < indices.Length; i++)
                data.Batch<float>(inputs[(i * InputsPerSample)..], targets[(i * TargetsPerSample)..], examples, indices[i], 1);
        }
    }

    /// <summary>The question as a person reads it (un-reversed).</summary>
    public string Readable(int e) => Reverse ? new string(Queries[e].Reverse().ToArray()) : Queries[e];
}
