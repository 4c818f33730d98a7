using System.Runtime.InteropServices;
using Rnn.Models;

namespace Rnn.IO;

/// <summary>
/// Writes a <see cref="SequenceModel{T}"/> as an ONNX model (IR version 7, default opset 14), encoded by hand
/// (<see cref="ProtoWriter"/>), for inference in ONNX Runtime and other backends. The graph:
/// <c>tokens</c> int64 (batch, seq) → Gather on <c>embedding.weight</c> (or <c>x</c> float (batch, seq, F)) →
/// Transpose to time-major (seq, batch, F) → one ONNX RNN / LSTM / GRU node per layer (direction forward or
/// bidirectional, gates reordered to ONNX's: LSTM i, o, f, c; GRU z, r, h; our reset-after GRU as
/// <c>linear_before_reset = 1</c>) with Transpose + Reshape between layers → the final state Y_h (or every step
/// Y for a per-step head) → Gemm (or MatMul + Add) for the Dense head → its activation → <c>output</c>,
/// (batch, O) or (batch, seq, O). Dropout is an identity at inference and is not exported.
/// </summary>
public static class OnnxExport
{
    /// <summary>The ONNX IR version written (ONNX 1.9+, opset 14 needs IR 7).</summary>
    public const long IrVersion = 7;
    /// <summary>The default opset of the ai.onnx domain.</summary>
    public const long DefaultOpset = 14;

    /// <summary>
    /// Writes the model to <paramref name="path"/> (atomically). <paramref name="seqLen"/> fixes the sequence
    /// dimension of the input and output; null leaves it symbolic ("seq"). The batch dimension is symbolic.
    /// Models deriving their mask from token 0 (MaskZero) are refused: ONNX's sequence_lens cannot express
    /// Keras-style pre-padding, so the exported graph would silently differ.
    /// </summary>
    public static void Export(SequenceModel<float> model, string path, int? seqLen = null, long opset = DefaultOpset)
    {
        var bytes = Serialize(model, seqLen, opset);
        AtomicFile.Write(path, bytes);
    }

