using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace Rnn.IO;

/// <summary>One tensor's header entry. Offsets are relative to the start of the byte buffer.</summary>
public sealed class SafeTensorInfo
{
    // Built by the parser before validation, so the counts are kept unsigned until the file is known good.
    internal SafeTensorInfo(string name, SafeTensorsDType dtype, long[] shape, ulong elements, ulong begin, ulong end)
    {
        Name = name; DType = dtype; _shape = shape; Elements = elements; UBegin = begin; UEnd = end;
    }

    private readonly long[] _shape;
    internal readonly ulong Elements, UBegin, UEnd;
    /// <summary>The tensor's name.</summary>
    public string Name { get; }
    /// <summary>The element type.</summary>
    public SafeTensorsDType DType { get; }
    /// <summary>The shape, row-major (empty for a scalar).</summary>
    public IReadOnlyList<long> Shape => _shape;
    /// <summary>Product of the shape (1 for a scalar).</summary>
    public long ElementCount => (long)Elements;
    /// <summary>First byte in the buffer.</summary>
    public long Begin => (long)UBegin;
    /// <summary>One past the last byte in the buffer.</summary>
    public long End => (long)UEnd;
    /// <summary>Shape as text, e.g. "(4, 2)".</summary>
    public string ShapeText => SafeTensors.ShapeText(_shape);
}

