using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace Rnn.IO;

/// <summary>
/// One tensor to write: a name, a row-major shape and its elements. The data is borrowed, not copied:
/// it must not change until the save returns. Shape and length are checked by the save.
/// </summary>
public readonly struct NamedTensor
{
    private readonly ReadOnlyMemory<float> _f32;
    private readonly ReadOnlyMemory<double> _f64;
    private readonly ReadOnlyMemory<int> _i32;
    private readonly ReadOnlyMemory<long> _i64;
    private readonly ReadOnlyMemory<ushort> _bf16;
    private readonly ReadOnlyMemory<sbyte> _i8;

    /// <summary>The tensor's name (any string but <c>__metadata__</c>).</summary>
    public string Name { get; }
    /// <summary>The shape, row-major; the product of the dimensions must equal the data length.</summary>
    public IReadOnlyList<int> Shape { get; }
    /// <summary>The element type written: F32, F64, I32, I64, BF16 or I8.</summary>
    public SafeTensorsDType DType { get; }

    private NamedTensor(string name, int[] shape, SafeTensorsDType dtype,
        ReadOnlyMemory<float> f32 = default, ReadOnlyMemory<double> f64 = default,
        ReadOnlyMemory<int> i32 = default, ReadOnlyMemory<long> i64 = default,
        ReadOnlyMemory<ushort> bf16 = default, ReadOnlyMemory<sbyte> i8 = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name; Shape = (int[])shape.Clone(); DType = dtype;
        _f32 = f32; _f64 = f64; _i32 = i32; _i64 = i64; _bf16 = bf16; _i8 = i8;
    }

    /// <summary>A float tensor, written as F32.</summary>
    public static NamedTensor F32(string name, int[] shape, ReadOnlyMemory<float> data) => new(name, shape, SafeTensorsDType.F32, f32: data);
    /// <summary>A double tensor, written as F64.</summary>
    public static NamedTensor F64(string name, int[] shape, ReadOnlyMemory<double> data) => new(name, shape, SafeTensorsDType.F64, f64: data);
    /// <summary>An int tensor (e.g. token ids), written as I32.</summary>
    public static NamedTensor I32(string name, int[] shape, ReadOnlyMemory<int> data) => new(name, shape, SafeTensorsDType.I32, i32: data);
    /// <summary>A long tensor (PyTorch's default integer type), written as I64.</summary>
    public static NamedTensor I64(string name, int[] shape, ReadOnlyMemory<long> data) => new(name, shape, SafeTensorsDType.I64, i64: data);

    /// <summary>A bfloat16 tensor (each element the top 16 bits of a float32), written as BF16.</summary>
    public static NamedTensor BF16(string name, int[] shape, ReadOnlyMemory<ushort> data) => new(name, shape, SafeTensorsDType.BF16, bf16: data);
    /// <summary>A signed 8-bit tensor (e.g. quantised weights), written as I8.</summary>
    public static NamedTensor I8(string name, int[] shape, ReadOnlyMemory<sbyte> data) => new(name, shape, SafeTensorsDType.I8, i8: data);

    /// <summary>Number of elements in the data.</summary>
    public int Length => DType switch
    {
        SafeTensorsDType.F32 => _f32.Length,
        SafeTensorsDType.F64 => _f64.Length,
        SafeTensorsDType.I32 => _i32.Length,
        SafeTensorsDType.BF16 => _bf16.Length,
        SafeTensorsDType.I8 => _i8.Length,
        _ => _i64.Length,
    };

    /// <summary>The data as little-endian bytes (the machine is little-endian: checked by the writer).</summary>
    internal ReadOnlySpan<byte> Bytes => DType switch
    {
        SafeTensorsDType.F32 => MemoryMarshal.AsBytes(_f32.Span),
        SafeTensorsDType.F64 => MemoryMarshal.AsBytes(_f64.Span),
        SafeTensorsDType.I32 => MemoryMarshal.AsBytes(_i32.Span),
        SafeTensorsDType.BF16 => MemoryMarshal.AsBytes(_bf16.Span),
        SafeTensorsDType.I8 => MemoryMarshal.AsBytes(_i8.Span),
        _ => MemoryMarshal.AsBytes(_i64.Span),
    };
}

