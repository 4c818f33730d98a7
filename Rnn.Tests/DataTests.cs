using System.Globalization;
using System.IO.Compression;
using System.Text;
using Rnn.Data;
using Rnn.Init;
using Rnn.Samples.Imdb;

namespace Rnn.Tests;

public class DataTests
{
    // ---- tokenizer ----

    [Fact]
    public void WordsFollowKerasFiltersLowercasingAndSpaceSplitting()
    {
        Assert.Equal(new[] { "this", "film", "was", "just", "brilliant", "casting", "location", "scenery" },
            KerasTokenizer.Words("this film was just brilliant,casting,location scenery"));
        // <br /> leaves "br"; the apostrophe is not a filter; runs of separators give no empty words.
        Assert.Equal(new[] { "great", "br", "br", "it's", "a", "10" },
            KerasTokenizer.Words("Great!<br /><br />It's a 10..."));
        // TAB and LF are filters; ASCII uppercase is lowered, non-ASCII kept as is (as in Keras's index: "Ángela").
        Assert.Equal(new[] { "the", "end", "Ángela", "and", "josé" }, KerasTokenizer.Words("THE\tEND\nÁngela AND José"));
        // Only spaces split (after filtering): U+0085 stays inside a word, as in the index's "think\x85".
        Assert.Equal(new[] { "think\u0085", "so" }, KerasTokenizer.Words("think\u0085 so"));
        Assert.Equal(new[] { "a", "b", "c", "d", "e", "f" }, KerasTokenizer.Words("a{b}c|d~e@f"));
        Assert.Empty(KerasTokenizer.Words(" .,!? \t"));
    }

    private static readonly byte[] Index = Encoding.UTF8.GetBytes(
        "{\"the\": 1, \"and\": 2, \"a\": 3, \"film\": 4, \"br\": 5, \"good\": 6, \"not\": 7, \"it's\": 8}");

    [Fact]
    public void EncodeMapsRanksWithStartOovAndNumWords()
    {
        var all = KerasTokenizer.FromWordIndexJson(Index, numWords: null);
        Assert.Equal(new[] { 1, 4, 7, 8, 2, 10, 9 }, all.Encode("The film<br />unknownword, not GOOD"));
        Assert.Equal(11, all.Encode("it's")[1]);
        // num_words = 9 keeps ids < 9: "not" (7+3) and "good" (6+3) become oov, as Keras's load_data does.
        var nine = KerasTokenizer.FromWordIndexJson(Index, numWords: 9);
        Assert.Equal(new[] { 1, 4, 7, 8, 2, 2, 2 }, nine.Encode("The film<br />unknownword, not GOOD"));
        Assert.Equal(new[] { 1 }, nine.Encode(""));
        Assert.Equal(8, nine.WordIndex.Count);
    }

    [Fact]
    public void TheRenamedTokenizerGivesTheIdsOfTheImdbTokenizerAndOtherConfigsShiftThem()
    {
        // The ids ImdbTokenizer gave for this text before the rename (EncodeMapsRanksWithStartOovAndNumWords, unchanged),
        // from the default (IMDB) configuration and from the explicit preset alike.
        const string text = "The film<br />unknownword, not GOOD";
        int[] imdb = [1, 4, 7, 8, 2, 10, 9];
        Assert.Equal(imdb, KerasTokenizer.FromWordIndexJson(Index, numWords: null).Encode(text));
        Assert.Equal(imdb, KerasTokenizer.FromWordIndexJson(Index, numWords: null, KerasTokenizerConfig.Imdb).Encode(text));
        // Keras's load_data(start_char=None, oov_char=1, index_from=1): ranks + 1, no start id.
        var plain = KerasTokenizer.FromWordIndexJson(Index, numWords: null, new KerasTokenizerConfig(null, 1, 1));
        Assert.Equal([2, 5, 6, 1, 8, 7], plain.Encode(text));
        Assert.Empty(plain.Encode(""));
        Assert.Throws<ArgumentOutOfRangeException>(() => KerasTokenizer.FromWordIndexJson(Index, 9, new KerasTokenizerConfig(1, 2, -1)));
    }