/// <summary>
/// A validated safetensors file: names, shapes, dtypes and metadata, with typed reads of the data. Reads go to
/// the open file on demand (positional, so concurrent reads are safe); dispose to close it. Created by
/// <see cref="SafeTensors.Load"/> or <see cref="SafeTensors.Deserialize"/>.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly long _dataStart, _dataLength;
    private readonly SafeTensorInfo[] _tensors;
    private readonly int[] _byName; // indices of _tensors in ordinal name order: a binary search finds a name

    /// <summary>The path (or in-memory name) used in messages.</summary>
    public string Source { get; }
    /// <summary>The header length N in bytes (the data buffer starts at 8 + N).</summary>
    public long HeaderLength { get; }
    /// <summary>The tensors in buffer order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
    /// <summary>The <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>True when the header had a (possibly empty) <c>__metadata__</c> object.</summary>
    public bool HasMetadata { get; }

    /// <summary>The tensor names in buffer order.</summary>
    public IEnumerable<string> Names => Tensors.Select(t => t.Name);

    private SafeTensorsFile(string source, SafeFileHandle? handle, ReadOnlyMemory<byte> memory, long totalLength,
        Func<long, int, byte[]> readAt)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors IO needs a little-endian machine.");
        Source = source; _handle = handle; _memory = memory;
        if (totalLength < 8)
            throw Fail(null, $"expected at least 8 bytes (the header length), got a {totalLength}-byte file.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(readAt(0, 8));
        if (n > SafeTensors.MaxHeaderLength)
            throw Fail(null, $"header length {n} exceeds the {SafeTensors.MaxHeaderLength}-byte limit.");
        if (n > (ulong)(totalLength - 8))
            throw Fail(null, $"header length {n} runs past the end of the file: expected at most {totalLength - 8} ({totalLength}-byte file).");
        HeaderLength = (long)n;
        _dataStart = 8 + HeaderLength;
        _dataLength = totalLength - _dataStart;
        var (tensors, metadata) = Parse(readAt(8, (int)n));
        HasMetadata = metadata != null;
        Metadata = metadata ?? new Dictionary<string, string>();
        // Names: sorted once for the duplicate check (before the offsets, as the reference reports it), then again
        // over the validated order to serve as the lookup index.
        _byName = new int[tensors.Count];
        SortByName(_byName, tensors);
        for (int i = 1; i < _byName.Length; i++)
            if (tensors[_byName[i]].Name == tensors[_byName[i - 1]].Name)
                throw Fail(tensors[_byName[i]].Name, $"duplicate key '{SafeTensorsException.Cut(tensors[_byName[i]].Name, 200)}' in the header.");
        _tensors = Validate(tensors);
        Tensors = _tensors;
        SortByName(_byName, _tensors);
    }

    internal static SafeTensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        RegularFile.Check(path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(handle);
            return new SafeTensorsFile(path, handle, default, length, (offset, count) =>
            {
                var b = new byte[count];
                ReadFully(handle, b, offset, path, null);
                return b;
            });
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    internal static SafeTensorsFile FromMemory(ReadOnlyMemory<byte> bytes, string source)
        => new(source, null, bytes, bytes.Length, (offset, count) => bytes.Span.Slice((int)offset, count).ToArray());

    /// <summary>Closes the file.</summary>
    public void Dispose() => _handle?.Dispose();

    /// <summary>True when the file holds a tensor of this name.</summary>
    public bool Contains(string name) => TryInfo(name, out _);

    private bool TryInfo(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafeTensorInfo? info)
    {
        ArgumentNullException.ThrowIfNull(name);
        int lo = 0, hi = _byName.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1, c = string.CompareOrdinal(_tensors[_byName[mid]].Name, name);
            if (c == 0) { info = _tensors[_byName[mid]]; return true; }
            if (c < 0) lo = mid + 1; else hi = mid - 1;
        }
        info = null;
        return false;
    }

    private static void SortByName(int[] index, IReadOnlyList<SafeTensorInfo> tensors)
    {
        for (int i = 0; i < index.Length; i++) index[i] = i;
        Array.Sort(index, (a, b) => string.CompareOrdinal(tensors[a].Name, tensors[b].Name));
    }

    /// <summary>The entry for a tensor; throws <see cref="SafeTensorsException"/> naming the tensor when absent.</summary>
    public SafeTensorInfo Info(string name)
    {
        if (TryInfo(name, out var t)) return t;
        throw Fail(name, $"no such tensor; the file holds {Tensors.Count}: {Listing(Tensors.Select(x => x.Name))}.");
    }

    // ---- typed reads ----

    /// <summary>A new array of the tensor's elements as float (F32 exact; F64 rounded; F16/BF16 widened).</summary>
    public float[] GetFloat(string name)
    {
        var r = new float[Count(Info(name))];
        ReadFloat(name, r);
        return r;
    }

    /// <summary>A new array of the tensor's elements as double (F64 exact; F32/F16/BF16 widened exactly).</summary>
    public double[] GetDouble(string name)
    {
        var r = new double[Count(Info(name))];
        ReadDouble(name, r);
        return r;
    }

    /// <summary>A new array of an integer (or BOOL) tensor's elements; U64 values above long.MaxValue throw.</summary>
    public long[] GetInt64(string name)
    {
        var r = new long[Count(Info(name))];
        ReadInt64(name, r);
        return r;
    }

    /// <summary>A new array of an integer tensor's elements; values outside int's range throw.</summary>
    public int[] GetInt32(string name)
    {
        var wide = GetInt64(name);
        var r = new int[wide.Length];
        for (int i = 0; i < r.Length; i++)
        {
            if (wide[i] is < int.MinValue or > int.MaxValue)
                throw Fail(name, $"element {i} is {wide[i]}, outside the range of int.");
            r[i] = (int)wide[i];
        }
        return r;
    }

    /// <summary>The tensor's raw little-endian bytes.</summary>
    public byte[] GetBytes(string name)
    {
        var t = Info(name);
        var r = new byte[Count(t, 1)];
        ReadRaw(t, 0, r);
        return r;
    }

    /// <summary>Reads a floating-point tensor into <paramref name="destination"/> (length = element count).</summary>
    public void ReadFloat(string name, Span<float> destination)
    {
        var t = Info(name);
        CheckLength(t, destination.Length);
        switch (t.DType)
        {
            case SafeTensorsDType.F32: ReadRaw(t, 0, MemoryMarshal.AsBytes(destination)); break;
            case SafeTensorsDType.F64: Convert<double, float>(t, destination, static d => (float)d); break;
            case SafeTensorsDType.F16: Convert<Half, float>(t, destination, static h => (float)h); break;
            case SafeTensorsDType.BF16: Convert<ushort, float>(t, destination, static b => BitConverter.Int32BitsToSingle(b << 16)); break;
            default: throw NotFloat(t, "float");
        }
    }

    /// <summary>Reads a floating-point tensor into <paramref name="destination"/> (length = element count).</summary>
    public void ReadDouble(string name, Span<double> destination)
    {
        var t = Info(name);
        CheckLength(t, destination.Length);
        switch (t.DType)
        {
            case SafeTensorsDType.F64: ReadRaw(t, 0, MemoryMarshal.AsBytes(destination)); break;
            case SafeTensorsDType.F32: Convert<float, double>(t, destination, static f => f); break;
            case SafeTensorsDType.F16: Convert<Half, double>(t, destination, static h => (double)h); break;
            case SafeTensorsDType.BF16: Convert<ushort, double>(t, destination, static b => BitConverter.Int32BitsToSingle(b << 16)); break;
            default: throw NotFloat(t, "double");
        }
    }

    /// <summary>Reads an integer (or BOOL) tensor into <paramref name="destination"/> (length = element count).</summary>
    public void ReadInt64(string name, Span<long> destination)
    {
        var t = Info(name);
        CheckLength(t, destination.Length);
        switch (t.DType)
        {
            case SafeTensorsDType.I64: ReadRaw(t, 0, MemoryMarshal.AsBytes(destination)); break;
            case SafeTensorsDType.I32: Convert<int, long>(t, destination, static v => v); break;
            case SafeTensorsDType.U32: Convert<uint, long>(t, destination, static v => v); break;
            case SafeTensorsDType.I16: Convert<short, long>(t, destination, static v => v); break;
            case SafeTensorsDType.U16: Convert<ushort, long>(t, destination, static v => v); break;
            case SafeTensorsDType.I8: Convert<sbyte, long>(t, destination, static v => v); break;
            case SafeTensorsDType.U8: case SafeTensorsDType.BOOL: Convert<byte, long>(t, destination, static v => v); break;
            case SafeTensorsDType.U64:
                Convert<ulong, long>(t, destination, static v => (long)v);
                for (int i = 0; i < destination.Length; i++)
                    if (destination[i] < 0) throw Fail(name, $"element {i} is {(ulong)destination[i]}, outside the range of long.");
                break;
            default:
                throw Fail(name, $"unsupported dtype {t.DType.Name()} for an integer read (expected BOOL, U8..U64 or I8..I64).");
        }
    }

    /// <summary>
    /// Loads the file into parameters in place. Every parameter must be present with its exact shape and a
    /// floating-point dtype, names must be unique, and unless <paramref name="allowUnexpected"/> the file must
    /// hold no other tensor. All checks run before any value is written.
    /// </summary>
    public void ReadInto<T>(IEnumerable<Parameter<T>> parameters, bool allowUnexpected = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var ps = parameters.ToArray();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in ps)
        {
            if (!wanted.Add(p.Name)) throw new ArgumentException($"parameters: duplicate name '{p.Name}'.", nameof(parameters));
            if (!TryInfo(p.Name, out var t))
                throw Fail(p.Name, $"missing: expected a tensor of shape {p.ShapeText}; the file holds {Listing(Tensors.Select(x => x.Name))}.");
            if (!t.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                throw Fail(p.Name, $"expected shape {p.ShapeText}, got {t.ShapeText}.");
            if (t.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw NotFloat(t, typeof(T).Name);
        }
        if (!allowUnexpected)
            foreach (var t in Tensors)
                if (!wanted.Contains(t.Name))
                    throw Fail(t.Name, $"unexpected tensor of shape {t.ShapeText}: expected only the model's {ps.Length} parameters ({Listing(ps.Select(p => p.Name))}).");
        foreach (var p in ps)
        {
            if (typeof(T) == typeof(float)) ReadFloat(p.Name, MemoryMarshal.Cast<T, float>(p.Value.AsSpan()));
            else if (typeof(T) == typeof(double)) ReadDouble(p.Name, MemoryMarshal.Cast<T, double>(p.Value.AsSpan()));
            else
            {
                var d = GetDouble(p.Name);
                for (int i = 0; i < d.Length; i++) p.Value[i] = T.CreateTruncating(d[i]);
            }
        }
    }

    // ---- parsing and validation ----

    // A header of many tiny tensors is the largest thing a small file can make us build: each entry costs its name,
    // its shape and one SafeTensorInfo, and nothing per field or per number (no strings unless a message needs one).
    private (List<SafeTensorInfo>, Dictionary<string, string>?) Parse(byte[] header)
    {
        if (header.Length == 0 || header[0] != (byte)'{')
            throw Fail(null, $"expected the header to start with '{{', got {(header.Length == 0 ? "an empty header" : $"byte 0x{header[0]:x2}")}.");
        int bad = FirstInvalidUtf8(header);
        if (bad >= 0) throw Fail(null, $"header is not valid UTF-8 (invalid sequence at header byte {bad}).");

        var tensors = new List<SafeTensorInfo>();
        Dictionary<string, string>? metadata = null;
        bool seenMetadata = false; // duplicate tensor names are found after parsing, by sorting
        var scratch = new List<ulong>();
        string? current = null;
        try
        {
            var r = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
            r.Read(); // StartObject, checked above
            while (true)
            {
                Next(ref r, null);
                if (r.TokenType == JsonTokenType.EndObject) break;
                string name = r.GetString()!;
                current = name;
                if (name == SafeTensors.MetadataKey)
                {
                    if (seenMetadata) throw Fail(null, $"duplicate key '{name}' in the header.");
                    seenMetadata = true;
                }
                Next(ref r, name);
                if (name == SafeTensors.MetadataKey) metadata = ParseMetadata(ref r);
                else tensors.Add(ParseEntry(ref r, name, scratch));
                current = null;
            }
            if (r.Read()) throw Fail(null, $"unexpected {r.TokenType} after the header object.");
        }
        catch (JsonException e)
        {
            throw Fail(current == SafeTensors.MetadataKey ? null : current, $"header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e) // a string that does not decode, e.g. a lone surrogate escape
        {
            throw Fail(current == SafeTensors.MetadataKey ? null : current, $"header is not valid JSON: {e.Message}", e);
        }
        return (tensors, metadata);
    }

    private static void Next(ref Utf8JsonReader r, string? tensor)
    {
        if (!r.Read()) throw new JsonException("unexpected end of the header" + (tensor is null ? "." : $" inside '{tensor}'."));
    }

    private Dictionary<string, string>? ParseMetadata(ref Utf8JsonReader r)
    {
        const string M = SafeTensors.MetadataKey;
        if (r.TokenType == JsonTokenType.Null) return null; // the reference reads null as "no metadata"
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail(null, $"{M}: expected an object of string values, got {Token(r)}.");
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref r, null);
            if (r.TokenType == JsonTokenType.EndObject) return d;
            string key = r.GetString()!;
            Next(ref r, null);
            if (r.TokenType != JsonTokenType.String)
                throw Fail(null, $"{M}['{key}']: expected a string value, got {Token(r)}.");
            if (!d.TryAdd(key, r.GetString()!)) throw Fail(null, $"{M}: duplicate key '{key}'.");
        }
    }

    private static readonly byte[][] DTypeNames = Enum.GetValues<SafeTensorsDType>().Select(t => Encoding.ASCII.GetBytes(t.Name())).ToArray();

    private SafeTensorInfo ParseEntry(ref Utf8JsonReader r, string name, List<ulong> scratch)
    {
        if (r.TokenType != JsonTokenType.StartObject)
            throw Fail(name, $"expected an object with dtype, shape and data_offsets, got {Token(r)}.");
        SafeTensorsDType? dtype = null;
        long[]? shape = null;
        bool haveOffsets = false;
        ulong begin = 0, end = 0;
        while (true)
        {
            Next(ref r, name);
            if (r.TokenType == JsonTokenType.EndObject) break;
            // Field names are compared in place (ValueTextEquals unescapes): no string per field.
            int field = r.ValueTextEquals("dtype"u8) ? 0 : r.ValueTextEquals("shape"u8) ? 1 : r.ValueTextEquals("data_offsets"u8) ? 2 : -1;
            Next(ref r, name);
            switch (field)
            {
                case 0:
                    if (dtype != null) throw Fail(name, "duplicate field 'dtype'.");
                    if (r.TokenType != JsonTokenType.String) throw Fail(name, $"dtype: expected a string, got {Token(r)}.");
                    for (int t = 0; t < DTypeNames.Length && dtype is null; t++)
                        if (r.ValueTextEquals(DTypeNames[t])) dtype = (SafeTensorsDType)t;
                    if (dtype is null)
                        throw Fail(name, $"dtype: unknown or unsupported dtype '{SafeTensorsException.Cut(r.GetString()!, 80)}' (expected one of {string.Join(", ", Enum.GetValues<SafeTensorsDType>().Select(x => x.Name()))}).");
                    break;
                case 1:
                    if (shape != null) throw Fail(name, "duplicate field 'shape'.");
                    IntArray(ref r, name, "shape", -1, scratch);
                    shape = scratch.Count == 0 ? [] : new long[scratch.Count];
                    for (int i = 0; i < shape.Length; i++) shape[i] = (long)scratch[i];
                    break;
                case 2:
                    if (haveOffsets) throw Fail(name, "duplicate field 'data_offsets'.");
                    IntArray(ref r, name, "data_offsets", 2, scratch);
                    (begin, end, haveOffsets) = (scratch[0], scratch[1], true);
                    break;
                default:
                    r.Skip(); // the reference ignores unknown fields
                    break;
            }
        }
        if (dtype is null) throw Fail(name, "missing field 'dtype'.");
        if (shape is null) throw Fail(name, "missing field 'shape'.");
        if (!haveOffsets) throw Fail(name, "missing field 'data_offsets'.");
        ulong elements = 1;
        foreach (long d in shape)
            if (!TryMul(elements, (ulong)d, out elements))
                throw Fail(name, $"shape {SafeTensors.ShapeText(shape)} has more elements than fit in 64 bits.");
        return new SafeTensorInfo(name, dtype.Value, shape, elements, begin, end);
    }

    // A JSON array of non-negative integers into list; each must fit in a long. count = -1 for any length.
    private void IntArray(ref Utf8JsonReader r, string name, string field, int count, List<ulong> list)
    {
        if (r.TokenType != JsonTokenType.StartArray) throw Fail(name, $"{field}: expected an array of integers, got {Token(r)}.");
        list.Clear();
        while (true)
        {
            Next(ref r, name);
            if (r.TokenType == JsonTokenType.EndArray) break;
            if (r.TokenType != JsonTokenType.Number)
                throw Fail(name, $"{field}[{list.Count}]: expected a non-negative integer, got {Token(r)}.");
            // The number's text is only made into a string for a message.
            if (r.ValueSpan[0] == (byte)'-')
                throw Fail(name, $"{field}[{list.Count}]: expected a non-negative integer, got {Raw(r)} (negative).");
            if (!r.TryGetUInt64(out ulong v))
                throw Fail(name, $"{field}[{list.Count}]: expected a non-negative integer, got {Raw(r)}.");
            if (v > long.MaxValue) throw Fail(name, $"{field}[{list.Count}]: expected at most {long.MaxValue}, got {Raw(r)}.");
            if (list.Count >= 1024) throw Fail(name, $"{field}: more than 1024 entries.");
            list.Add(v);
        }
        if (count >= 0 && list.Count != count)
            throw Fail(name, $"{field}: expected {count} integers [begin, end], got {list.Count}.");
    }

    private static string Raw(Utf8JsonReader r) => SafeTensorsException.Cut(Encoding.UTF8.GetString(r.ValueSpan), 80);

    private SafeTensorInfo[] Validate(List<SafeTensorInfo> entries)
    {
        ulong bufferLength = (ulong)_dataLength;
        foreach (var e in entries)
        {
            if (e.UEnd < e.UBegin) throw Fail(e.Name, $"data_offsets {Off(e)}: expected begin <= end.");
            if (!TryMul(e.Elements, (ulong)e.DType.Size(), out ulong bytes))
                throw Fail(e.Name, $"shape {e.ShapeText} of {e.DType.Name()} has more bytes than fit in 64 bits.");
            if (e.UEnd - e.UBegin != bytes)
                throw Fail(e.Name, $"shape {e.ShapeText} of {e.DType.Name()} needs {bytes} bytes, but data_offsets {Off(e)} span {e.UEnd - e.UBegin}.");
            if (e.UEnd > bufferLength)
                throw Fail(e.Name, $"data_offsets {Off(e)} run past the end of the data buffer: expected end <= {bufferLength}.");
        }
        // The reference requires the ranges, sorted, to tile the buffer exactly: no overlap, no hole, no tail.
        // Sorted in place (names are unique, so the order is total and the unstable sort is deterministic).
        entries.Sort(static (a, b) => a.UBegin != b.UBegin ? a.UBegin.CompareTo(b.UBegin) : a.UEnd != b.UEnd ? a.UEnd.CompareTo(b.UEnd) : string.CompareOrdinal(a.Name, b.Name));
        ulong pos = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.UBegin < pos)
            {
                var prev = entries[i - 1];
                throw Fail(e.Name, $"data_offsets [{e.UBegin}, {e.UEnd}] overlap tensor '{SafeTensorsException.Cut(prev.Name, 200)}' [{prev.UBegin}, {prev.UEnd}]: expected begin {pos}.");
            }
            if (e.UBegin > pos)
                throw Fail(e.Name, $"data_offsets [{e.UBegin}, {e.UEnd}] leave bytes {pos}..{e.UBegin} of the data buffer uncovered: expected begin {pos}.");
            pos = e.UEnd;
        }
        if (pos != bufferLength)
            throw Fail(null, $"the tensors cover {pos} bytes of the data buffer, but it holds {bufferLength}: expected the buffer to be covered exactly.");
        return entries.ToArray();

        static string Off(SafeTensorInfo e) => $"[{e.UBegin}, {e.UEnd}]";
    }

    // ---- helpers ----

    private SafeTensorsException Fail(string? tensor, string message, Exception? inner = null) => new(Source, tensor, message, inner);

    private SafeTensorsException NotFloat(SafeTensorInfo t, string target)
        => Fail(t.Name, $"unsupported dtype {t.DType.Name()} for a {target} read (expected F32, F64, F16 or BF16).");

    private int Count(SafeTensorInfo t, int elementSize = 0)
    {
        long n = elementSize == 0 ? t.ElementCount : t.End - t.Begin;
        if (n > Array.MaxLength) throw Fail(t.Name, $"{n} elements do not fit in one array (at most {Array.MaxLength}).");
        return (int)n;
    }

    private static void CheckLength(SafeTensorInfo t, int destinationLength)
    {
        if (destinationLength != t.ElementCount)
            throw new ArgumentException($"destination: expected {t.ElementCount} elements for '{t.Name}' {t.ShapeText}, got {destinationLength}.", nameof(destinationLength));
    }

    // Reads bytes [t.Begin + offset, + dest.Length) of the data buffer.
    /// <summary>Bytes [offset, offset + dest.Length) of a tensor's data: a part of a large tensor without a copy of all of it.</summary>
    internal void ReadBytes(string name, long offset, Span<byte> dest)
    {
        var t = Info(name);
        if (offset < 0 || offset + dest.Length > t.End - t.Begin)
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset: expected bytes within the tensor's {t.End - t.Begin}, got [{offset}, {offset + dest.Length}).");
        ReadRaw(t, offset, dest);
    }

    private void ReadRaw(SafeTensorInfo t, long offset, Span<byte> dest)
    {
        long at = _dataStart + t.Begin + offset;
        if (_handle is null) _memory.Span.Slice((int)at, dest.Length).CopyTo(dest);
        else ReadFully(_handle, dest, at, Source, t.Name);
    }

    private static void ReadFully(SafeFileHandle h, Span<byte> dest, long at, string source, string? tensor)
    {
        while (!dest.IsEmpty)
        {
            int got = RandomAccess.Read(h, dest, at);
            if (got == 0) throw new SafeTensorsException(source, tensor, $"file ended early at byte {at} (was it changed while open?).");
            dest = dest[got..];
            at += got;
        }
    }

    // Converts element by element through a pooled chunk, so a large tensor needs no second full-size buffer.
    private void Convert<TFrom, TTo>(SafeTensorInfo t, Span<TTo> dest, Func<TFrom, TTo> f)
        where TFrom : unmanaged where TTo : unmanaged
    {
        int size = Unsafe.SizeOf<TFrom>();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int per = (1 << 16) / size;
            for (int i = 0; i < dest.Length; i += per)
            {
                int n = Math.Min(per, dest.Length - i);
                var bytes = chunk.AsSpan(0, n * size);
                ReadRaw(t, (long)i * size, bytes);
                var src = MemoryMarshal.Cast<byte, TFrom>(bytes);
                for (int k = 0; k < n; k++) dest[i + k] = f(src[k]);
            }
        }
        finally { ArrayPool<byte>.Shared.Return(chunk); }
    }

    private static bool TryMul(ulong a, ulong b, out ulong r)
    {
        UInt128 p = (UInt128)a * b;
        r = (ulong)p;
        return p <= ulong.MaxValue;
    }

    private static string Token(Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.String => $"the string \"{SafeTensorsException.Cut(r.GetString()!, 80)}\"",
        JsonTokenType.Number => $"the number {Raw(r)}",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.True or JsonTokenType.False => r.TokenType.ToString().ToLowerInvariant(),
        JsonTokenType.Null => "null",
        _ => r.TokenType.ToString(),
    };

    private static string Listing(IEnumerable<string> names)
    {
        var a = names.Take(11).ToArray();
        return a.Length == 0 ? "(none)" : string.Join(", ", a.Take(10)) + (a.Length > 10 ? ", ..." : "");
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length)
        {
            if (System.Text.Rune.DecodeFromUtf8(s[i..], out _, out int used) != OperationStatus.Done) return i;
            i += used;
        }
        return -1;
    }
}