/// <summary>
/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes
/// of UTF-8 JSON <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {string: string}}</c>, then the raw little-endian byte buffer, which the tensors' offsets
/// (relative to the buffer start) must cover exactly. Files written here are byte-identical to the reference
/// writer's (tensors ordered by descending dtype then name, compact JSON, header padded with spaces to a
/// multiple of 8); metadata keys are written in ordinal order (the reference uses a hash map's order).
/// </summary>
public static class SafeTensors
{
    /// <summary>The reference implementation's limit on the header length (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    internal const string MetadataKey = "__metadata__";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes tensors and optional metadata to <paramref name="path"/> atomically: the data is streamed to a
    /// temporary file in the same folder, flushed to disk and renamed over the target, so a failed save
    /// leaves any previous file intact. Throws <see cref="ArgumentException"/> for a duplicate or reserved
    /// name, a negative dimension, or a data length that does not match the shape.
    /// </summary>
    public static void Save(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var prepared = Prepare(tensors, metadata);
        AtomicFile.Write(path, prepared.WriteTo);
    }

    /// <summary>The bytes <see cref="Save"/> would write.</summary>
    public static byte[] Serialize(IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var prepared = Prepare(tensors, metadata);
        var ms = new MemoryStream();
        prepared.WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>
    /// Saves parameters by name (float as F32, double as F64), e.g. a model's <c>Parameters</c>.
    /// The parameters' values are read, not copied; see <see cref="Save"/>.
    /// </summary>
    public static void SaveParameters<T>(string path, IEnumerable<Parameter<T>> parameters, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Save(path, parameters.Select(ToTensor), metadata);
    }

    private static NamedTensor ToTensor<T>(Parameter<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return NamedTensor.F32(p.Name, p.Shape, (float[])(object)p.Value);
        if (typeof(T) == typeof(double)) return NamedTensor.F64(p.Name, p.Shape, (double[])(object)p.Value);
        throw new NotSupportedException($"{p.Name}: safetensors saving supports float and double parameters, got {typeof(T).Name}.");
    }

    /// <summary>
    /// Opens and validates a safetensors file (header, dtypes, shapes, offsets, coverage of the byte buffer).
    /// Tensor data is read on demand; dispose the result to close the file. Throws
    /// <see cref="SafeTensorsException"/> for any invalid content.
    /// </summary>
    public static SafeTensorsFile Load(string path) => SafeTensorsFile.Open(path);

    /// <summary>Validates a safetensors image held in memory; <paramref name="source"/> names it in messages.</summary>
    public static SafeTensorsFile Deserialize(ReadOnlyMemory<byte> bytes, string source = "<memory>") => SafeTensorsFile.FromMemory(bytes, source);

    /// <summary>
    /// Loads a file into parameters in place: every parameter must be present with its exact shape and a
    /// floating-point dtype, and (unless <paramref name="allowUnexpected"/>) the file must hold nothing else.
    /// Everything is checked before any value is written.
    /// </summary>
    public static void LoadInto<T>(string path, IEnumerable<Parameter<T>> parameters, bool allowUnexpected = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = Load(path);
        file.ReadInto(parameters, allowUnexpected);
    }

    // ---- writing ----

    private sealed class Prepared(byte[] header, NamedTensor[] order)
    {
        public void WriteTo(Stream s)
        {
            Span<byte> n = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
            s.Write(n);
            s.Write(header);
            foreach (var t in order) s.Write(t.Bytes);
        }
    }

    private static Prepared Prepare(IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors IO needs a little-endian machine.");
        var list = new List<(byte[] Name, NamedTensor T)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (t.Name is null) throw new ArgumentException("tensors: a tensor has no name (default NamedTensor).", nameof(tensors));
            if (t.Name == MetadataKey) throw new ArgumentException($"tensors: the name '{MetadataKey}' is reserved for metadata.", nameof(tensors));
            if (!seen.Add(t.Name)) throw new ArgumentException($"tensors: duplicate name '{t.Name}'.", nameof(tensors));
            long n = 1;
            foreach (int d in t.Shape)
            {
                if (d < 0) throw new ArgumentException($"tensors: '{t.Name}': expected non-negative dimensions, got shape {ShapeText(t.Shape)}.", nameof(tensors));
                n = checked(n * d);
            }
            if (n != t.Length)
                throw new ArgumentException($"tensors: '{t.Name}': shape {ShapeText(t.Shape)} needs {n} elements, got {t.Length}.", nameof(tensors));
            list.Add((Utf8(t.Name, "tensor name"), t));
        }
        // The reference writer's order: descending dtype (so larger alignments come first), then name bytes.
        list.Sort((a, b) => a.T.DType != b.T.DType ? b.T.DType.CompareTo(a.T.DType) : a.Name.AsSpan().SequenceCompareTo(b.Name));

        var json = new MemoryStream();
        json.WriteByte((byte)'{');
        bool first = true;
        if (metadata != null)
        {
            json.Write(JsonString(Utf8(MetadataKey, "")));
            json.Write(":{"u8);
            bool firstKey = true;
            foreach (var (k, v) in metadata.Select(kv => (Utf8(kv.Key, "metadata key"), Utf8(kv.Value ?? throw new ArgumentException($"metadata: '{kv.Key}' has a null value.", nameof(metadata)), "metadata value")))
                                           .OrderBy(kv => kv.Item1, ByteOrder.Instance))
            {
                if (!firstKey) json.WriteByte((byte)',');
                firstKey = false;
                json.Write(JsonString(k)); json.WriteByte((byte)':'); json.Write(JsonString(v));
            }
            json.WriteByte((byte)'}');
            first = false;
        }
        long offset = 0;
        foreach (var (name, t) in list)
        {
            if (!first) json.WriteByte((byte)',');
            first = false;
            long bytes = (long)t.Length * t.DType.Size();
            json.Write(JsonString(name));
            json.Write(Encoding.ASCII.GetBytes(
                $":{{\"dtype\":\"{t.DType.Name()}\",\"shape\":[{string.Join(",", t.Shape)}],\"data_offsets\":[{offset},{offset + bytes}]}}"));
            offset += bytes;
        }
        json.WriteByte((byte)'}');
        while (json.Length % 8 != 0) json.WriteByte((byte)' ');
        return new Prepared(json.ToArray(), list.Select(x => x.T).ToArray());
    }

