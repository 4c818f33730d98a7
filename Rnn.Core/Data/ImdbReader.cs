using System.IO.Compression;
using System.Text;

namespace Rnn.Data;

/// <summary>One labelled review: its raw text, label (1 = pos, 0 = neg), and the id and rating of its file name.</summary>
public readonly record struct ImdbReview(string Text, int Label, int Id, int Rating);

/// <summary>The official split: 25,000 training and 25,000 test reviews, each ordered neg then pos, by id.</summary>
public sealed record ImdbDataset(ImdbReview[] Train, ImdbReview[] Test);

/// <summary>
/// Reads the Stanford Large Movie Review Dataset from either layout:
/// the official <c>aclImdb</c> folders (<c>train/pos/*.txt</c>, <c>train/neg/*.txt</c>, <c>test/...</c>, files named
/// <c>&lt;id&gt;_&lt;rating&gt;.txt</c>), or a folder holding <c>train.tsv</c> and <c>test.tsv</c>, plain or gzipped
/// (<c>.tsv.gz</c>), with the header <c>split label id rating text</c> (TAB-separated; the text is the last column
/// and may itself contain TABs). Both give the same rows in the same order.
/// </summary>
public static class ImdbReader
{
    /// <summary>The TSV header line.</summary>
    public const string Header = "split\tlabel\tid\trating\ttext";

    /// <summary>Loads both splits from <paramref name="dir"/>, detecting the layout.</summary>
    public static ImdbDataset Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"dir: expected an IMDB folder, got '{dir}', which does not exist.");
        return new ImdbDataset(LoadSplit(dir, "train"), LoadSplit(dir, "test"));
    }

    /// <summary>Loads one split ("train" or "test") from <paramref name="dir"/>.</summary>
    public static ImdbReview[] LoadSplit(string dir, string split)
    {
        string folder = Path.Combine(dir, split);
        if (Directory.Exists(Path.Combine(folder, "pos")) && Directory.Exists(Path.Combine(folder, "neg")))
            return ReadFolder(folder);
        foreach (var name in new[] { split + ".tsv", split + ".tsv.gz" })
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path)) return ReadTsv(path, split);
        }
        throw new FileNotFoundException(
            $"dir: expected {split}/pos and {split}/neg (aclImdb layout) or {split}.tsv[.gz] in '{dir}', found neither.");
    }

    /// <summary>Reads an aclImdb split folder: neg (label 0) then pos (label 1), each by ascending id.</summary>
    public static ImdbReview[] ReadFolder(string splitFolder)
    {
        var rows = new List<ImdbReview>();
        foreach (var (sub, label) in new[] { ("neg", 0), ("pos", 1) })
        {
            var files = new List<(int Id, int Rating, string Path)>();
            foreach (var path in Directory.EnumerateFiles(Path.Combine(splitFolder, sub), "*.txt"))
            {
                string stem = Path.GetFileNameWithoutExtension(path);
                int u = stem.IndexOf('_');
                if (u < 0 || !int.TryParse(stem.AsSpan(0, u), out int id) || !int.TryParse(stem.AsSpan(u + 1), out int rating))
                    throw new InvalidDataException($"{path}: expected a file name <id>_<rating>.txt.");
                files.Add((id, rating, path));
            }
            files.Sort((a, b) => a.Id.CompareTo(b.Id));
            foreach (var f in files) rows.Add(new ImdbReview(File.ReadAllText(f.Path, Encoding.UTF8), label, f.Id, f.Rating));
        }
        return rows.ToArray();
    }

    /// <summary>
    /// Reads a train.tsv/test.tsv file (gzipped when the name ends in .gz). Every row must belong to
    /// <paramref name="split"/> when it is given. A malformed line throws <see cref="InvalidDataException"/>
    /// naming the file and the 1-based line number.
    /// </summary>
    public static ImdbReview[] ReadTsv(string path, string? split = null)
    {
        using Stream file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        return ReadTsv(s, path, split);
    }

    /// <summary>Reads TSV rows from a stream; <paramref name="name"/> is used in error messages.</summary>
    public static ImdbReview[] ReadTsv(Stream stream, string name, string? split = null)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var rows = new List<ImdbReview>();
        int lineNo = 0;
        string? line;
        try
        {
            line = reader.ReadLine(); lineNo = 1;
            if (line != Header) throw Bad(name, 1, $"expected the header '{Header.Replace("\t", "\\t")}', got '{Show(line)}'");
            while ((line = reader.ReadLine()) != null)
            {
                lineNo++;
                var f = line.Split('\t', 5); // the text is last and may hold TABs
                if (f.Length != 5) throw Bad(name, lineNo, $"expected 5 TAB-separated fields, got {f.Length}");
                if (split != null && f[0] != split) throw Bad(name, lineNo, $"expected split '{split}', got '{Show(f[0])}'");
                if (f[1] is not ("0" or "1")) throw Bad(name, lineNo, $"expected label 0 or 1, got '{Show(f[1])}'");
                if (!int.TryParse(f[2], out int id) || id < 0) throw Bad(name, lineNo, $"expected an id >= 0, got '{Show(f[2])}'");
                if (!int.TryParse(f[3], out int rating) || rating is < 1 or > 10) throw Bad(name, lineNo, $"expected a rating in 1..10, got '{Show(f[3])}'");
                rows.Add(new ImdbReview(f[4], f[1][0] - '0', id, rating));
            }
        }
        catch (DecoderFallbackException e) { throw Bad(name, lineNo + 1, "invalid UTF-8", e); }
        catch (InvalidDataException e) when (!e.Message.StartsWith(name + ":", StringComparison.Ordinal))
        {
            throw Bad(name, lineNo + 1, "corrupt compressed stream: " + e.Message, e); // from GZipStream
        }
        return rows.ToArray();
    }

    private static InvalidDataException Bad(string name, int line, string what, Exception? inner = null)
        => new($"{name}:{line}: {what}.", inner);

    private static string Show(string? s) => s is null ? "<end of file>" : s.Length > 40 ? s[..40] + "..." : s;
}
