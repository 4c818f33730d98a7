using Rnn.Data;
using Rnn.Init;
using Rnn.Models;

namespace Rnn.Samples.Imdb;

/// <summary>
/// The packed train and test sets the imdb sample trains on: tokens (n, maxlen) pre-padded and pre-truncated
/// (Keras pad_sequences defaults), labels (n) of 0/1, the vocabulary that produced the ids (saved with the model
/// so `classify` can read text), and, for generated data, the bag-of-words baseline's test accuracy.
/// </summary>
public sealed class ImdbSet
{
    /// <summary>Where the data came from.</summary>
    public required string Description { get; init; }
    /// <summary>Steps per review.</summary>
    public required int MaxLen { get; init; }
    /// <summary>(nTrain, maxlen).</summary>
    public required int[] TrainTokens { get; init; }
    /// <summary>(nTrain).</summary>
    public required float[] TrainLabels { get; init; }
    /// <summary>(nTest, maxlen).</summary>
    public required int[] TestTokens { get; init; }
    /// <summary>(nTest).</summary>
    public required float[] TestLabels { get; init; }
    /// <summary>Packed sets: (nTrain) and (nTest) each review's tokens kept (1..maxlen), the tokens post-padded; else null.</summary>
    public int[]? TrainLengths { get; init; }
    /// <summary>See <see cref="TrainLengths"/>.</summary>
    public int[]? TestLengths { get; init; }
    /// <summary>Words in rank order (rank 1 first): id = rank + 3.</summary>
    public string[]? Vocabulary { get; init; }
    /// <summary>The generated reviews before padding (train, test), for the bag-of-words baseline; null for real data.</summary>
    public (ImdbSplit Train, ImdbSplit Test)? Raw { get; init; }

    /// <summary>Training reviews.</summary>
    public int TrainCount => TrainLabels.Length;
    /// <summary>Test reviews.</summary>
    public int TestCount => TestLabels.Length;

    /// <summary>Copies the training rows <paramref name="idx"/> into x (len·maxlen) and y (len).</summary>
    public void GatherTrain(Span<int> x, Span<float> y, ReadOnlySpan<int> idx) => Gather(TrainTokens, TrainLabels, x, y, idx);
    /// <summary>Copies the test rows <paramref name="idx"/> into x and y.</summary>
    public void GatherTest(Span<int> x, Span<float> y, ReadOnlySpan<int> idx) => Gather(TestTokens, TestLabels, x, y, idx);

    /// <summary>The training reviews as Fit's batch source.</summary>
    public IBatchSource<int, float> Train => TrainLengths is { } l
        ? new ArrayBatchSource<int, float>(TrainTokens, TrainLabels, l, TrainCount, MaxLen)
        : new ArrayBatchSource<int, float>(TrainTokens, TrainLabels, TrainCount, MaxLen);
    /// <summary>The test reviews as Fit's batch source.</summary>
    public IBatchSource<int, float> Test => TestLengths is { } l
        ? new ArrayBatchSource<int, float>(TestTokens, TestLabels, l, TestCount, MaxLen)
        : new ArrayBatchSource<int, float>(TestTokens, TestLabels, TestCount, MaxLen);

    private void Gather(int[] tokens, float[] labels, Span<int> x, Span<float> y, ReadOnlySpan<int> idx)
    {
        for (int k = 0; k < idx.Length; k++)
        {
            tokens.AsSpan(idx[k] * MaxLen, MaxLen).CopyTo(x.Slice(k * MaxLen, MaxLen));
            y[k] = labels[idx[k]];
        }
    }

    /// <summary>A random subset of <paramref name="n"/> training reviews (the test set is kept whole).</summary>
    public ImdbSet TakeTrain(int n, Rng rng)
    {
        var order = Enumerable.Range(0, TrainCount).ToArray();
        rng.Shuffle<int>(order);
        var idx = order.AsSpan(0, n);
        var x = new int[n * MaxLen]; var y = new float[n];
        GatherTrain(x, y, idx);
        // The raw reviews follow the same subset, so the baseline trains on what the LSTM trains on.
        var keep = idx.ToArray();
        (ImdbSplit, ImdbSplit)? raw = Raw is { } r ? (new ImdbSplit([.. keep.Select(i => r.Train.X[i])], [.. keep.Select(i => r.Train.Y[i])]), r.Test) : null;
        return new ImdbSet
        {
            Description = Description + $" (first {n} of shuffled train)", MaxLen = MaxLen, TrainTokens = x, TrainLabels = y,
            TestTokens = TestTokens, TestLabels = TestLabels, Vocabulary = Vocabulary, Raw = raw,
            TrainLengths = TrainLengths is { } l ? [.. keep.Select(i => l[i])] : null, TestLengths = TestLengths,
        };
    }

    /// <summary>Test accuracy of the bag-of-words logistic regression trained on this set's training reviews; null for real data.</summary>
    public double? Baseline()
        => Raw is { } raw ? BagOfWords.Evaluate(raw.Train, raw.Test, MaxLen).Test : null;

