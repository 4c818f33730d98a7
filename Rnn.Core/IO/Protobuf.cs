using System.Buffers.Binary;
using System.Text;

namespace Rnn.IO;

/// <summary>Protocol-buffers wire types (the low 3 bits of a field's tag).</summary>
internal enum WireType
{
    /// <summary>int32, int64, uint*, bool, enum: a base-128 varint.</summary>
    Varint = 0,
    /// <summary>fixed64, double.</summary>
    Fixed64 = 1,
    /// <summary>string, bytes, embedded messages, packed repeated fields: varint length, then the bytes.</summary>
    LengthDelimited = 2,
    /// <summary>fixed32, float.</summary>
    Fixed32 = 5,
}

/// <summary>
/// A minimal protocol-buffers encoder, enough for ONNX's ModelProto: varints, fixed32 floats and
/// length-delimited fields (strings, bytes, nested messages). A nested message is written into
/// its own writer and then embedded with <see cref="Message"/> (its length must be known before its bytes).
/// The writer owns a growing byte buffer; <see cref="WrittenSpan"/> is valid until the next write.
/// </summary>
internal sealed class ProtoWriter
{
    private byte[] _buf;
    private int _len;

    /// <summary>Creates an empty writer with the given initial capacity in bytes.</summary>
    public ProtoWriter(int capacity = 64) => _buf = new byte[Math.Max(capacity, 16)];

    /// <summary>Bytes written so far.</summary>
    public int Length => _len;

    /// <summary>The bytes written so far (a view of the writer's buffer, valid until the next write).</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buf.AsSpan(0, _len);

    /// <summary>A copy of the bytes written so far.</summary>
    public byte[] ToArray() => WrittenSpan.ToArray();

    private Span<byte> Reserve(int n)
    {
        if (_len + n > _buf.Length)
        {
            long cap = Math.Max((long)_buf.Length * 2, (long)_len + n);
            if (cap > Array.MaxLength) cap = Math.Max(_len + n, Array.MaxLength);
            Array.Resize(ref _buf, (int)cap);
        }
        var s = _buf.AsSpan(_len, n);
        _len += n;
        return s;
    }

    /// <summary>Base-128 varint, least significant group first (1 to 10 bytes).</summary>
    public void Varint(ulong v)
    {
        while (v >= 0x80)
        {
            Reserve(1)[0] = (byte)(v | 0x80);
            v >>= 7;
        }
        Reserve(1)[0] = (byte)v;
    }

    /// <summary>A field's key: (field number &lt;&lt; 3) | wire type.</summary>
    public void Tag(int field, WireType wire)
    {
        if (field < 1 || field > 536_870_911) throw new ArgumentOutOfRangeException(nameof(field), field, $"field: expected 1..2^29-1, got {field}.");
        Varint(((ulong)field << 3) | (uint)wire);
    }

    /// <summary>An int64 (or int32, or enum) field. Negative values take 10 bytes (two's complement), as protobuf requires.</summary>
    public void Int64(int field, long v)
    {
        Tag(field, WireType.Varint);
        Varint((ulong)v);
    }

    /// <summary>A float field (fixed32, little-endian).</summary>
    public void Float(int field, float v)
    {
        Tag(field, WireType.Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), v);
    }

    /// <summary>A bytes field: the length as a varint, then the bytes.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> data)
    {
        Tag(field, WireType.LengthDelimited);
        Varint((ulong)data.Length);
        data.CopyTo(Reserve(data.Length));
    }

    /// <summary>A string field, UTF-8 encoded.</summary>
    public void String(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));

    /// <summary>An embedded message: the inner writer's bytes as a length-delimited field.</summary>
    public void Message(int field, ProtoWriter inner) => Bytes(field, inner.WrittenSpan);

    /// <summary>
    /// A repeated int64 field, unpacked (one key per value): onnx.proto is proto2, where repeated scalars are
    /// unpacked by default; every parser also accepts this form.
    /// </summary>
    public void RepeatedInt64(int field, ReadOnlySpan<long> values)
    {
        foreach (long v in values) Int64(field, v);
    }
}
