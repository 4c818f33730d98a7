using System.IO.Compression;
using System.Text;
using Rnn.Data;
using Rnn.Fuzz;

namespace Rnn.Tests;

/// <summary>
/// The samples on a user's bad file or data folder (issue 17): one line naming the file, exit code 3, no stack trace;
/// an output target that cannot be written is a usage error (2) before any training.
/// </summary>
[Collection("Console")]
public class BadFileCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => SampleCli.RunWithInput("a great film\n", args);

    private static void AssertOneLine(int expectedCode, (int Code, string Out, string Err) r, params string[] contains)
    {
        Assert.True(r.Code == expectedCode, $"exit code {r.Code}, expected {expectedCode}: {r.Err}");
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.DoesNotContain("   at ", r.Err);
        foreach (var c in contains) Assert.Contains(c, r.Err);
    }

    private static string TempDir() { string d = Path.Combine(Path.GetTempPath(), "rnn-badcli-" + Guid.NewGuid().ToString("N")); Directory.CreateDirectory(d); return d; }

    [Fact]
    public void BadModelFilesExitWithCode3NamingTheFile()
    {
        string dir = TempDir();
        try
        {
            var seed = HostileCorpus.Seeds()[0].Bytes; // a token LSTM with imdb.vocab and imdb.maxlen, as imdb --save writes
            var (header, data) = HostileCorpus.Split(seed);
            var files = new (string Name, byte[] Bytes, string Says)[]
            {
                ("empty.safetensors", [], "expected at least 8 bytes"),
                ("truncated.safetensors", seed[..(seed.Length / 2)], "data_offsets"),
                ("hidden.safetensors", HostileCorpus.WithMetadata(header, data, "rnn.hidden", "2147483647"), "'rnn.hidden'"),
                ("vocab.safetensors", HostileCorpus.WithMetadata(header, data, "rnn.vocab", "40000000"), "'rnn.vocab'"),
                ("dup.safetensors", HostileCorpus.WithMetadata(header, data, "imdb.vocab", "a\nb\na"), "listed twice"),
                ("maxlen.safetensors", HostileCorpus.WithMetadata(header, data, "imdb.maxlen", "30000000"), "'imdb.maxlen'"),
                ("nometa.safetensors", HostileCorpus.WithMetadata(header, data, "imdb.maxlen", null), "imdb.maxlen"),
            };
            foreach (var (name, bytes, says) in files)
            {
                string path = Path.Combine(dir, name);
                File.WriteAllBytes(path, bytes);
                AssertOneLine(3, Run("classify", "--model", path), path, says);
            }
            if (OperatingSystem.IsLinux()) AssertOneLine(3, Run("classify", "--model", "/dev/null"), "/dev/null", "character device");
            Assert.Equal(2, Run("classify", "--model", Path.Combine(dir, "missing.safetensors")).Code); // a path that does not exist is a usage error
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadImdbDataExitsWithCode3NamingTheFile()
    {
        string root = TempDir();
        try
        {
            const string H = ImdbReader.Header + "\n";
            string Folder(string name, string? train, string? test = H + "test\t1\t1\t9\tgreat\n")
            {
                string d = Path.Combine(root, name);
                Directory.CreateDirectory(d);
                if (train != null) File.WriteAllText(Path.Combine(d, "train.tsv"), train);
                if (test != null) File.WriteAllText(Path.Combine(d, "test.tsv"), test);
                return d;
            }
            AssertOneLine(3, Run("imdb", "--data", Folder("empty", null, null)), "found neither");
            AssertOneLine(3, Run("imdb", "--data", Folder("zero", "")), "train.tsv:1", "expected the header");
            AssertOneLine(3, Run("imdb", "--data", Folder("header", H)), "expected reviews in both splits");
            AssertOneLine(3, Run("imdb", "--data", Folder("cols", H + "train\t1\t3\t9\n")), "train.tsv:2", "5 TAB-separated fields");
            AssertOneLine(3, Run("imdb", "--data", Folder("label", H + "train\t2\t3\t9\tgood\n")), "train.tsv:2", "label 0 or 1");
            AssertOneLine(3, Run("imdb", "--data", Folder("id", H + "train\t1\tabc\t9\tgood\n")), "train.tsv:2", "id");
            AssertOneLine(3, Run("imdb", "--data", Folder("notest", H + "train\t1\t3\t9\tgood\n", null)), "test.tsv");
            string idx = Folder("index", H + "train\t1\t3\t9\tgood\n");
            File.WriteAllText(Path.Combine(idx, "imdb_word_index.json"), "{\"the\": 1, \"and");
            AssertOneLine(3, Run("imdb", "--data", idx), "imdb_word_index.json", "malformed JSON");

            var text = new StringBuilder(H);
            for (int i = 0; i < 200; i++) text.Append($"train\t{i % 2}\t{i}\t{(i % 2 == 0 ? 2 : 9)}\treview {i}\n");
            var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(text.ToString()));
            string tg = Folder("truncgz", null);
            File.WriteAllBytes(Path.Combine(tg, "train.tsv.gz"), ms.ToArray()[..^4]);
            AssertOneLine(3, Run("imdb", "--data", tg), "train.tsv.gz", "truncated or corrupt gzip");
            string rg = Folder("randomgz", null);
            File.WriteAllBytes(Path.Combine(rg, "train.tsv.gz"), Enumerable.Range(0, 999).Select(i => (byte)(i * 7919 >> 3)).ToArray());
            AssertOneLine(3, Run("imdb", "--data", rg), "train.tsv.gz");
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void UnwritableOutputTargetsAreUsageErrorsBeforeTraining()
    {
        string dir = TempDir();
        try
        {
            foreach (var opt in new[] { "--report", "--save", "--plot" })
            {
                AssertOneLine(2, Run("imdb", "--epochs", "1", opt, dir), opt, "is a directory");
                if (OperatingSystem.IsLinux()) AssertOneLine(2, Run("imdb", "--epochs", "1", opt, "/proc/rnn-target"), opt, "/proc/rnn-target", "probe");
            }
            Assert.Empty(Directory.GetFiles(dir)); // no probe file left behind
        }
        finally { Directory.Delete(dir, true); }
    }
}