    /// <summary>The bytes <see cref="Export"/> writes.</summary>
    public static byte[] Serialize(SequenceModel<float> model, int? seqLen = null, long opset = DefaultOpset)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (seqLen is < 1) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, $"seqLen: expected >= 1 or null, got {seqLen}.");
        if (opset < 14) throw new ArgumentOutOfRangeException(nameof(opset), opset, $"opset: expected >= 14, got {opset}.");
        var spec = model.Spec;
        if (spec.MaskZero)
            throw new NotSupportedException("ONNX export of a MaskZero model: the mask from token 0 has no faithful ONNX form (sequence_lens assumes post-padding); export a model without MaskZero.");
        var p = model.NamedParameters.ToDictionary(n => n.Name, n => n.Parameter, StringComparer.Ordinal);
        Parameter<float> Get(string name) => p.TryGetValue(name, out var v) ? v
            : throw new InvalidOperationException($"ONNX export: the model has no parameter '{name}' (has {string.Join(", ", p.Keys)}).");

        var g = new GraphBuilder();
        object seq = seqLen is int s ? s : "seq";
        string cur;
        if (spec.Vocab > 0)
        {
            g.Input("tokens", DataType.Int64, ["batch", seq]);
            var e = Get("embedding.weight");
            g.Initializer("embedding.weight", e.Shape, e.Value);
            g.Node("Gather", ["embedding.weight", "tokens"], ["embedded"], Attr.Int("axis", 0)); // (B, S, E)
            cur = "embedded";
        }
        else
        {
            g.Input("x", DataType.Float, ["batch", seq, spec.InputSize]);
            cur = "x";
        }

        int L = spec.Layers, D = spec.Bidirectional ? 2 : 1, H = spec.Hidden;
        if (L > 0)
        {
            g.Node("Transpose", [cur], ["x_tm"], Attr.Ints("perm", [1, 0, 2])); // (S, B, F)
            cur = "x_tm";
            g.InitializerInt64("shape_sb_f", [3], [0, 0, -1]);
            g.InitializerInt64("shape_b_f", [2], [0, -1]);
        }
        for (int k = 0; k < L; k++)
        {
            var (op, gates, perm) = spec.Cell switch
            {
                CellKind.RnnTanh or CellKind.RnnRelu => ("RNN", 1, new[] { 0 }),
                CellKind.Lstm => ("LSTM", 4, new[] { 0, 3, 1, 2 }), // ONNX i, o, f, c from our i, f, g, o
                _ => ("GRU", 3, new[] { 1, 0, 2 }),                 // ONNX z, r, h from our r, z, n
            };
            int I = k == 0 ? spec.FeatureSize : D * H, G = gates * H;
            var W = new float[D * G * I]; var R = new float[D * G * H]; var Bias = new float[D * 2 * G];
            for (int d = 0; d < D; d++)
            {
                string sfx = $"_l{k}" + (d == 1 ? "_reverse" : "");
                ReorderGates(W.AsSpan(d * G * I, G * I), Get("rnn.weight_ih" + sfx).Value, perm, H, I);
                ReorderGates(R.AsSpan(d * G * H, G * H), Get("rnn.weight_hh" + sfx).Value, perm, H, H);
                ReorderGates(Bias.AsSpan(d * 2 * G, G), Get("rnn.bias_ih" + sfx).Value, perm, H, 1);
                if (p.TryGetValue("rnn.bias_hh" + sfx, out var bhh)) ReorderGates(Bias.AsSpan(d * 2 * G + G, G), bhh.Value, perm, H, 1);
            }
            string w = $"rnn.W_l{k}", r = $"rnn.R_l{k}", b = $"rnn.B_l{k}";
            g.Initializer(w, [D, G, I], W);   // (D, G·H, I)
            g.Initializer(r, [D, G, H], R);   // (D, G·H, H)
            g.Initializer(b, [D, 2 * G], Bias); // (D, 2·G·H): input biases then recurrent biases
            var attrs = new List<Attr> { Attr.Int("hidden_size", H), Attr.String("direction", D == 2 ? "bidirectional" : "forward") };
            if (op == "RNN") attrs.Add(Attr.Strings("activations", Enumerable.Repeat(spec.Cell == CellKind.RnnRelu ? "Relu" : "Tanh", D).ToArray()));
            if (op == "GRU") attrs.Add(Attr.Int("linear_before_reset", spec.Cell == CellKind.Gru ? 1 : 0));
            bool last = k == L - 1;
            string y = $"rnn_l{k}.Y", yh = $"rnn_l{k}.Y_h";
            if (!last || spec.PerStep)
            {
                g.Node(op, [cur, w, r, b], [y], [.. attrs]);                                     // (S, D, B, H)
                g.Node("Transpose", [y], [y + "_t"], Attr.Ints("perm", [0, 2, 1, 3]));           // (S, B, D, H)
                g.Node("Reshape", [y + "_t", "shape_sb_f"], [$"rnn_l{k}.out"]);                   // (S, B, D·H)
                cur = $"rnn_l{k}.out";
            }
            else
            {
                g.Node(op, [cur, w, r, b], ["", yh], [.. attrs]);                               // Y_h (D, B, H)
                g.Node("Transpose", [yh], [yh + "_t"], Attr.Ints("perm", [1, 0, 2]));            // (B, D, H)
                g.Node("Reshape", [yh + "_t", "shape_b_f"], ["final_state"]);                    // (B, D·H)
                cur = "final_state";
            }
        }

        var fw = Get("fc.weight"); var fb = Get("fc.bias");
        int O = spec.OutputSize, F = spec.RecurrentOutputSize;
        string act = ModelSpec.ActivationName(spec.OutputActivation);
        string headOut = act == "linear" ? "output" : "logits";
        if (!spec.PerStep)
        {
            g.Initializer("fc.weight", [O, F], fw.Value);
            g.Initializer("fc.bias", [O], fb.Value);
            g.Node("Gemm", [cur, "fc.weight", "fc.bias"], [headOut], Attr.Int("transB", 1)); // (B, O)
        }
        else
        {
            if (L > 0) { g.Node("Transpose", [cur], ["per_step"], Attr.Ints("perm", [1, 0, 2])); cur = "per_step"; } // (B, S, F)
            var wt = new float[F * O]; // (F, O) = fc.weightᵀ for MatMul
            for (int o = 0; o < O; o++) for (int f = 0; f < F; f++) wt[f * O + o] = fw.Value[o * F + f];
            g.Initializer("fc.weight_t", [F, O], wt);
            g.Initializer("fc.bias", [O], fb.Value);
            g.Node("MatMul", [cur, "fc.weight_t"], ["fc.mm"]);
            g.Node("Add", ["fc.mm", "fc.bias"], [headOut]); // (B, S, O)
        }
        if (act != "linear")
            g.Node(act switch { "sigmoid" => "Sigmoid", "tanh" => "Tanh", "relu" => "Relu", _ => throw new NotSupportedException($"ONNX export: output activation '{act}'.") }, [headOut], ["output"]);
        g.Output("output", DataType.Float, spec.PerStep ? ["batch", seq, O] : ["batch", O]);
        return g.Model("rnn", opset, $"Rnn SequenceModel: {spec.Cell}, {L} layer(s){(spec.Bidirectional ? ", bidirectional" : "")}, hidden {H}");
    }

    /// <summary>
    /// dst (G·rows, cols) = src's row blocks in the order perm: block j of dst is block perm[j] of src, each
    /// block rows×cols. Converts our gate order to ONNX's.
    /// </summary>
    internal static void ReorderGates(Span<float> dst, ReadOnlySpan<float> src, int[] perm, int rows, int cols)
    {
        int block = rows * cols;
        if (src.Length != perm.Length * block || dst.Length != src.Length)
            throw new ArgumentException($"src: expected {perm.Length}·{rows}·{cols} = {perm.Length * block} elements, got {src.Length} (dst {dst.Length}).", nameof(src));
        for (int j = 0; j < perm.Length; j++) src.Slice(perm[j] * block, block).CopyTo(dst.Slice(j * block, block));
    }

    // ---------------- ONNX protobuf messages (field numbers from onnx.proto) ----------------

    internal enum DataType { Float = 1, Int32 = 6, Int64 = 7 }

    internal enum AttrType { Float = 1, Int = 2, String = 3, Floats = 6, Ints = 7, Strings = 8 }

    /// <summary>A node attribute (AttributeProto).</summary>
    internal sealed record Attr(string Name, AttrType Type, long I = 0, string? S = null, long[]? Ints_ = null, string[]? Strings_ = null)
    {
        public static Attr Int(string name, long v) => new(name, AttrType.Int, I: v);
        public static Attr String(string name, string v) => new(name, AttrType.String, S: v);
        public static Attr Ints(string name, long[] v) => new(name, AttrType.Ints, Ints_: v);
        public static Attr Strings(string name, string[] v) => new(name, AttrType.Strings, Strings_: v);

        public ProtoWriter Encode()
        {
            var w = new ProtoWriter();
            w.String(1, Name);                       // name
            switch (Type)
            {
                case AttrType.Int: w.Int64(3, I); break;                        // i
                case AttrType.String: w.String(4, S!); break;                   // s (bytes)
                case AttrType.Ints: w.RepeatedInt64(8, Ints_!); break;          // ints
                case AttrType.Strings: foreach (var s in Strings_!) w.String(9, s); break; // strings
                default: throw new NotSupportedException(Type.ToString());
            }
            w.Int64(20, (long)Type);                 // type
            return w;
        }
    }

    /// <summary>Collects nodes, initializers, inputs and outputs, then encodes a ModelProto.</summary>
    internal sealed class GraphBuilder
    {
        private readonly List<ProtoWriter> _nodes = new(), _inits = new(), _inputs = new(), _outputs = new();
        private int _nodeCount;

        public void Node(string op, string[] inputs, string[] outputs, params Attr[] attrs)
        {
            var w = new ProtoWriter();
            foreach (var i in inputs) w.String(1, i);          // input
            foreach (var o in outputs) w.String(2, o);         // output
            w.String(3, $"{op}_{_nodeCount++}");               // name
            w.String(4, op);                                   // op_type
            foreach (var a in attrs) w.Message(5, a.Encode()); // attribute
            _nodes.Add(w);
        }

        public void Initializer(string name, int[] dims, ReadOnlySpan<float> data)
        {
            var w = Tensor(name, dims.Select(d => (long)d).ToArray(), DataType.Float, data.Length * 4 + 64);
            w.Bytes(9, MemoryMarshal.AsBytes(data));           // raw_data, little-endian
            _inits.Add(w);
        }

        public void InitializerInt64(string name, int[] dims, long[] data)
        {
            var w = Tensor(name, dims.Select(d => (long)d).ToArray(), DataType.Int64, data.Length * 8 + 64);
            w.Bytes(9, MemoryMarshal.AsBytes(data.AsSpan()));
            _inits.Add(w);
        }

        private static ProtoWriter Tensor(string name, long[] dims, DataType type, int capacity)
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian; this machine is not.");
            var w = new ProtoWriter(capacity);
            w.RepeatedInt64(1, dims);                          // dims
            w.Int64(2, (long)type);                            // data_type
            w.String(8, name);                                 // name
            return w;
        }

        public void Input(string name, DataType type, object[] dims) => _inputs.Add(ValueInfo(name, type, dims));
        public void Output(string name, DataType type, object[] dims) => _outputs.Add(ValueInfo(name, type, dims));

        /// <summary>ValueInfoProto { name, TypeProto { tensor_type { elem_type, shape { dim* } } } }; a dim is an int or a symbolic name.</summary>
        private static ProtoWriter ValueInfo(string name, DataType type, object[] dims)
        {
            var shape = new ProtoWriter();
            foreach (var d in dims)
            {
                var dim = new ProtoWriter();
                if (d is int v) dim.Int64(1, v);               // dim_value
                else dim.String(2, (string)d);                 // dim_param
                shape.Message(1, dim);
            }
            var tensor = new ProtoWriter();
            tensor.Int64(1, (long)type);                       // elem_type
            tensor.Message(2, shape);                          // shape
            var tp = new ProtoWriter();
            tp.Message(1, tensor);                             // tensor_type
            var w = new ProtoWriter();
            w.String(1, name);
            w.Message(2, tp);
            return w;
        }

        public byte[] Model(string graphName, long opset, string doc)
        {
            long size = 256;
            foreach (var l in new[] { _nodes, _inits, _inputs, _outputs }) foreach (var x in l) size += x.Length + 8;
            var graph = new ProtoWriter((int)Math.Min(size, Array.MaxLength));
            foreach (var n in _nodes) graph.Message(1, n);     // node
            graph.String(2, graphName);                        // name
            foreach (var i in _inits) graph.Message(5, i);     // initializer
            foreach (var i in _inputs) graph.Message(11, i);   // input
            foreach (var o in _outputs) graph.Message(12, o);  // output
            var opsetId = new ProtoWriter();
            opsetId.String(1, "");                             // domain: ai.onnx
            opsetId.Int64(2, opset);                           // version
            var model = new ProtoWriter((int)Math.Min(size + 256, Array.MaxLength));
            model.Int64(1, IrVersion);                         // ir_version
            model.String(2, "Rnn");                            // producer_name
            model.String(3, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0"); // producer_version
            model.String(6, doc);                              // doc_string
            model.Message(7, graph);                           // graph
            model.Message(8, opsetId);                         // opset_import
            return model.ToArray();
        }
    }
}