    [Fact]
    public void FrequencyRanksUseTrainingTextsWithTiesByFirstOccurrence()
    {
        // counts: b 3, a 2, c 2, d 1; a before c at equal count because a occurs first.
        var tok = KerasTokenizer.FromTexts(["b a c", "c B a b", "d"], numWords: null);
        Assert.Equal(1, tok.WordIndex["b"]);
        Assert.Equal(2, tok.WordIndex["a"]);
        Assert.Equal(3, tok.WordIndex["c"]);
        Assert.Equal(4, tok.WordIndex["d"]);
        Assert.Equal(new[] { 1, 4, 5, 6, 7, 2 }, tok.Encode("b a c d e"));
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("{\"a\": \"x\"}")]
    [InlineData("{\"a\": 0}")]
    [InlineData("{\"a\": 1, \"a\": 2}")]
    [InlineData("{\"a\": 1")]
    public void MalformedWordIndexThrows(string json)
        => Assert.Throws<InvalidDataException>(() => KerasTokenizer.FromWordIndexJson(Encoding.UTF8.GetBytes(json)));

    // ---- padding ----

    private static readonly int[][] Seqs = [[1, 2, 3, 4, 5], [6, 7], []];

    [Fact]
    public void PadDefaultsArePrePaddingAndPreTruncating()
        => Assert.Equal(new[] { 2, 3, 4, 5, /**/ 0, 0, 6, 7, /**/ 0, 0, 0, 0 }, Sequences.Pad(Seqs, 4));

    [Theory]
    [InlineData(Padding.Post, Truncating.Pre, new[] { 2, 3, 4, 5, 6, 7, 9, 9, 9, 9, 9, 9 })]
    [InlineData(Padding.Pre, Truncating.Post, new[] { 1, 2, 3, 4, 9, 9, 6, 7, 9, 9, 9, 9 })]
    [InlineData(Padding.Post, Truncating.Post, new[] { 1, 2, 3, 4, 6, 7, 9, 9, 9, 9, 9, 9 })]
    public void PadHonoursPaddingTruncatingAndValue(Padding p, Truncating t, int[] expected)
        => Assert.Equal(expected, Sequences.Pad(Seqs, 4, p, t, value: 9));

