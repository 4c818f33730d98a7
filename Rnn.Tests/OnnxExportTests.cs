using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Models;

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

/// <summary>
/// The ONNX exporter, checked on structure: the bytes are re-parsed with a tiny protobuf decoder and the op
/// types, attributes, initializer shapes and the gate reordering of known weights are checked. (onnx.checker and
/// numeric runs need Python: tools/onnx_dump.cs + tools/check_onnx.py.)
/// </summary>
public class OnnxExportTests
{
    /// <summary>One decoded field: a varint / fixed value, or the bytes of a length-delimited one.</summary>
    private sealed record Field(int Number, ulong Value, byte[] Bytes)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Bytes);
        public List<Field> Message => Decode(Bytes);
    }

    private static List<Field> Decode(byte[] b)
    {
        var r = new List<Field>();
        int p = 0;
        ulong Varint()
        {
            ulong v = 0; int shift = 0;
            while (true) { byte x = b[p++]; v |= (ulong)(x & 0x7F) << shift; if (x < 0x80) return v; shift += 7; }
        }
        while (p < b.Length)
        {
            ulong key = Varint();
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0: r.Add(new(field, Varint(), [])); break;
                case 2: int n = (int)Varint(); r.Add(new(field, 0, b[p..(p + n)])); p += n; break;
                case 5: r.Add(new(field, BitConverter.ToUInt32(b, p), b[p..(p + 4)])); p += 4; break;
                case 1: r.Add(new(field, BitConverter.ToUInt64(b, p), b[p..(p + 8)])); p += 8; break;
                default: throw new InvalidDataException($"wire type {wire} at {p}");
            }
        }
        return r;
    }

    private static IEnumerable<Field> All(List<Field> m, int number) => m.Where(f => f.Number == number);
    private static Field One(List<Field> m, int number) => Assert.Single(m, f => f.Number == number);

    private sealed record Node(string Op, string[] Inputs, string[] Outputs, Dictionary<string, List<Field>> Attrs);
    private sealed record Tensor(string Name, long[] Dims, int Type, byte[] Raw)
    {
        public float[] Floats => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Raw).ToArray();
    }

    private static (List<Field> Model, List<Node> Nodes, Dictionary<string, Tensor> Inits, List<Field> Graph) Parse(byte[] bytes)
    {
        var model = Decode(bytes);
        var graph = One(model, 7).Message;
        var nodes = All(graph, 1).Select(n => n.Message).Select(n => new Node(
            One(n, 4).Text, All(n, 1).Select(f => f.Text).ToArray(), All(n, 2).Select(f => f.Text).ToArray(),
            All(n, 5).Select(a => a.Message).ToDictionary(a => One(a, 1).Text))).ToList();
        var inits = All(graph, 5).Select(t => t.Message).Select(t => new Tensor(
            One(t, 8).Text, All(t, 1).Select(d => (long)d.Value).ToArray(), (int)One(t, 2).Value, One(t, 9).Bytes)).ToDictionary(t => t.Name);
        return (model, nodes, inits, graph);
    }

    private static SequenceModel<float> Model(ModelSpec spec)
    {
        var m = new SequenceModel<float>(spec, new Rng(5));
        m.Training = false;
        return m;
    }

    [Fact]
    public void Imdb_shaped_model_has_the_expected_graph()
    {
        using var m = Model(new ModelSpec { Vocab = 50, EmbeddingDim = 4, Cell = CellKind.Lstm, Hidden = 3, OutputSize = 1, OutputActivation = Activation.Sigmoid });
        var (model, nodes, inits, graph) = Parse(OnnxExport.Serialize(m, seqLen: 7));
        Assert.Equal(7UL, One(model, 1).Value);                              // ir_version
        var opset = One(model, 8).Message;
        Assert.Equal("", One(opset, 1).Text);                                // ai.onnx
        Assert.Equal(14UL, One(opset, 2).Value);
        Assert.Equal(new[] { "Gather", "Transpose", "LSTM", "Transpose", "Reshape", "Gemm", "Sigmoid" }, nodes.Select(n => n.Op));
        var lstm = nodes[2];
        Assert.Equal(3UL, One(lstm.Attrs["hidden_size"], 3).Value);
        Assert.Equal("forward", One(lstm.Attrs["direction"], 4).Text);
        Assert.Equal(new[] { "", "rnn_l0.Y_h" }, lstm.Outputs);               // only Y_h is used
        Assert.Equal(new long[] { 1, 0, 2 }, All(nodes[1].Attrs["perm"], 8).Select(f => (long)f.Value));
        Assert.Equal(1UL, One(nodes[5].Attrs["transB"], 3).Value);
        Assert.Equal(new long[] { 50, 4 }, inits["embedding.weight"].Dims);
        Assert.Equal(new long[] { 1, 12, 4 }, inits["rnn.W_l0"].Dims);
        Assert.Equal(new long[] { 1, 12, 3 }, inits["rnn.R_l0"].Dims);
        Assert.Equal(new long[] { 1, 24 }, inits["rnn.B_l0"].Dims);
        Assert.Equal(new long[] { 1, 3 }, inits["fc.weight"].Dims);
        Assert.Equal(1, inits["fc.weight"].Type);                           // FLOAT
        Assert.Equal(m.Embedding!.Weight.Value, inits["embedding.weight"].Floats);
        // Input tokens int64 (batch, 7); output float (batch, 1).
        var input = One(graph, 11).Message;
        Assert.Equal("tokens", One(input, 1).Text);
        var tensorType = One(One(input, 2).Message, 1).Message;
        Assert.Equal(7UL, One(tensorType, 1).Value);                        // INT64
        var dims = All(One(tensorType, 2).Message, 1).Select(d => d.Message).ToList();
        Assert.Equal("batch", One(dims[0], 2).Text);
        Assert.Equal(7UL, One(dims[1], 1).Value);
        Assert.Equal("output", One(One(graph, 12).Message, 1).Text);
    }

    [Fact]
    public void Lstm_gates_are_reordered_to_i_o_f_c()
    {
        using var m = Model(new ModelSpec { InputSize = 2, Cell = CellKind.Lstm, Hidden = 2, OutputSize = 1, Init = InitScheme.PyTorch });
        var p = m.NamedParameters.ToDictionary(n => n.Name, n => n.Parameter);
        // Our blocks i, f, g, o hold 1, 2, 3, 4 (weights), 10..40 (bias_ih), 100..400 (bias_hh).
        for (int j = 0; j < 4; j++)
        {
            Array.Fill(p["rnn.weight_ih_l0"].Value, j + 1f, j * 4, 4);
            Array.Fill(p["rnn.weight_hh_l0"].Value, j + 1f, j * 4, 4);
            Array.Fill(p["rnn.bias_ih_l0"].Value, 10f * (j + 1), j * 2, 2);
            Array.Fill(p["rnn.bias_hh_l0"].Value, 100f * (j + 1), j * 2, 2);
        }
        var (_, _, inits, _) = Parse(OnnxExport.Serialize(m));
        float[] Blocks(float a, float b, float c, float d, int n) => new[] { a, b, c, d }.SelectMany(v => Enumerable.Repeat(v, n)).ToArray();
        Assert.Equal(Blocks(1, 4, 2, 3, 4), inits["rnn.W_l0"].Floats);      // i, o, f, c
        Assert.Equal(Blocks(1, 4, 2, 3, 4), inits["rnn.R_l0"].Floats);
        Assert.Equal(Blocks(10, 40, 20, 30, 2).Concat(Blocks(100, 400, 200, 300, 2)), inits["rnn.B_l0"].Floats);
    }

    [Fact]
    public void Bidirectional_gru_stack_per_step_has_z_r_h_and_linear_before_reset()
    {
        using var m = Model(new ModelSpec { InputSize = 3, Cell = CellKind.Gru, Hidden = 2, Layers = 2, Bidirectional = true, OutputSize = 2, PerStep = true, Init = InitScheme.PyTorch });
        var p = m.NamedParameters.ToDictionary(n => n.Name, n => n.Parameter);
        for (int j = 0; j < 3; j++) Array.Fill(p["rnn.weight_ih_l1_reverse"].Value, j + 1f, j * 2 * 4, 2 * 4); // r, z, n = 1, 2, 3
        var (_, nodes, inits, _) = Parse(OnnxExport.Serialize(m, 5));
        Assert.Equal(new[] { "Transpose", "GRU", "Transpose", "Reshape", "GRU", "Transpose", "Reshape", "Transpose", "MatMul", "Add" }, nodes.Select(n => n.Op));
        foreach (var g in nodes.Where(n => n.Op == "GRU"))
        {
            Assert.Equal(1UL, One(g.Attrs["linear_before_reset"], 3).Value);
            Assert.Equal("bidirectional", One(g.Attrs["direction"], 4).Text);
        }
        Assert.Equal(new long[] { 2, 6, 3 }, inits["rnn.W_l0"].Dims);
        Assert.Equal(new long[] { 2, 6, 4 }, inits["rnn.W_l1"].Dims);         // layer 1 reads 2·H features
        Assert.Equal(new long[] { 2, 12 }, inits["rnn.B_l1"].Dims);
        var reverse = inits["rnn.W_l1"].Floats[24..];                         // direction 1
        Assert.Equal(new[] { 2f, 1f, 3f }.SelectMany(v => Enumerable.Repeat(v, 8)), reverse); // z, r, h
        Assert.Equal(new long[] { 4, 2 }, inits["fc.weight_t"].Dims);         // (F, O) for MatMul
        Assert.Equal(p["fc.weight"].Value[1], inits["fc.weight_t"].Floats[2]); // weight[0, 1] → weight_t[1, 0]
    }

    [Fact]
    public void Rnn_relu_and_reset_before_gru_attributes()
    {
        using var rnn = Model(new ModelSpec { InputSize = 2, Cell = CellKind.RnnRelu, Hidden = 2, Bidirectional = true, OutputSize = 1 });
        var node = Parse(OnnxExport.Serialize(rnn)).Nodes.Single(n => n.Op == "RNN");
        Assert.Equal(new[] { "Relu", "Relu" }, All(node.Attrs["activations"], 9).Select(f => f.Text));
        using var gru = Model(new ModelSpec { InputSize = 2, Cell = CellKind.GruResetBefore, Hidden = 2, OutputSize = 1 });
        var g = Parse(OnnxExport.Serialize(gru)).Nodes.Single(n => n.Op == "GRU");
        Assert.Equal(0UL, One(g.Attrs["linear_before_reset"], 3).Value);
    }

    [Fact]
    public void Mask_zero_models_and_bad_arguments_are_refused()
    {
        using var m = Model(new ModelSpec { Vocab = 5, EmbeddingDim = 2, MaskZero = true, Cell = CellKind.Lstm, Hidden = 2, OutputSize = 1 });
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Serialize(m));
        Assert.Contains("MaskZero", e.Message);
        using var ok = Model(new ModelSpec { InputSize = 2, Cell = CellKind.Lstm, Hidden = 2, OutputSize = 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExport.Serialize(ok, seqLen: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExport.Serialize(ok, opset: 13));
    }

    [Fact]
    public void Export_writes_the_serialized_bytes()
    {
        using var m = Model(new ModelSpec { InputSize = 2, Cell = CellKind.RnnTanh, Hidden = 2, OutputSize = 1 });
        var path = Path.Combine(Path.GetTempPath(), $"rnn-onnx-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExport.Export(m, path, 4);
            Assert.Equal(OnnxExport.Serialize(m, 4), File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }
}
