using System.Buffers.Binary;
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
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return ReadTsv(file, path, split);
        // GZipStream ends quietly at a truncated member: check the trailer (CRC-32 and length of what was read).
        var trailer = new byte[8];
        if (file.Length < 18) throw Bad(path, 1, $"truncated gzip file: {file.Length} bytes, shorter than a gzip header and trailer");
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(trailer);
        file.Seek(0, SeekOrigin.Begin);
        using var crc = new Crc32Stream(new GZipStream(file, CompressionMode.Decompress, leaveOpen: true));
        var rows = ReadTsv(crc, path, split); // reads to the end of the stream (and disposes it)
        uint wantCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer), wantSize = BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4));
        if (crc.Crc != wantCrc || (uint)crc.Length != wantSize)
            throw new InvalidDataException($"{path}: truncated or corrupt gzip file: the trailer says {wantSize} bytes with CRC-32 {wantCrc:x8}, " +
                $"the stream gave {crc.Length} bytes with CRC-32 {crc.Crc:x8} (gzip -t reports the same; concatenated gzip members are not supported).");
        return rows;
    }

    // A read-only pass-through that keeps the CRC-32 (IEEE, as gzip) and the length of what was read.
    private sealed class Crc32Stream(Stream inner) : Stream
    {
        private static readonly uint[] Table = MakeTable();
        private uint _crc = 0xFFFFFFFF;
        public uint Crc => ~_crc;
        public override long Length => _read;
        private long _read;

        private static uint[] MakeTable()
        {
            var t = new uint[256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
                t[n] = c;
            }
            return t;
        }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            uint c = _crc;
            foreach (byte b in buffer[..n]) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
            _crc = c; _read += n;
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
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
            throw Bad(name, lineNo + 1, "corrupt compressed stream: " + e.Message.TrimEnd('.'), e); // from GZipStream
        }
        return rows.ToArray();
    }

    private static InvalidDataException Bad(string name, int line, string what, Exception? inner = null)
        => new($"{name}:{line}: {what}.", inner);

    private static string Show(string? s) => s is null ? "<end of file>" : s.Length > 40 ? s[..40] + "..." : s;
}
