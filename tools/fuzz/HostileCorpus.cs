using System.Buffers.Binary;
using System.Text;
using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Fuzz;

/// <summary>
/// Hostile inputs for every load route: real seed files (a checkpoint, a PyTorch state_dict, Keras weights), the
/// structural corruptions a reviewer tries by hand (hostile metadata, 0-byte tensors declaring huge shapes, truncation,
/// header lengths, huge strings) and seeded random mutations of the seeds. Compiled into Rnn.Tests (the fuzz test,
/// seconds) and into tools/fuzz (the long run); both feed the cases to <see cref="Routes"/>.
/// </summary>
public static class HostileCorpus
{
    /// <summary>A named input: which route family it was made for, and its bytes.</summary>
    public sealed record CorpusCase(string Name, byte[] Bytes);

    /// <summary>The seeds: (route kind, bytes). Kinds: "checkpoint", "pytorch", "keras".</summary>
    public static List<(string Kind, byte[] Bytes)> Seeds()
    {
        var spec = new ModelSpec { Vocab = 60, EmbeddingDim = 6, MaskZero = true, Cell = CellKind.Lstm, Hidden = 5, Layers = 2, Bidirectional = true, OutputSize = 1 };
        using var model = new SequenceModel<float>(spec, new Rng(7));
        var meta = spec.ToMetadata();
        meta["imdb.maxlen"] = "100";
        meta["imdb.vocab"] = string.Join("\n", Enumerable.Range(0, 40).Select(i => "w" + i));
        byte[] ckpt = SafeTensors.Serialize(model.NamedParameters.Select(np => NamedTensor.F32(np.Name, np.Parameter.Shape, np.Parameter.Value)), meta);

        var tspec = spec with { Init = InitScheme.PyTorch, MaskZero = false, Cell = CellKind.Gru, Bidirectional = false };
        using var torch = new SequenceModel<float>(tspec, new Rng(8));
        byte[] pt = SafeTensors.Serialize(torch.NamedParameters.Select(np => NamedTensor.F32(np.Name, np.Parameter.Shape, np.Parameter.Value)));

        var r = new Rng(9);
        float[] W(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() - 0.5); return a; }
        byte[] keras = SafeTensors.Serialize([
            NamedTensor.F32("lstm/lstm_cell/kernel", [KerasIn, 4 * KerasH], W(KerasIn * 4 * KerasH)),
            NamedTensor.F32("lstm/lstm_cell/recurrent_kernel", [KerasH, 4 * KerasH], W(KerasH * 4 * KerasH)),
            NamedTensor.F32("lstm/lstm_cell/bias", [4 * KerasH], W(4 * KerasH)),
            NamedTensor.F32("gru/gru_cell/kernel", [KerasIn, 3 * KerasH], W(KerasIn * 3 * KerasH)),
            NamedTensor.F32("gru/gru_cell/recurrent_kernel", [KerasH, 3 * KerasH], W(KerasH * 3 * KerasH)),
            NamedTensor.F32("gru/gru_cell/bias", [2, 3 * KerasH], W(6 * KerasH)),
            NamedTensor.F32("dense/kernel", [KerasH, 2], W(KerasH * 2)),
            NamedTensor.F32("dense/bias", [2], W(2)),
            NamedTensor.F32("embedding/embeddings", [KerasVocab, KerasIn], W(KerasVocab * KerasIn)),
        ]);
        return [("checkpoint", ckpt), ("pytorch", pt), ("keras", keras)];
    }

    /// <summary>Sizes of the Keras seed's layers (the Keras route builds its layers with them).</summary>
    public const int KerasIn = 4, KerasH = 3, KerasVocab = 20;

    /// <summary>The hand-made structural corruptions of the seeds.</summary>
    public static IEnumerable<CorpusCase> Structural(List<(string Kind, byte[] Bytes)> seeds)
    {
        var ckpt = seeds[0].Bytes;
        var (header, data) = Split(ckpt);
        // Hostile metadata: sizes that would allocate gigabytes, overflow, or break the model's own checks.
        foreach (var (k, v) in new[] {
            ("rnn.layers", "64"), ("rnn.hidden", "2048"), ("rnn.vocab", "40000000"), ("rnn.hidden", "2147483647"), ("rnn.hidden", "1073741824"),
            ("rnn.hidden", "536870912"), ("rnn.vocab", "2147483647"), ("rnn.embedding_dim", "2147483647"), ("rnn.output_size", "2147483647"),
            ("rnn.layers", "0"), ("rnn.layers", "-1"), ("rnn.layers", "65"), ("rnn.hidden", "0"), ("rnn.hidden", "-5"), ("rnn.hidden", "2147483648"),
            ("rnn.hidden", "1e9"), ("rnn.hidden", ""), ("rnn.cell", "2"), ("rnn.cell", ""), ("rnn.cell", "Lstm, Gru"), ("rnn.format", "2"),
            ("rnn.dropout_between", "NaN"), ("rnn.head_dropout", "1"), ("rnn.init", new string('x', 5_000_000)), ("rnn.output_activation", "softmax"),
            ("rnn.mask_zero", "maybe"), ("rnn.per_step", "true"), ("rnn.bidirectional", "false"), ("rnn.input_size", "2147483647") })
        {
            yield return new($"meta {k}={Short(v)}", WithMetadata(header, data, k, v));
        }
        yield return new("meta layers=64 hidden=2048", WithMetadata(Split(WithMetadata(header, data, "rnn.layers", "64")).Header, data, "rnn.hidden", "2048"));
        yield return new("meta key removed", WithMetadata(header, data, "rnn.hidden", null));
        yield return new("no metadata", StripMetadata(ckpt));
        // 0-byte tensors declaring huge shapes, for the PyTorch route.
        foreach (var (name, shape) in new[] { ("fc.weight", "[30000000,0]"), ("fc.weight", "[1099511627776,0]"), ("embedding.weight", "[50,0]"),
            ("embedding.weight", "[0,6]"), ("rnn.weight_ih_l0", "[0,6]"), ("rnn.weight_hh_l0", "[15,0]"), ("rnn.weight_ih_l0", "[4294967296,0]"),
            ("rnn.weight_ih_l65", "[15,0]") })
            yield return new($"pytorch 0-byte {name} {shape}", ZeroByteTensor(seeds[1].Bytes, name, shape));
        yield return new("keras 0-byte kernel", ZeroByteTensor(seeds[2].Bytes, "lstm/lstm_cell/kernel", "[4,0,3]"));
        // Layout: lengths, truncation, sizes.
        yield return new("empty", []);
        yield return new("7 bytes", ckpt[..7]);
        yield return new("header only", ckpt[..(8 + header.Length)]);
        foreach (int cut in new[] { 9, 100, ckpt.Length / 2, ckpt.Length - 1 }) yield return new($"truncated at {cut}", ckpt[..cut]);
        foreach (ulong n in new[] { 0UL, 1UL, (ulong)header.Length + 1, 100_000_001UL, ulong.MaxValue, 1UL << 63 })
        {
            var b = (byte[])ckpt.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(b, n);
            yield return new($"header length {n}", b);
        }
        yield return new("5 MB dtype", Rewrite(header, data, h => h.Replace("\"F32\"", "\"" + new string('Q', 5_000_000) + "\"")));
        yield return new("5 MB tensor name", Rewrite(header, data, h => h.Replace("\"fc.bias\"", "\"" + new string('n', 5_000_000) + "\"")));
        yield return new("deep nesting", Rewrite(header, data, h => h.Insert(1, "\"x\":" + new string('[', 10_000) + new string(']', 10_000) + ",")));
        yield return new("random bytes", RandomBytes(new Rng(3), 4096));
        // The most objects a small file can ask the parser for: 50,000 0-byte tensors (their header costs ~58 bytes each).
        yield return new("50000 tiny tensors", Join("{" + string.Join(",", Enumerable.Range(0, 50_000).Select(i => $"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")) + "}", []));
        yield return new("dtype I64", Rewrite(header, data, h => ReplaceFirst(h, "\"F32\"", "\"I32\"")));
        yield return new("dtype F16 half the bytes", Rewrite(header, data, h => ReplaceFirst(h, "\"F32\"", "\"F16\"")));
        yield return new("duplicate vocabulary word", WithMetadata(header, data, "imdb.vocab", "a\nb\na"));
        yield return new("imdb.maxlen huge", WithMetadata(header, data, "imdb.maxlen", "30000000"));
    }

    /// <summary>Random mutations of a seed: bit flips, byte runs, digit edits in the header, splices and cuts.</summary>
    public static byte[] Mutate(byte[] seed, Rng r)
    {
        var b = new List<byte>(seed);
        int edits = 1 + (int)(r.NextUInt64() % 4);
        for (int e = 0; e < edits; e++)
        {
            if (b.Count == 0) { b.Add((byte)r.NextUInt64()); continue; }
            int headerEnd = b.Count >= 8 ? (int)Math.Min((ulong)b.Count, 8 + Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b.GetRange(0, 8).ToArray()), (ulong)b.Count)) : b.Count;
            // Most edits land in the header, where the structure is.
            int at = r.NextDouble() < 0.8 && headerEnd > 0 ? (int)(r.NextUInt64() % (ulong)headerEnd) : (int)(r.NextUInt64() % (ulong)b.Count);
            switch (r.NextUInt64() % 9)
            {
                case 0: b[at] ^= (byte)(1 << (int)(r.NextUInt64() % 8)); break;
                case 1: b[at] = (byte)r.NextUInt64(); break;
                case 2: b[at] = (byte)"0123456789"[(int)(r.NextUInt64() % 10)]; break;
                case 3: b.InsertRange(at, Encoding.ASCII.GetBytes(Interesting[(int)(r.NextUInt64() % (ulong)Interesting.Length)])); break;
                case 4: b.RemoveRange(at, Math.Min(b.Count - at, 1 + (int)(r.NextUInt64() % 16))); break;
                case 5: b.RemoveRange(at, b.Count - at); break;
                case 6: { int from = (int)(r.NextUInt64() % (ulong)b.Count), n = Math.Min(b.Count - from, 1 + (int)(r.NextUInt64() % 32)); b.InsertRange(at, b.GetRange(from, n)); break; }
                case 7: if (b.Count >= 8) { var n = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)Math.Max(0, headerEnd - 8 + (int)(r.NextUInt64() % 17) - 8)); for (int i = 0; i < 8; i++) b[i] = n[i]; } break;
                default: b[at] = (byte)"{}[]\":,-0e."[(int)(r.NextUInt64() % 11)]; break;
            }
        }
        return b.ToArray();
    }

    private static readonly string[] Interesting =
    [
        "2147483647", "2147483648", "4294967296", "-1", "0", "9223372036854775807", "18446744073709551616", "1e308", "NaN",
        "\"__metadata__\"", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I64\"", "\"BOOL\"", "\"F8_E4M3\"", ",0", "[0,0]", "1073741824", "65536", "64",
        "\\ud800", "\"rnn.hidden\":\"99999\",",
    ];

    // ---- helpers ----

    /// <summary>The seed's JSON header and data buffer.</summary>
    public static (string Header, byte[] Data) Split(byte[] file)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
        return (Encoding.UTF8.GetString(file, 8, n), file[(8 + n)..]);
    }

    /// <summary>A file from a JSON header and a data buffer.</summary>
    public static byte[] Join(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var b = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
        h.CopyTo(b, 8); data.CopyTo(b, 8 + h.Length);
        return b;
    }

    private static byte[] Rewrite(string header, byte[] data, Func<string, string> edit) => Join(edit(header), data);

    private static string ReplaceFirst(string s, string a, string b) { int i = s.IndexOf(a, StringComparison.Ordinal); return i < 0 ? s : s[..i] + b + s[(i + a.Length)..]; }

    /// <summary>The file with one metadata entry set (null removes it).</summary>
    public static byte[] WithMetadata(string header, byte[] data, string key, string? value)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(header);
        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!first) sb.Append(',');
            first = false;
            sb.Append(System.Text.Json.JsonSerializer.Serialize(p.Name, HostileJson.Default.String)).Append(':');
            if (p.Name != "__metadata__") { sb.Append(p.Value.GetRawText()); continue; }
            var d = p.Value.EnumerateObject().ToDictionary(x => x.Name, x => x.Value.GetString()!);
            if (value is null) d.Remove(key); else d[key] = value;
            sb.Append('{').Append(string.Join(",", d.Select(kv => Json(kv.Key) + ":" + Json(kv.Value)))).Append('}');
        }
        return Join(sb.Append('}').ToString(), data);
    }

    private static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s, HostileJson.Default.String);

    private static byte[] StripMetadata(byte[] file)
    {
        var (header, data) = Split(file);
        using var doc = System.Text.Json.JsonDocument.Parse(header);
        return Join("{" + string.Join(",", doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").Select(p => Json(p.Name) + ":" + p.Value.GetRawText())) + "}", data);
    }

    /// <summary>The file with one tensor replaced by a 0-byte tensor of the given shape (JSON array) at the end of the buffer.</summary>
    public static byte[] ZeroByteTensor(byte[] file, string name, string shape)
    {
        var (header, data) = Split(file);
        using var doc = System.Text.Json.JsonDocument.Parse(header);
        // Drop the tensor's bytes: rebuild the offsets of the others in their order.
        var entries = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__" && p.Name != name)
            .Select(p => (p.Name, DType: p.Value.GetProperty("dtype").GetString()!, Shape: p.Value.GetProperty("shape").GetRawText(),
                Begin: p.Value.GetProperty("data_offsets")[0].GetInt64(), End: p.Value.GetProperty("data_offsets")[1].GetInt64()))
            .OrderBy(e => e.Begin).ToList();
        var meta = doc.RootElement.TryGetProperty("__metadata__", out var m) ? m.GetRawText() : null;
        var ms = new MemoryStream();
        var parts = new List<string>();
        if (meta != null) parts.Add("\"__metadata__\":" + meta);
        foreach (var e in entries)
        {
            long at = ms.Length;
            ms.Write(data, (int)e.Begin, (int)(e.End - e.Begin));
            parts.Add($"{Json(e.Name)}:{{\"dtype\":\"{e.DType}\",\"shape\":{e.Shape},\"data_offsets\":[{at},{ms.Length}]}}");
        }
        parts.Add($"{Json(name)}:{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[{ms.Length},{ms.Length}]}}");
        return Join("{" + string.Join(",", parts) + "}", ms.ToArray());
    }

    private static byte[] RandomBytes(Rng r, int n) { var b = new byte[n]; for (int i = 0; i < n; i++) b[i] = (byte)r.NextUInt64(); return b; }

    private static string Short(string v) => v.Length <= 24 ? v : $"<{v.Length} chars>";
}

/// <summary>Source-generated JSON for strings (NativeAOT- and trimming-safe).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class HostileJson : System.Text.Json.Serialization.JsonSerializerContext;