    [Fact]
    public void PadToTheLongestLengthKeepsEverything()
    {
        Assert.Equal(5, Sequences.MaxLength(Seqs));
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 0, 0, 0, 6, 7, 0, 0, 0, 0, 0 }, Sequences.Pad(Seqs, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sequences.Pad(Seqs, 0));
    }

    // ---- batcher ----

    [Fact]
    public void BatcherCoversEveryIndexOncePerEpochAndKeepsTheLastPartialBatch()
    {
        var b = new Batcher(10, 4, new Rng(1));
        Assert.Equal(3, b.BatchesPerEpoch);
        var e1 = b.NextEpoch().Select(m => m.ToArray()).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, e1.Select(x => x.Length));
        Assert.Equal(Enumerable.Range(0, 10), e1.SelectMany(x => x).Order());
        var e2 = b.NextEpoch().Select(m => m.ToArray()).SelectMany(x => x).ToArray();
        Assert.Equal(Enumerable.Range(0, 10), e2.Order());
        Assert.NotEqual(e1.SelectMany(x => x), e2); // reshuffled
        Assert.NotEqual(Enumerable.Range(0, 10), e2);
        // Same seed, same permutations.
        var c = new Batcher(10, 4, new Rng(1));
        Assert.Equal(e1.SelectMany(x => x), c.NextEpoch().SelectMany(m => m.ToArray()));
    }

    [Fact]
    public void BatcherCanDropTheLastBatchOrKeepOrder()
    {
        var d = new Batcher(10, 4, new Rng(2), dropLast: true);
        Assert.Equal(2, d.BatchesPerEpoch);
        Assert.Equal(new[] { 4, 4 }, d.NextEpoch().Select(m => m.Length));
        var plain = new Batcher(5, 2, null);
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, plain.NextEpoch().SelectMany(m => m.ToArray()));
    }

    [Fact]
    public void GatherCopiesTheSelectedRows()
    {
        int[] x = [10, 11, 20, 21, 30, 31];
        var dst = new int[4];
        Batcher.Gather<int>(dst, x, [2, 0], 2);
        Assert.Equal(new[] { 30, 31, 10, 11 }, dst);
        Assert.Throws<ArgumentOutOfRangeException>(() => Batcher.Gather<int>(dst, x, [3, 0], 2));
    }

    // ---- reader ----

    private static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "rnn-imdb-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }

    private const string TrainTsv = "split\tlabel\tid\trating\ttext\n" +
        "train\t0\t0\t3\tDull.<br />Avoid\n" +
        "train\t1\t5\t9\tGreat\tfilm, with a tab\n";
    private const string TestTsv = "split\tlabel\tid\trating\ttext\ntest\t1\t2\t10\tLoved it\n";

    [Fact]
    public void TsvAndGzipAndAclImdbLayoutsGiveTheSameRows()
    {
        string tsv = TempDir(), gz = TempDir(), acl = TempDir();
        try
        {
            File.WriteAllText(Path.Combine(tsv, "train.tsv"), TrainTsv);
            File.WriteAllText(Path.Combine(tsv, "test.tsv"), TestTsv);
            foreach (var (name, text) in new[] { ("train", TrainTsv), ("test", TestTsv) })
            {
                using var f = File.Create(Path.Combine(gz, name + ".tsv.gz"));
                using var z = new GZipStream(f, CompressionLevel.Optimal);
                z.Write(Encoding.UTF8.GetBytes(text));
            }
            foreach (var sub in new[] { "train/pos", "train/neg", "test/pos", "test/neg" }) Directory.CreateDirectory(Path.Combine(acl, sub));
            File.WriteAllText(Path.Combine(acl, "train/neg/0_3.txt"), "Dull.<br />Avoid");
            File.WriteAllText(Path.Combine(acl, "train/pos/5_9.txt"), "Great\tfilm, with a tab");
            File.WriteAllText(Path.Combine(acl, "test/pos/2_10.txt"), "Loved it");

            var expected = new ImdbDataset(
                [new("Dull.<br />Avoid", 0, 0, 3), new("Great\tfilm, with a tab", 1, 5, 9)],
                [new("Loved it", 1, 2, 10)]);
            foreach (var dir in new[] { tsv, gz, acl })
            {
                var ds = ImdbReader.Load(dir);
                Assert.Equal(expected.Train, ds.Train);
                Assert.Equal(expected.Test, ds.Test);
            }
        }
        finally { foreach (var d in new[] { tsv, gz, acl }) Directory.Delete(d, true); }
    }

    [Theory]
    [InlineData("split\tlabel\tid\trating\n", 1, "header")]
    [InlineData("split\tlabel\tid\trating\ttext\ntrain\t1\t0\t7\tok\ntrain\t1\t1\t7\n", 3, "5 TAB-separated fields")]
    [InlineData("split\tlabel\tid\trating\ttext\ntrain\t2\t0\t7\tx\n", 2, "label 0 or 1")]
    [InlineData("split\tlabel\tid\trating\ttext\ntrain\t1\tx\t7\tx\n", 2, "id")]
    [InlineData("split\tlabel\tid\trating\ttext\ntrain\t1\t0\t11\tx\n", 2, "rating")]
    [InlineData("split\tlabel\tid\trating\ttext\ntest\t1\t0\t7\tx\n", 2, "split 'train'")]
    [InlineData("", 1, "header")]
    public void CorruptLinesNameTheFileAndLine(string content, int line, string what)
    {
        string dir = TempDir();
        try
        {
            string path = Path.Combine(dir, "train.tsv");
            File.WriteAllText(path, content);
            var e = Assert.Throws<InvalidDataException>(() => ImdbReader.LoadSplit(dir, "train"));
            Assert.Contains($"{path}:{line}:", e.Message);
            Assert.Contains(what, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MissingDataSaysWhatWasExpected()
    {
        string dir = TempDir();
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => ImdbReader.Load(dir));
            Assert.Contains("train.tsv", e.Message);
            Assert.Throws<DirectoryNotFoundException>(() => ImdbReader.Load(Path.Combine(dir, "nope")));
        }
        finally { Directory.Delete(dir, true); }
    }

    // ---- the IMDB sample's data ----

    [Fact]
    public void SyntheticImdbHasImdbShapedStatistics()
    {
        var (train, test) = SyntheticImdb.Generate(7, 4000, 1000);
        Assert.Equal(4000, train.Count); Assert.Equal(1000, test.Count);
        Assert.Equal(2000, train.Y.Count(y => y == 1)); // exactly balanced, like the real split
        Assert.Equal(500, test.Y.Count(y => y == 1));
        var lens = train.X.Select(x => x.Length).Order().ToArray();
        Assert.InRange(lens[lens.Length / 2], 160, 195);        // real: median 178
        Assert.InRange(lens.Average(), 200, 270);                // real: mean 239
        Assert.InRange(lens.Count(l => l > 500) / 4000.0, 0.04, 0.15); // long tail (real: 8%)
        Assert.True(lens[0] >= 10 && lens[^1] <= 2500, $"lengths {lens[0]}..{lens[^1]}");
        Assert.All(train.X, x => Assert.Equal(KerasTokenizerConfig.ImdbStartChar, x[0]));
        Assert.All(train.X, x => Assert.All(x.AsSpan(1).ToArray(), id => Assert.InRange(id, 2, SyntheticImdb.VocabSize - 1)));
        long words = train.X.Sum(x => x.Length - 1L), oov = train.X.Sum(x => x.Count(id => id == KerasTokenizerConfig.ImdbOovChar));
        Assert.InRange(oov / (double)words, 0.02, 0.035);        // real with num_words=20000: 2.8%
    }

    [Fact]
    public void SyntheticImdbIsDeterministicBySeed()
    {
        var a = SyntheticImdb.Generate(11, 300, 100);
        var b = SyntheticImdb.Generate(11, 300, 100);
        var c = SyntheticImdb.Generate(12, 300, 100);
        Assert.Equal(a.Train.Y, b.Train.Y); Assert.Equal(a.Test.Y, b.Test.Y);
        for (int i = 0; i < 300; i++) Assert.Equal(a.Train.X[i], b.Train.X[i]);
        for (int i = 0; i < 100; i++) Assert.Equal(a.Test.X[i], b.Test.X[i]);
        Assert.NotEqual(a.Train.X[0], c.Train.X[0]);
        Assert.NotEqual(a.Train.Y, c.Train.Y);
    }

    [Fact]
    public void BagOfWordsStaysClearlyBelowTheOrderAwareRule()
    {
        var (train, test) = SyntheticImdb.Generate(3, 6000, 3000);
        double rule = SyntheticImdb.RuleAccuracy(test, ImdbData.MaxLen);
        var bow = BagOfWords.Evaluate(train, test, ImdbData.MaxLen);
        // An order-blind reading of the same lexicon: count positive minus negative words, ignoring negators.
        var pos = SyntheticImdb.Positive.ToHashSet(); var neg = SyntheticImdb.Negative.ToHashSet();
        int blind = 0;
        for (int i = 0; i < test.Count; i++)
        {
            int s = 0;
            foreach (int id in ImdbData.Window(test.X[i], ImdbData.MaxLen)) s += pos.Contains(id) ? 1 : neg.Contains(id) ? -1 : 0;
            if ((s >= 0 ? 1 : 0) == test.Y[i]) blind++;
        }
        double blindAcc = blind / (double)test.Count;
        Assert.True(rule >= 0.90, $"order-aware rule {rule:P2}");
        Assert.True(bow.Test <= 0.80 && bow.Test <= rule - 0.12, $"bag of words {bow.Test:P2} vs rule {rule:P2}");
        Assert.True(bow.Test >= 0.60, $"bag of words {bow.Test:P2}: the words must still carry some signal");
        Assert.True(blindAcc <= rule - 0.12, $"order-blind lexicon {blindAcc:P2} vs rule {rule:P2}");
    }

    [Fact]
    public void RealReviewGlueEncodesWithTheWordIndexAndPadsPrePre()
    {
        string dir = TempDir();
        try
        {
            File.WriteAllText(Path.Combine(dir, "train.tsv"), TrainTsv);
            File.WriteAllText(Path.Combine(dir, "test.tsv"), TestTsv);
            File.WriteAllBytes(Path.Combine(dir, "imdb_word_index.json"),
                Encoding.UTF8.GetBytes("{\"dull\": 1, \"avoid\": 2, \"great\": 3, \"film\": 4, \"br\": 5, \"it\": 6}"));
            var (train, test) = ImdbData.LoadReal(dir, numWords: 9);
            Assert.Equal(new[] { 1, 4, 8, 5 }, train.X[0]);            // dull br avoid
            Assert.Equal(new[] { 1, 6, 7, 2, 2, 2 }, train.X[1]);      // great film with(oov) a(oov) tab(oov)
            Assert.Equal(new[] { 1, 2, 2 }, test.X[0]);                 // loved(oov) it(6+3 = 9 ≥ num_words)
            Assert.Equal(new[] { 0, 1 }, train.Y);
            var (tokens, labels) = ImdbData.Pack(train, maxlen: 5);
            Assert.Equal(new[] { 0, 1, 4, 8, 5, /**/ 6, 7, 2, 2, 2 }, tokens); // pre-padding, pre-truncating
            Assert.Equal(new[] { 0f, 1f }, labels);
            // Without the index file, ranks come from the training texts (all counts 1: first occurrence decides).
            File.Delete(Path.Combine(dir, "imdb_word_index.json"));
            var (t2, _) = ImdbData.LoadReal(dir, numWords: 20000);
            Assert.Equal(new[] { 1, 4, 5, 6 }, t2.X[0]);
            Assert.Equal(new[] { 1, 7, 8, 9, 10, 11 }, t2.X[1]);
        }
        finally { Directory.Delete(dir, true); }
    }
    [Fact]
    public void ImdbSampleSetIsTheSameForAnyThreadCount()
    {
        string dir = TempDir();
        try
        {
            // Enough reviews for several of the encoder's chunks (256 reviews each).
            var sb = new StringBuilder("split\tlabel\tid\trating\ttext\n");
            for (int i = 0; i < 700; i++) sb.Append(CultureInfo.InvariantCulture, $"train\t{i % 2}\t{i}\t{(i % 2 == 0 ? 3 : 8)}\tgreat film {i % 7} dull br avoid {i}\n");
            File.WriteAllText(Path.Combine(dir, "train.tsv"), sb.ToString());
            File.WriteAllText(Path.Combine(dir, "test.tsv"), sb.ToString().Replace("train\t", "test\t", StringComparison.Ordinal));
            File.WriteAllBytes(Path.Combine(dir, "imdb_word_index.json"),
                Encoding.UTF8.GetBytes("{\"dull\": 1, \"avoid\": 2, \"great\": 3, \"film\": 4, \"br\": 5, \"3\": 6}"));
            foreach (bool packed in new[] { false, true })
            {
                var one = ImdbSet.Real(dir, null, 20000, 6, packed, threads: 1);
                var two = ImdbSet.Real(dir, null, 20000, 6, packed, threads: 2);
                Assert.Equal(one.TrainTokens, two.TrainTokens); Assert.Equal(one.TestTokens, two.TestTokens);
                Assert.Equal(one.TrainLabels, two.TrainLabels); Assert.Equal(one.TestLabels, two.TestLabels);
                Assert.Equal(one.TrainLengths, two.TrainLengths); Assert.Equal(one.TestLengths, two.TestLengths);
                Assert.Equal(700 * 6, one.TrainTokens.Length);
                // Review 3, "great film 3 dull br avoid 3", is [1, 6, 7, 9, 4, 8, 5, 9]: its last 6 ids kept, either padding.
                Assert.Equal(new[] { 7, 9, 4, 8, 5, 9 }, one.TestTokens.AsSpan(3 * 6, 6).ToArray());
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
