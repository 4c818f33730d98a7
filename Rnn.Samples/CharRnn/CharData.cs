using System.Reflection;
using System.Text;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// Text for the character models: the default corpus is the engine's own C# source (Rnn.Core/**/*.cs),
/// embedded in this assembly at build time as resources named "corpus/&lt;path&gt;" and concatenated in ordinal
/// order of their paths, so every build of the same source trains on the same text with no download.
/// Reading resources is NativeAOT-safe. The vocabulary is the distinct characters in ordinal order.
/// </summary>
public sealed class CharData
{
    /// <summary>The text.</summary>
    public string Text { get; }
    /// <summary>Distinct characters, ordinal order; a character's id is its index.</summary>
    public char[] Vocab { get; }
    /// <summary>The text as ids (length = Text.Length).</summary>
    public int[] Ids { get; }
    /// <summary>Where the text came from (for the banner and the report).</summary>
    public string Source { get; }

    private readonly int[] _index = new int[char.MaxValue + 1];

    /// <summary>Builds the vocabulary and the id sequence of <paramref name="text"/>.</summary>
    public CharData(string text, string source)
    {
        if (text.Length < 2) throw new ArgumentException($"text: expected at least 2 characters, got {text.Length}.", nameof(text));
        Text = text; Source = source;
        Vocab = text.Distinct().Order().ToArray(); // char ordering is ordinal
        Array.Fill(_index, -1);
        for (int i = 0; i < Vocab.Length; i++) _index[Vocab[i]] = i;
        Ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++) Ids[i] = _index[text[i]];
    }

    /// <summary>Vocabulary size V.</summary>
    public int V => Vocab.Length;

    /// <summary>The id of a character, or −1 when it is not in the vocabulary.</summary>
    public int IdOf(char c) => _index[c];

    /// <summary>The embedded engine source, or the file at <paramref name="path"/> (UTF-8) when given.</summary>
    public static CharData Load(string? path)
    {
        if (path != null)
        {
            if (!File.Exists(path)) throw new Common.UsageException($"charrnn: --data: file '{path}' not found.");
            return new CharData(File.ReadAllText(path, Encoding.UTF8), path);
        }
        var (text, files) = EmbeddedCorpus();
        return new CharData(text, $"embedded Rnn.Core sources ({files} files)");
    }

    /// <summary>The embedded sources concatenated in ordinal order of their paths, and the number of files.</summary>
    public static (string Text, int Files) EmbeddedCorpus()
    {
        var asm = typeof(CharData).Assembly;
        // RecursiveDir uses the build machine's separator; normalise it so the order is the same everywhere.
        var names = asm.GetManifestResourceNames()
            .Where(n => n.StartsWith("corpus/", StringComparison.Ordinal) || n.StartsWith("corpus\\", StringComparison.Ordinal))
            .Select(n => (Key: n.Replace('\\', '/'), Name: n))
            .OrderBy(n => n.Key, StringComparer.Ordinal)
            .ToArray();
        if (names.Length == 0) throw new InvalidOperationException("charrnn: no embedded corpus (resources 'corpus/*') in this build.");
        var sb = new StringBuilder();
        foreach (var (_, name) in names)
        {
            using var s = asm.GetManifestResourceStream(name)!;
            using var r = new StreamReader(s, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            sb.Append(r.ReadToEnd());
        }
        return (sb.ToString(), names.Length);
    }

    /// <summary>A printable form of a sample: control characters other than newline and tab shown as '·'.</summary>
    public static string Printable(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s) sb.Append(c is '\n' or '\t' || !char.IsControl(c) ? c : '·');
        return sb.ToString();
    }
}