    /// <summary>
    /// Real reviews from an aclImdb folder or train/test.tsv[.gz]; words ranked by <paramref name="wordIndex"/>
    /// (a Keras imdb_word_index.json), else by the folder's imdb_word_index.json, else by training-set frequency.
    /// Up to <paramref name="threads"/> threads read the two splits and encode the reviews side by side; each review's
    /// ids are its own, so the result is the same for any thread count.
    /// </summary>
    public static ImdbSet Real(string dir, string? wordIndex, int numWords, int maxlen, bool packed = false, int threads = 1)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"dir: expected an IMDB folder, got '{dir}', which does not exist.");
        var opt = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        // The test split read beside the train split; GetResult rethrows its own exception (not an AggregateException).
        var testRead = threads > 1 ? Task.Run(() => ImdbReader.LoadSplit(dir, "test")) : null;
        var trainRows = ImdbReader.LoadSplit(dir, "train");
        var ds = new ImdbDataset(trainRows, testRead?.GetAwaiter().GetResult() ?? ImdbReader.LoadSplit(dir, "test"));
        if (ds.Train.Length == 0 || ds.Test.Length == 0)
            throw new Common.BadInputException($"{dir}: expected reviews in both splits, got {ds.Train.Length} train and {ds.Test.Length} test.");
        string folderIndex = Path.Combine(dir, "imdb_word_index.json");
        string? index = wordIndex ?? (File.Exists(folderIndex) ? folderIndex : null);
        var tok = index != null
            ? KerasTokenizer.FromWordIndexFile(index, numWords)
            : KerasTokenizer.FromTexts(ds.Train.Select(r => r.Text), numWords);
        // Both splits' reviews in chunks across the threads (Encode keeps no state between calls).
        var all = ds.Train.Concat(ds.Test).ToArray();
        var ids = new int[all.Length][];
        const int chunk = 256;
        Parallel.For(0, (all.Length + chunk - 1) / chunk, opt, c =>
        {
            for (int i = c * chunk; i < Math.Min(all.Length, (c + 1) * chunk); i++) ids[i] = tok.Encode(all[i].Text);
        });
        int nTrain = ds.Train.Length;
        ImdbSplit train = new(ids[..nTrain], [.. ds.Train.Select(r => r.Label)]), test = new(ids[nTrain..], [.. ds.Test.Select(r => r.Label)]);
        var (xTr, yTr) = Pad(train, maxlen, packed);
        var (xTe, yTe) = Pad(test, maxlen, packed);
        return new ImdbSet
        {
            Description = $"real reviews from {dir}, words ranked by {(index ?? "training-set frequency")}",
            MaxLen = maxlen, TrainTokens = xTr, TrainLabels = yTr, TestTokens = xTe, TestLabels = yTe,
            Vocabulary = tok.RankedWords(),
            TrainLengths = packed ? Lengths(train, maxlen) : null, TestLengths = packed ? Lengths(test, maxlen) : null,
        };
    }

    /// <summary>The embedded IMDB-shaped generator (no download); <see cref="Baseline"/> gives its bag-of-words baseline.</summary>
    public static ImdbSet Generated(ulong seed, int maxlen, bool packed = false)
    {
        var (train, test) = SyntheticImdb.Generate(seed);
        var (xTr, yTr) = Pad(train, maxlen, packed);
        var (xTe, yTe) = Pad(test, maxlen, packed);
        return new ImdbSet
        {
            Description = $"generated IMDB-shaped data (seed {seed})",
            MaxLen = maxlen, TrainTokens = xTr, TrainLabels = yTr, TestTokens = xTe, TestLabels = yTe,
            Vocabulary = SyntheticVocabulary(),
            Raw = (train, test),
            TrainLengths = packed ? Lengths(train, maxlen) : null, TestLengths = packed ? Lengths(test, maxlen) : null,
        };
    }

    // Keras pad_sequences: pre-truncating always; pre-padding, or post-padding for packed batches (their lengths say
    // where each review ends).
    private static (int[] X, float[] Y) Pad(ImdbSplit split, int maxlen, bool packed) => packed
        ? (Sequences.Pad(split.X, maxlen, Padding.Post), split.Y.Select(y => (float)y).ToArray())
        : ImdbData.Pack(split, maxlen);

    // Each review's tokens kept: its length, at most maxlen; an empty review keeps its one padding token as length 1.
    private static int[] Lengths(ImdbSplit split, int maxlen) => [.. split.X.Select(x => Math.Clamp(x.Length, 1, maxlen))];

    /// <summary>
    /// Readable names for the generator's ids, so `classify` can take text for a model trained on generated data:
    /// negators "not", "no", "never"; intensifiers "very", "really", "so"; sentiment words "good0".."good119" and
    /// "bad0".."bad119"; every other id r+3 is "w{r}".
    /// </summary>
    public static string[] SyntheticVocabulary()
    {
        var words = new string[SyntheticImdb.VocabSize - KerasTokenizerConfig.ImdbIndexFrom];
        for (int r = 1; r <= words.Length; r++) words[r - 1] = $"w{r}";
        string[] neg = ["not", "no", "never"], intens = ["very", "really", "so"];
        for (int k = 0; k < SyntheticImdb.Negators.Length; k++) words[SyntheticImdb.Negators[k] - KerasTokenizerConfig.ImdbIndexFrom - 1] = neg[k];
        for (int k = 0; k < SyntheticImdb.Intensifiers.Length; k++) words[SyntheticImdb.Intensifiers[k] - KerasTokenizerConfig.ImdbIndexFrom - 1] = intens[k];
        for (int k = 0; k < SyntheticImdb.Positive.Length; k++) words[SyntheticImdb.Positive[k] - KerasTokenizerConfig.ImdbIndexFrom - 1] = $"good{k}";
        for (int k = 0; k < SyntheticImdb.Negative.Length; k++) words[SyntheticImdb.Negative[k] - KerasTokenizerConfig.ImdbIndexFrom - 1] = $"bad{k}";
        return words;
    }
}
