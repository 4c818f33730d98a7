using Rnn.IO;

namespace Rnn.Tests;

/// <summary>The protobuf encoder against byte sequences worked out by hand (most from the protobuf encoding guide).</summary>
public class ProtobufTests
{
    private static byte[] Bytes(Action<ProtoWriter> write)
    {
        var w = new ProtoWriter();
        write(w);
        return w.ToArray();
    }

    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    [InlineData(127UL, new byte[] { 0x7F })]
    [InlineData(128UL, new byte[] { 0x80, 0x01 })]
    [InlineData(150UL, new byte[] { 0x96, 0x01 })]   // 150 = 0b1_0010110 → 1001_0110 0000_0001
    [InlineData(300UL, new byte[] { 0xAC, 0x02 })]   // 300 = 0b10_0101100 → 1010_1100 0000_0010
    [InlineData(16384UL, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(ulong.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Varint_matches_hand_encoding(ulong value, byte[] expected)
        => Assert.Equal(expected, Bytes(w => w.Varint(value)));

    [Fact]
    public void Int64_field_is_key_then_varint()
    {
        // Test1 { int32 a = 1; } with a = 150: key (1 << 3 | 0) = 0x08.
        Assert.Equal(new byte[] { 0x08, 0x96, 0x01 }, Bytes(w => w.Int64(1, 150)));
        // Negative numbers are ten bytes of two's complement.
        Assert.Equal(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, Bytes(w => w.Int64(1, -1)));
        // Field 16 needs a two-byte key: 16 << 3 = 128 → 0x80 0x01.
        Assert.Equal(new byte[] { 0x80, 0x01, 0x07 }, Bytes(w => w.Int64(16, 7)));
        // ONNX AttributeProto.type is field 20: key 160 → 0xA0 0x01.
        Assert.Equal(new byte[] { 0xA0, 0x01, 0x02 }, Bytes(w => w.Int64(20, 2)));
    }

    [Fact]
    public void String_is_length_delimited_utf8()
    {
        // Test2 { string b = 2; } with b = "testing": key 0x12, length 7.
        Assert.Equal(new byte[] { 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6E, 0x67 }, Bytes(w => w.String(2, "testing")));
        Assert.Equal(new byte[] { 0x0A, 0x02, 0xC3, 0xA9 }, Bytes(w => w.String(1, "é")));
        Assert.Equal(new byte[] { 0x0A, 0x00 }, Bytes(w => w.String(1, "")));
    }

    [Fact]
    public void Float_is_fixed32_little_endian()
    {
        // key (2 << 3 | 5) = 0x15; 1.0f = 0x3F800000; -2.5f = 0xC0200000.
        Assert.Equal(new byte[] { 0x15, 0x00, 0x00, 0x80, 0x3F }, Bytes(w => w.Float(2, 1.0f)));
        Assert.Equal(new byte[] { 0x15, 0x00, 0x00, 0x20, 0xC0 }, Bytes(w => w.Float(2, -2.5f)));
    }

    [Fact]
    public void Nested_message_is_embedded_with_its_length()
    {
        // Test3 { Test1 c = 3; } with c.a = 150: 1a 03 08 96 01.
        var inner = new ProtoWriter();
        inner.Int64(1, 150);
        Assert.Equal(new byte[] { 0x1A, 0x03, 0x08, 0x96, 0x01 }, Bytes(w => w.Message(3, inner)));
    }

    [Fact]
    public void Repeated_int64_is_one_key_per_value()
        => Assert.Equal(new byte[] { 0x08, 0x03, 0x08, 0x8E, 0x02, 0x08, 0x00 }, Bytes(w => w.RepeatedInt64(1, [3, 270, 0])));

    [Fact]
    public void Long_payload_gets_a_multi_byte_length_and_the_buffer_grows()
    {
        var data = new byte[200];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)i;
        var b = Bytes(w => w.Bytes(9, data));
        Assert.Equal(new byte[] { 0x4A, 0xC8, 0x01 }, b[..3]); // key 9<<3|2 = 0x4A, 200 = 0xC8 0x01
        Assert.Equal(data, b[3..]);
    }

    [Fact]
    public void Field_number_out_of_range_throws()
    {
        var w = new ProtoWriter();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => w.Int64(0, 1));
        Assert.Contains("field", e.Message);
    }
}
