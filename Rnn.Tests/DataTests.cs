using System.IO.Compression;
using System.Text;
using Rnn.Data;
using Rnn.Init;

namespace Rnn.Tests;

public class DataTests
{
    // ---- tokenizer ----

    [Fact]
    public void WordsFollowKerasFiltersLowercasingAndSpaceSplitting()
    {
        Assert.Equal(new[] { "this", "film", "was", "just", "brilliant", "casting", "location", "scenery" },
            ImdbTokenizer.Words("this film was just brilliant,casting,location scenery"));
        // <br /> leaves "br"; the apostrophe is not a filter; runs of separators give no empty words.
        Assert.Equal(new[] { "great", "br", "br", "it's", "a", "10" },
            ImdbTokenizer.Words("Great!<br /><br />It's a 10..."));
        // TAB and LF are filters; ASCII uppercase is lowered, non-ASCII kept as is (as in Keras's index: "Ángela").
        Assert.Equal(new[] { "the", "end", "Ángela", "and", "josé" }, ImdbTokenizer.Words("THE\tEND\nÁngela AND José"));
        // Only spaces split (after filtering): U+0085 stays inside a word, as in the index's "think\x85".
        Assert.Equal(new[] { "think\u0085", "so" }, ImdbTokenizer.Words("think\u0085 so"));
        Assert.Equal(new[] { "a", "b", "c", "d", "e", "f" }, ImdbTokenizer.Words("a{b}c|d~e@f"));
        Assert.Empty(ImdbTokenizer.Words(" .,!? \t"));
    }

    private static readonly byte[] Index = Encoding.UTF8.GetBytes(
        "{\"the\": 1, \"and\": 2, \"a\": 3, \"film\": 4, \"br\": 5, \"good\": 6, \"not\": 7, \"it's\": 8}");

    [Fact]
    public void EncodeMapsRanksWithStartOovAndNumWords()
    {
        var all = ImdbTokenizer.FromWordIndexJson(Index, numWords: null);
        Assert.Equal(new[] { 1, 4, 7, 8, 2, 10, 9 }, all.Encode("The film<br />unknownword, not GOOD"));
        Assert.Equal(11, all.Encode("it's")[1]);
        // num_words = 9 keeps ids < 9: "not" (7+3) and "good" (6+3) become oov, as Keras's load_data does.
        var nine = ImdbTokenizer.FromWordIndexJson(Index, numWords: 9);
        Assert.Equal(new[] { 1, 4, 7, 8, 2, 2, 2 }, nine.Encode("The film<br />unknownword, not GOOD"));
        Assert.Equal(new[] { 1 }, nine.Encode(""));
        Assert.Equal(8, nine.WordIndex.Count);
    }

    [Fact]
    public void FrequencyRanksUseTrainingTextsWithTiesByFirstOccurrence()
    {
        // counts: b 3, a 2, c 2, d 1; a before c at equal count because a occurs first.
        var tok = ImdbTokenizer.FromTexts(["b a c", "c B a b", "d"], numWords: null);
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
        => Assert.Throws<InvalidDataException>(() => ImdbTokenizer.FromWordIndexJson(Encoding.UTF8.GetBytes(json)));

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
}
