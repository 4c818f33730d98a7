using System.Text.Json;

namespace Rnn.Data;

/// <summary>
/// Where a <see cref="KerasTokenizer"/>'s ids start: Keras's <c>load_data(start_char, oov_char, index_from)</c>.
/// <see cref="Imdb"/> is the IMDB set's (1, 2, 3).
/// </summary>
/// <param name="StartChar">The id every sequence starts with, or null for none.</param>
/// <param name="OovChar">The id of unknown words and of every id ≥ num_words.</param>
/// <param name="IndexFrom">Offset from a word's rank to its id (rank r → id r + IndexFrom).</param>
public sealed record KerasTokenizerConfig(int? StartChar, int OovChar, int IndexFrom)
{
    /// <summary>keras.datasets.imdb's start_char.</summary>
    public const int ImdbStartChar = 1;
    /// <summary>keras.datasets.imdb's oov_char.</summary>
    public const int ImdbOovChar = 2;
    /// <summary>keras.datasets.imdb's index_from.</summary>
    public const int ImdbIndexFrom = 3;
    /// <summary>The IMDB set's configuration: start 1, oov 2, index_from 3.</summary>
    public static KerasTokenizerConfig Imdb { get; } = new(ImdbStartChar, ImdbOovChar, ImdbIndexFrom);
}

/// <summary>
/// A Keras-compatible tokenizer (Tokenizer's text_to_word_sequence with its default filters, and load_data's id
/// scheme), configured by <see cref="KerasTokenizerConfig"/>; with <see cref="KerasTokenizerConfig.Imdb"/> (the default)
/// it turns review text into token ids the way Keras's <c>imdb.load_data</c> data was made:
/// <list type="number">
/// <item>ASCII letters are lowercased, other characters kept as they are;</item>
/// <item>each of <see cref="Filters"/> (Keras's Tokenizer filters, TAB and LF included) becomes a space;</item>
/// <item>the text is split on spaces, empty pieces dropped;</item>
/// <item>a word of frequency rank r (1 = most frequent) gets id r + 3 (index_from = 3); the sequence starts
/// with 1 (start_char); unknown words, and every id ≥ <see cref="NumWords"/> (load_data's num_words), become 2 (oov_char)
/// (other values through the configuration).</item>
/// </list>
/// Steps 1 and 3 are what reproduce Keras's <c>imdb_word_index.json</c> exactly: tokenised this way, the 25,000
/// training reviews have 88,584 distinct words, precisely the index's keys (it holds "Ángela" and "think\x85",
/// so the original lowercased bytes, not Unicode, and split on spaces only). Python 3's str.lower() with a
/// whitespace split gives 88,075 words, 27 of them missing from the index.
/// </summary>
public sealed class KerasTokenizer
{
    /// <summary>Keras's Tokenizer filters: these characters, TAB and LF each become a space.</summary>
    public const string Filters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";
    /// <summary>The id scheme.</summary>
    public KerasTokenizerConfig Config { get; }
    /// <summary>Id that starts every sequence (Keras start_char), or null for none.</summary>
    public int? StartChar => Config.StartChar;
    /// <summary>Id of out-of-vocabulary words (Keras oov_char).</summary>
    public int OovChar => Config.OovChar;
    /// <summary>Offset from a word's rank to its id (Keras index_from).</summary>
    public int IndexFrom => Config.IndexFrom;

    private static readonly bool[] IsFilter = BuildFilter();
    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    /// <summary>Ids ≥ this become <see cref="OovChar"/> (Keras num_words); int.MaxValue keeps every word.</summary>
    public int NumWords { get; }

    /// <summary>word → rank, 1-based (the Keras word index). Owned by the tokenizer; do not modify.</summary>
    public IReadOnlyDictionary<string, int> WordIndex => _ranks;

    private KerasTokenizer(Dictionary<string, int> ranks, int? numWords, KerasTokenizerConfig? config)
    {
        Config = config ?? KerasTokenizerConfig.Imdb;
        if (Config.IndexFrom < 0) throw new ArgumentOutOfRangeException(nameof(config), Config.IndexFrom, $"config.IndexFrom: expected >= 0, got {Config.IndexFrom}.");
        if (numWords is { } nw) Guard.AtLeast(nw, IndexFrom);
        _ranks = ranks;
        _lookup = ranks.GetAlternateLookup<ReadOnlySpan<char>>();
        NumWords = numWords ?? int.MaxValue;
    }