    private static byte[] Utf8(string s, string what)
    {
        try { return StrictUtf8.GetBytes(s); }
        catch (EncoderFallbackException e) { throw new ArgumentException($"{what} '{s}' is not valid Unicode (lone surrogate).", e); }
    }

    // serde_json's escaping: quote, backslash, the short control escapes, other controls as \u00xx; the rest raw UTF-8.
    private static byte[] JsonString(byte[] utf8)
    {
        var o = new List<byte>(utf8.Length + 2) { (byte)'"' };
        foreach (byte c in utf8)
        {
            switch (c)
            {
                case (byte)'"': o.Add((byte)'\\'); o.Add((byte)'"'); break;
                case (byte)'\\': o.Add((byte)'\\'); o.Add((byte)'\\'); break;
                case (byte)'\b': o.Add((byte)'\\'); o.Add((byte)'b'); break;
                case (byte)'\f': o.Add((byte)'\\'); o.Add((byte)'f'); break;
                case (byte)'\n': o.Add((byte)'\\'); o.Add((byte)'n'); break;
                case (byte)'\r': o.Add((byte)'\\'); o.Add((byte)'r'); break;
                case (byte)'\t': o.Add((byte)'\\'); o.Add((byte)'t'); break;
                case < 0x20:
                    o.AddRange("\\u00"u8);
                    o.Add((byte)"0123456789abcdef"[c >> 4]); o.Add((byte)"0123456789abcdef"[c & 15]);
                    break;
                default: o.Add(c); break;
            }
        }
        o.Add((byte)'"');
        return o.ToArray();
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? a, byte[]? b) => a.AsSpan().SequenceCompareTo(b);
    }

    internal static string ShapeText(IEnumerable<int> shape) => "(" + string.Join(", ", shape) + ")";
    internal static string ShapeText(IEnumerable<long> shape) => "(" + string.Join(", ", shape) + ")";
}