    /// <summary>Reads a Keras <c>imdb_word_index.json</c> (an object word → rank, 1-based).</summary>
    public static KerasTokenizer FromWordIndexFile(string path, int? numWords = 20000, KerasTokenizerConfig? config = null)
    {
        try { return FromWordIndexJson(File.ReadAllBytes(path), numWords, config); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    /// <summary>Parses a word index from UTF-8 JSON with <see cref="Utf8JsonReader"/> (no reflection, NativeAOT-safe).</summary>
    public static KerasTokenizer FromWordIndexJson(ReadOnlySpan<byte> utf8Json, int? numWords = 20000, KerasTokenizerConfig? config = null)
    {
        var ranks = new Dictionary<string, int>();
        var r = new Utf8JsonReader(utf8Json);
        try
        {
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
                throw new InvalidDataException($"expected a JSON object word → rank, got {r.TokenType} at byte {r.TokenStartIndex}.");
            while (r.Read() && r.TokenType != JsonTokenType.EndObject)
            {
                string word = r.GetString()!; // a property name: the reader guarantees it inside an object
                long at = r.TokenStartIndex;
                if (!r.Read() || r.TokenType != JsonTokenType.Number || !r.TryGetInt32(out int rank) || rank < 1)
                    throw new InvalidDataException($"word \"{word}\" at byte {at}: expected an integer rank >= 1, got {r.TokenType}.");
                if (!ranks.TryAdd(word, rank))
                    throw new InvalidDataException($"word \"{word}\" at byte {at}: listed twice.");
            }
        }
        catch (JsonException e) { throw new InvalidDataException($"malformed JSON: {e.Message}", e); }
        return new KerasTokenizer(ranks, numWords, config);
    }

    /// <summary>
    /// Ranks words by frequency over the given TRAINING texts only (as Keras's index was built), most frequent
    /// = 1. Ties are broken by first occurrence in the texts, in the order given — what Keras's Tokenizer
    /// does (a stable sort of an insertion-ordered count). Keras's own index breaks ties in an order that
    /// cannot be recovered, so ranks match it only between different counts.
    /// </summary>
    public static KerasTokenizer FromTexts(IEnumerable<string> trainTexts, int? numWords = 20000, KerasTokenizerConfig? config = null)
    {
        var index = new Dictionary<string, int>(); // word → first-occurrence order
        var counts = new List<long>();
        var lookup = index.GetAlternateLookup<ReadOnlySpan<char>>();
        char[] buf = new char[256];
        foreach (var text in trainTexts)
            ForEachWord(text, ref buf, w =>
            {
                if (lookup.TryGetValue(w, out int k)) counts[k]++;
                else { lookup[w] = counts.Count; counts.Add(1); }
            });
        var words = new string[index.Count];
        foreach (var (w, k) in index) words[k] = w;
        var order = Enumerable.Range(0, words.Length).ToArray();
        // Count descending, then first occurrence ascending: a total order, so the sort's stability is moot.
        Array.Sort(order, (a, b) => counts[a] != counts[b] ? counts[b].CompareTo(counts[a]) : a.CompareTo(b));
        var ranks = new Dictionary<string, int>(words.Length);
        for (int i = 0; i < order.Length; i++) ranks[words[order[i]]] = i + 1;
        return new KerasTokenizer(ranks, numWords, config);
    }

    /// <summary>A tokenizer from words listed in rank order (the first has rank 1), e.g. as saved by <see cref="RankedWords"/>.</summary>
    public static KerasTokenizer FromRankedWords(IEnumerable<string> words, int? numWords = 20000, KerasTokenizerConfig? config = null)
    {
        var ranks = new Dictionary<string, int>();
        foreach (var w in words)
            if (!ranks.TryAdd(w, ranks.Count + 1))
                throw new InvalidDataException($"words: \"{(w.Length <= 40 ? w : w[..40] + "...")}\" listed twice (at ranks {ranks[w]} and {ranks.Count + 1}).");
        return new KerasTokenizer(ranks, numWords, config);
    }

    /// <summary>The words that get their own id (rank + 3 &lt; NumWords), in rank order: enough to rebuild this tokenizer.</summary>
    public string[] RankedWords()
    {
        int keep = (int)Math.Min((long)NumWords - IndexFrom, int.MaxValue);
        var list = new string[Math.Min(keep, _ranks.Count)];
        foreach (var (w, r) in _ranks) if (r - 1 < list.Length) list[r - 1] = w;
        if (list.Any(w => w is null)) throw new InvalidOperationException("RankedWords: the word index has gaps in its ranks below NumWords.");
        return list;
    }

    /// <summary>The words of a text after lowercasing, filtering and splitting (Keras text_to_word_sequence).</summary>
    public static List<string> Words(string text)
    {
        var words = new List<string>();
        char[] buf = new char[256];
        ForEachWord(text, ref buf, w => words.Add(w.ToString()));
        return words;
    }

    /// <summary>Ids of a text: [start_char, id(w1), id(w2), ...], a new array owned by the caller.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>();
        if (StartChar is { } start) ids.Add(start);
        char[] buf = new char[256];
        ForEachWord(text, ref buf, w => ids.Add(Id(w)));
        return ids.ToArray();
    }

    /// <summary>Encodes every text; one array per text.</summary>
    public int[][] EncodeAll(IReadOnlyList<string> texts)
    {
        var x = new int[texts.Count][];
        for (int i = 0; i < x.Length; i++) x[i] = Encode(texts[i]);
        return x;
    }

    /// <summary>Id of one already-normalised word: rank + index_from, or oov_char when unknown or ≥ <see cref="NumWords"/>.</summary>
    public int Id(ReadOnlySpan<char> word)
    {
        if (!_lookup.TryGetValue(word, out int rank)) return OovChar;
        long id = (long)rank + IndexFrom;
        return id < NumWords ? (int)id : OovChar;
    }

    private delegate void WordAction(ReadOnlySpan<char> word);

    /// <summary>Calls <paramref name="onWord"/> with each normalised word, in order, from a reusable buffer.</summary>
    private static void ForEachWord(string text, ref char[] buf, WordAction onWord)
    {
        ArgumentNullException.ThrowIfNull(text);
        int len = 0;
        foreach (char ch in text)
        {
            char c = ch < 128 ? (IsFilter[ch] ? ' ' : (char)(ch is >= 'A' and <= 'Z' ? ch + 32 : ch)) : ch;
            if (c == ' ')
            {
                if (len > 0) { onWord(buf.AsSpan(0, len)); len = 0; }
                continue;
            }
            if (len == buf.Length) Array.Resize(ref buf, buf.Length * 2);
            buf[len++] = c;
        }
        if (len > 0) onWord(buf.AsSpan(0, len));
    }

    private static bool[] BuildFilter()
    {
        var f = new bool[128];
        foreach (char c in Filters) f[c] = true;
        return f;
    }
}
