using System.Numerics;
using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Xunit.Abstractions;
using static Rnn.Tests.InteropTests;

namespace Rnn.Tests;

/// <summary>
/// PyTorch state_dicts as PyTorch users have them: each <c>torch_*.state.safetensors</c> fixture is a bare
/// <c>module.state_dict()</c> (PyTorch's names, no prefix, nothing else) written by tools/make_fixtures.py, and
/// <c>torch_*.safetensors</c> holds the reference run (inputs, outputs, final states, loss, every gradient).
/// The layers are built from the state dict alone (<see cref="PyTorchImport.BuildRecurrent{T}"/>, BuildEmbedding,
/// BuildLinear). In double every element is also held to |ours − torch| ≤ 1e-12.
/// </summary>
public class PyTorchStateDictTests(ITestOutputHelper output)
{
    private const double Acceptance = 1e-12;

    private static double Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> w) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += double.CreateTruncating(a[i]) * double.CreateTruncating(w[i]);
        return s;
    }

    // (d0, d1, rest) → (d1, d0, rest): PyTorch's (S, B, ·) with batch_first=False to our (B, S, ·) and back.
    private static T[] Swap01<T>(ReadOnlySpan<T> a, int d0, int d1)
    {
        int rest = a.Length / (d0 * d1);
        var r = new T[a.Length];
        for (int i = 0; i < d0; i++)
            for (int j = 0; j < d1; j++) a.Slice((i * d1 + j) * rest, rest).CopyTo(r.AsSpan((j * d0 + i) * rest, rest));
        return r;
    }

    private static void Accept<T>(Checker<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        c.Done();
        if (typeof(T) != typeof(double)) return;
        Assert.True(c.ForwardAbs <= Acceptance, $"forward max |diff| {c.ForwardAbs:E2} > {Acceptance:E0}");
        Assert.True(c.BackwardAbs <= Acceptance, $"backward max |diff| {c.BackwardAbs:E2} > {Acceptance:E0}");
    }

    /// <summary>Builds the module from its bare state dict, runs it (from h0/c0 when the fixture has them) and checks everything.</summary>
    /// With a <paramref name="prefix"/>, the state dict is the one under that prefix inside the reference file itself.
    private void BareCase<T>(string name, Activation nonlinearity = Activation.Tanh, string prefix = "") where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var f = SafeTensors.Load(Fixture(name + ".safetensors"));
        using var state = prefix.Length == 0 ? SafeTensors.Load(Fixture(name + ".state.safetensors")) : f;
        var c = new Checker<T>(f, output, name);
        bool given = f.Contains("h0"), batchFirst = f.Metadata["batch_first"] == "true";
        using var rnn = PyTorchImport.BuildRecurrent<T>(state, prefix, nonlinearity, given ? InitialState.Given : InitialState.Zero);
        rnn.Training = true;
        var xs = f.Info("x").Shape; // (B, S, I), or (S, B, I) without batch_first
        int B = (int)(batchFirst ? xs[0] : xs[1]), S = (int)(batchFirst ? xs[1] : xs[0]);
        var x = batchFirst ? c.Get("x") : Swap01<T>(c.Get("x"), S, B); // our layers are batch-major
        var h0 = given ? c.Get("h0") : []; var c0 = given && f.Contains("c0") ? c.Get("c0") : [];
        var y = new T[B * rnn.OutputLength(S)];
        rnn.Forward(y, x, default, h0, c0, B, S);
        var yTorch = batchFirst ? y : Swap01<T>(y, B, S);
        c.Check("out", yTorch, false);
        c.Check("h_n", rnn.FinalH, false);
        bool lstm = rnn.StateCount == 2;
        if (lstm) c.Check("c_n", rnn.FinalC, false);
        var wOut = c.Get("loss.w_out"); var wH = c.Get("loss.w_h"); var wC = lstm ? c.Get("loss.w_c") : [];
        c.CheckScalar("loss", Dot<T>(yTorch, wOut) + Dot<T>(rnn.FinalH, wH) + (lstm ? Dot<T>(rnn.FinalC, wC) : 0));
        rnn.ZeroGrad();
        var dx = new T[x.Length]; var dh0 = new T[h0.Length]; var dc0 = new T[c0.Length];
        rnn.Backward(dx, dh0, dc0, batchFirst ? wOut : Swap01<T>(wOut, S, B), wH, wC, B, S);
        foreach (var (tensor, p) in PyTorchImport.Names<T>([("", rnn)])) c.Check("grad." + tensor, p.Grad, true);
        c.Check("grad.x", batchFirst ? dx : Swap01<T>(dx, B, S), true);
        if (given) c.Check("grad.h0", dh0, true);
        if (c0.Length > 0) c.Check("grad.c0", dc0, true);
        Accept(c);
    }

    [Fact] public void Lstm_2_layers_bidirectional_h0_c0_double() => BareCase<double>("torch_lstm_bi2");
    [Fact] public void Lstm_2_layers_bidirectional_h0_c0_float() => BareCase<float>("torch_lstm_bi2");
    [Fact] public void Gru_2_layers_seq_major_h0_double() => BareCase<double>("torch_gru2");
    [Fact] public void Gru_2_layers_seq_major_h0_float() => BareCase<float>("torch_gru2");
    [Fact] public void Rnn_relu_2_layers_bidirectional_double() => BareCase<double>("torch_rnn_relu", Activation.Relu);
    [Fact] public void Rnn_relu_2_layers_bidirectional_float() => BareCase<float>("torch_rnn_relu", Activation.Relu);
    [Fact] public void Rnn_tanh_under_a_prefix_double() => BareCase<double>("rnn_tanh", Activation.Tanh, "state");
    [Fact] public void Rnn_tanh_under_a_prefix_float() => BareCase<float>("rnn_tanh", Activation.Tanh, "state");
    [Fact] public void Gru_without_bias_double() => BareCase<double>("torch_gru_nobias");
    [Fact] public void Gru_without_bias_float() => BareCase<float>("torch_gru_nobias");
    [Fact] public void Lstm_proj_2_layers_h0_c0_double() => BareCase<double>("torch_lstm_proj");
    [Fact] public void Lstm_proj_2_layers_h0_c0_float() => BareCase<float>("torch_lstm_proj");

    [Fact]
    public void Bare_state_dict_gives_the_layer_kind_it_describes()
    {
        using (var s = SafeTensors.Load(Fixture("torch_gru_nobias.state.safetensors")))
        using (var l = PyTorchImport.BuildRecurrent<double>(s))
        {
            var gru = Assert.IsType<Gru<double>>(l);
            Assert.Equal(["weight_ih_l0", "weight_hh_l0"], PyTorchImport.Names<double>([("", l)]).Select(t => t.Tensor));
            Assert.All(gru.BiasIh.Value.Concat(gru.BiasHh!.Value), v => Assert.Equal(0.0, v));
            PyTorchImport.LoadRecurrent(s, gru); // the explicit route skips the biases the module has not, too
        }
        using (var s = SafeTensors.Load(Fixture("torch_rnn_relu.state.safetensors")))
        using (var l = PyTorchImport.BuildRecurrent<double>(s, nonlinearity: Activation.Relu))
        {
            var stack = Assert.IsType<RecurrentStack<double>>(l);
            Assert.Equal(2, stack.Layers.Count);
            var bi = Assert.IsType<Bidirectional<double>>(stack.Layers[1]);
            Assert.Equal(Activation.Relu, Assert.IsType<SimpleRnn<double>>(bi.BackwardsLayer).Options.Activation);
            Assert.Equal(8, stack.HiddenSize);
        }
        // A prefixed bare module inside a larger file: only the tensors under the prefix count.
        using var f = SafeTensors.Load(Fixture("lstm_bi_state.safetensors"));
        using var b = PyTorchImport.BuildRecurrent<double>(f, "state");
        Assert.IsType<RecurrentStack<double>>(b);
        Assert.Equal(16, b.Parameters.Count);
    }

    // ---------- Embedding → LSTM → Linear under the names tok, enc, out ----------

    private void CompositeCase<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string name = "torch_tok_enc_out";
        using var state = SafeTensors.Load(Fixture(name + ".state.safetensors"));
        using var f = SafeTensors.Load(Fixture(name + ".safetensors"));
        var c = new Checker<T>(f, output, name);
        using var tok = PyTorchImport.BuildEmbedding<T>(state, "tok");
        using var enc = PyTorchImport.BuildRecurrent<T>(state, "enc");
        using var head = PyTorchImport.BuildLinear<T>(state, "out");
        (string, object)[] modules = [("tok", tok), ("enc", enc), ("out", head)];
        var report = PyTorchImport.Load<T>(state, modules); // strict over the whole file
        Assert.True(report.Complete, report.ToString());
        Assert.Equal(state.Tensors.Count, report.Loaded.Count);

        var ts = f.Info("tokens").Shape; int B = (int)ts[0], S = (int)ts[1], E = tok.Dim, H = enc.HiddenSize, C = head.OutputSize;
        var tokens = f.GetInt32("tokens");
        var e = new T[B * S * E]; var y = new T[B * S * H]; var logits = new T[B * S * C];
        tok.Forward(e, tokens, B, S);
        enc.Forward(y, e, default, B, S);
        head.Forward(logits, y, B * S);
        c.Check("out", logits, false);
        c.Check("h_n", enc.FinalH, false);
        c.Check("c_n", enc.FinalC, false);
        var wOut = c.Get("loss.w_out"); var wH = c.Get("loss.w_h"); var wC = c.Get("loss.w_c");
        c.CheckScalar("loss", Dot<T>(logits, wOut) + Dot<T>(enc.FinalH, wH) + Dot<T>(enc.FinalC, wC));
        tok.ZeroGrad(); enc.ZeroGrad(); head.ZeroGrad();
        var dy = new T[y.Length]; var de = new T[e.Length];
        head.Backward(dy, wOut, B * S);
        enc.Backward(de, default, default, dy, wH, wC, B, S);
        tok.Backward(de, B, S);
        foreach (var (tensor, p) in PyTorchImport.Names<T>(modules)) c.Check("grad." + tensor, p.Grad, true);
        Accept(c);
    }

    [Fact] public void Embedding_lstm_linear_under_other_names_double() => CompositeCase<double>();
    [Fact] public void Embedding_lstm_linear_under_other_names_float() => CompositeCase<float>();

    private static RecurrentStack<double> HandLstm(int input, int hidden) => new(
        new Lstm<double>(input, hidden, new Rng(1), new LstmOptions { TwoBiases = true }, "_l0"),
        new Lstm<double>(hidden, hidden, new Rng(2), new LstmOptions { TwoBiases = true }, "_l1"));

    [Fact]
    public void Hand_built_layers_load_by_module_name()
    {
        using var state = SafeTensors.Load(Fixture("torch_tok_enc_out.state.safetensors"));
        using var emb = new Embedding<double>(13, 3, new Rng(1));
        using var lstm = HandLstm(3, 4);
        using var dense = new Dense<double>(4, 5, new Rng(1));
        var r = PyTorchImport.Load<double>(state, [("tok", emb), ("enc.", lstm), ("out", dense)]);
        Assert.True(r.Complete);
        Assert.Equal(state.GetDouble("tok.weight"), emb.Weight.Value);
        Assert.Equal(state.GetDouble("enc.bias_hh_l1"), ((Lstm<double>)lstm.Layers[1]).BiasHh!.Value);
        Assert.Equal(state.GetDouble("out.weight"), dense.Weight.Value); // nn.Linear's (out, in) is ours: no transpose
        Assert.Equal(state.GetDouble("out.bias"), dense.Bias.Value);
    }

    [Fact]
    public void Strict_names_the_tensors_left_over_and_the_parameters_missing()
    {
        using var state = SafeTensors.Load(Fixture("torch_tok_enc_out.state.safetensors"));
        using var emb = new Embedding<double>(13, 3, new Rng(1));
        using var lstm = HandLstm(3, 4);
        using var dense = new Dense<double>(4, 5, new Rng(1));
        var before = (double[])dense.Weight.Value.Clone();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.Load<double>(state, [("tok", emb), ("enc", lstm), ("head", dense)]));
        Assert.Equal("head.weight", e.Tensor);
        foreach (var n in new[] { "'head.weight' (5, 4)", "'head.bias' (5)", "'out.weight' (5, 4)", "'out.bias' (5)", "strict: false" }) Assert.Contains(n, e.Message);
        Assert.Equal(before, dense.Weight.Value);
        Assert.NotEqual(state.GetDouble("tok.weight"), emb.Weight.Value); // nothing written

        var r = PyTorchImport.Load<double>(state, [("tok", emb), ("enc", lstm), ("head", dense)], strict: false);
        Assert.Equal(["out.bias", "out.weight"], r.Unused.Order());
        Assert.Equal(["head.weight", "head.bias"], r.Missing);
        Assert.Equal(9, r.Loaded.Count);
        Assert.Equal(state.GetDouble("tok.weight"), emb.Weight.Value);
        Assert.Equal(before, dense.Weight.Value);
        Assert.Contains("2 unused: out.bias, out.weight", r.ToString());
    }

    [Fact]
    public void A_shape_error_names_the_tensor_and_both_shapes_even_when_not_strict()
    {
        using var state = SafeTensors.Load(Fixture("torch_tok_enc_out.state.safetensors"));
        using var dense = new Dense<double>(5, 4, new Rng(1));
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.Load<double>(state, [("out", dense)], strict: false));
        Assert.Equal("out.weight", e.Tensor);
        Assert.Contains("expected shape (4, 5), got (5, 4)", e.Message);
    }

    [Fact]
    public void Module_list_misuse_is_an_argument_error()
    {
        using var state = SafeTensors.Load(Fixture("torch_tok_enc_out.state.safetensors"));
        using var dense = new Dense<double>(4, 5, new Rng(1));
        var a = Assert.Throws<ArgumentException>(() => PyTorchImport.Load<double>(state, [("out", dense), ("out", dense)]));
        Assert.Contains("'out.weight' is named twice", a.Message);
        a = Assert.Throws<ArgumentException>(() => PyTorchImport.Load<double>(state, [("out", "not a layer")]));
        Assert.Contains("got String", a.Message);
        Assert.Throws<ArgumentNullException>(() => PyTorchImport.Load<double>(state, [(null!, dense)]));
        a = Assert.Throws<ArgumentException>(() => PyTorchImport.Load<double>(state, [("a", dense), ("b", dense)]));
        Assert.Contains("mapped twice", a.Message);
    }

    // ---------- the bug of issue 16: a one-bias layer loaded "OK" with bias_hh_l0 ignored ----------

    private static SafeTensorsFile Bare(string fixture, Func<SafeTensorInfo, SafeTensorsFile, NamedTensor?>? edit = null, params NamedTensor[] extra)
    {
        using var src = SafeTensors.Load(Fixture(fixture));
        var tensors = new List<NamedTensor>();
        foreach (var t in src.Tensors)
        {
            if (!t.Name.StartsWith("state.", StringComparison.Ordinal) && !fixture.EndsWith(".state.safetensors", StringComparison.Ordinal)) continue;
            string n = fixture.EndsWith(".state.safetensors", StringComparison.Ordinal) ? t.Name : t.Name["state.".Length..];
            var nt = edit?.Invoke(t, src) ?? NamedTensor.F64(n, t.Shape.Select(d => (int)d).ToArray(), src.GetDouble(t.Name));
            if (nt.Name != "-") tensors.Add(nt);
        }
        tensors.AddRange(extra);
        return SafeTensors.Deserialize(SafeTensors.Serialize(tensors), "state_dict.safetensors");
    }

    private static readonly NamedTensor Drop = NamedTensor.F64("-", [0], Array.Empty<double>());

    [Fact]
    public void One_bias_layer_against_two_biases_is_an_error_with_a_null_scope()
    {
        using var f = Bare("rnn_tanh.safetensors");
        using var rnn = new SimpleRnn<double>(3, 4, new Rng(1));
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.Load(f, rnn.Parameters.Select(p => (p.Name, p)), scope: null));
        Assert.Equal("bias_hh_l0", e.Tensor);
        Assert.Contains("TwoBiases", e.Message);
        var r = PyTorchImport.Load(f, rnn.Parameters.Select(p => (p.Name, p)), scope: null, strict: false);
        Assert.Equal(["bias_hh_l0"], r.Unused);
        using var two = new SimpleRnn<double>(3, 4, new Rng(1), new SimpleRnnOptions { TwoBiases = true });
        Assert.True(PyTorchImport.Load(f, two.Parameters.Select(p => (p.Name, p)), scope: null).Complete);
    }

    [Fact]
    public void BuildModel_on_a_bare_state_dict_points_to_BuildRecurrent()
    {
        using var f = SafeTensors.Load(Fixture("torch_lstm_bi2.state.safetensors"));
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.BuildModel<double>(f, rnn: ""));
        Assert.Equal("fc.weight", e.Tensor);
        Assert.Contains("BuildRecurrent", e.Message);
    }

    // ---------- hostile state dicts ----------

    private static SafeTensorsException Refused(SafeTensorsFile f, string tensor, params string[] parts)
    {
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.BuildRecurrent<double>(f).Dispose());
        Assert.Equal(tensor, e.Tensor);
        foreach (var p in parts) Assert.Contains(p, e.Message);
        return e;
    }

    private const string Lstm2 = "torch_lstm_bi2.state.safetensors";

    [Fact]
    public void Inconsistent_sizes_between_layers_name_the_tensor()
    {
        using var f = Bare(Lstm2, (t, _) => t.Name == "weight_ih_l1" ? NamedTensor.F64(t.Name, [16, 5], new double[80]) : null);
        Refused(f, "weight_ih_l1", "expected shape (16, 8)", "got (16, 5)", "layer 1's input is layer 0's output");
        using var g = Bare(Lstm2, (t, _) => t.Name == "weight_hh_l1_reverse" ? NamedTensor.F64(t.Name, [12, 3], new double[36]) : null);
        Refused(g, "weight_hh_l1_reverse", "expected shape (16, 4)", "got (12, 3)");
    }

    [Fact]
    public void Missing_reverse_tensors_name_the_first_missing()
    {
        using var f = Bare(Lstm2, (t, _) => t.Name == "bias_hh_l1_reverse" ? Drop : null);
        Refused(f, "bias_hh_l1_reverse", "missing", "2-layer bidirectional LSTM");
        using var g = Bare(Lstm2, (t, _) => t.Name.EndsWith("_l1_reverse", StringComparison.Ordinal) ? Drop : null);
        Refused(g, "weight_ih_l1_reverse", "missing");
        using var h = Bare(Lstm2, (t, _) => t.Name.EndsWith("_l0_reverse", StringComparison.Ordinal) ? Drop : null);
        Refused(h, "bias_hh_l1_reverse", "weight_ih_l0_reverse is missing");
    }

    [Fact]
    public void Unknown_tensor_is_refused_or_reported()
    {
        using var f = Bare(Lstm2, null, NamedTensor.F64("running_mean", [4], new double[4]));
        Refused(f, "running_mean", "unexpected", "tensors no parameter takes: 'running_mean' (4)");
        using var l = PyTorchImport.BuildRecurrent<double>(f, strict: false);
        Assert.Equal(16, l.Parameters.Count);
        using var g = Bare(Lstm2, null, NamedTensor.F64("weight_ih_l3", [16, 8], new double[128]));
        Refused(g, "weight_ih_l3", "layers are numbered 0..1");
    }

    [Fact]
    public void Wrong_rank_and_dtype_name_the_tensor()
    {
        using var f = Bare(Lstm2, (t, _) => t.Name == "bias_ih_l0" ? NamedTensor.F64(t.Name, [1, 16], new double[16]) : null);
        Refused(f, "bias_ih_l0", "expected shape (16)", "got (1, 16)");
        using var g = Bare(Lstm2, (t, _) => t.Name == "weight_ih_l0" ? NamedTensor.F64(t.Name, [48], new double[48]) : null);
        Refused(g, "weight_ih_l0", "expected 2 dimensions");
        using var h = Bare(Lstm2, (t, _) => t.Name == "bias_hh_l1" ? NamedTensor.I64(t.Name, [16], new long[16]) : null);
        Refused(h, "bias_hh_l1", "floating-point", "I64");
        using var i = Bare(Lstm2, (t, _) => t.Name == "bias_hh_l0" ? Drop : null);
        Refused(i, "bias_hh_l0", "missing", "both biases (bias=True) or neither");
    }

    [Fact]
    public void Nan_or_infinite_weights_name_the_tensor_and_index_and_write_nothing()
    {
        using var f = Bare(Lstm2, (t, src) =>
        {
            if (t.Name != "weight_hh_l1") return null;
            var v = src.GetDouble(t.Name); v[3] = double.NaN;
            return NamedTensor.F64(t.Name, [16, 4], v);
        });
        Refused(f, "weight_hh_l1", "finite", "flat index 3");
        using var lstm = HandLstm(3, 4);
        var before = lstm.Parameters.Select(p => (double[])p.Value.Clone()).ToList();
        // A hand-built stack of the same sizes (unidirectional: the reverse tensors are left over, not strict) with an infinite bias in layer 1.
        using var g = Bare(Lstm2, (t, src) =>
        {
            if (t.Name != "bias_ih_l1") return null;
            var v = src.GetDouble(t.Name); v[0] = double.PositiveInfinity;
            return NamedTensor.F64(t.Name, [16], v);
        });
        Assert.Throws<SafeTensorsException>(() => PyTorchImport.Load<double>(g, [("", lstm)], strict: false));
        for (int k = 0; k < before.Count; k++) Assert.Equal(before[k], lstm.Parameters[k].Value);
        // Finite in double, infinite in float: refused when loading float.
        using var big = Bare(Lstm2, (t, src) => t.Name == "weight_ih_l0" ? NamedTensor.F64(t.Name, [16, 3], Enumerable.Repeat(1e300, 48).ToArray()) : null);
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.BuildRecurrent<float>(big).Dispose());
        Assert.Contains("out of Single's range", e.Message);
    }

    /// <summary>
    /// Random structural corruptions of real state dicts (a tensor dropped, renamed to another layer or direction,
    /// reshaped, re-ranked, given an integer dtype or a NaN, or a stray tensor added; one to three at a time):
    /// BuildRecurrent either loads a consistent module or throws SafeTensorsException, never anything else.
    /// </summary>
    [Theory]
    [InlineData("torch_lstm_bi2")]
    [InlineData("torch_gru2")]
    [InlineData("torch_rnn_relu")]
    [InlineData("torch_gru_nobias")]
    [InlineData("torch_lstm_proj")]
    public void Corrupted_state_dicts_throw_only_SafeTensorsException(string name)
    {
        using var src = SafeTensors.Load(Fixture(name + ".state.safetensors"));
        var rng = new Rng(16);
        int refused = 0, loaded = 0;
        for (int round = 0; round < 150; round++)
        {
            var ts = src.Tensors.Select(t => (Name: t.Name, Shape: t.Shape.Select(d => (int)d).ToArray(), Data: src.GetDouble(t.Name), Int: false)).ToList();
            int edits = 1 + rng.NextInt(3);
            for (int e = 0; e < edits && ts.Count > 0; e++)
            {
                int i = rng.NextInt(ts.Count);
                var t = ts[i];
                switch (rng.NextInt(8))
                {
                    case 0: ts.RemoveAt(i); break;
                    case 1: ts[i] = t with { Name = t.Name.Replace("_l0", "_l" + (1 + rng.NextInt(3)), StringComparison.Ordinal) }; break;
                    case 2: ts[i] = t with { Name = t.Name.EndsWith("_reverse", StringComparison.Ordinal) ? t.Name[..^8] : t.Name + "_reverse" }; break;
                    case 3:
                        {
                            var shape = (int[])t.Shape.Clone();
                            int d = rng.NextInt(shape.Length);
                            shape[d] = Math.Max(0, shape[d] + (rng.NextInt(2) == 0 ? -1 : 1));
                            ts[i] = t with { Shape = shape, Data = new double[shape.Aggregate(1, (a, b) => a * b)] };
                            break;
                        }
                    case 4: ts[i] = t with { Shape = rng.NextInt(2) == 0 ? [t.Data.Length] : [1, .. t.Shape] }; break;
                    case 5: ts[i] = t with { Int = true }; break;
                    case 6: { var v = (double[])t.Data.Clone(); if (v.Length > 0) v[rng.NextInt(v.Length)] = double.NaN; ts[i] = t with { Data = v }; break; }
                    default: ts.Add(("weight_hh_l" + rng.NextInt(3) + (rng.NextInt(2) == 0 ? "" : "_reverse"), [4, 4], new double[16], false)); break;
                }
            }
            // Renames can collide: keep the first of a name.
            var tensors = ts.GroupBy(t => t.Name).Select(g => g.First())
                .Select(t => t.Int ? NamedTensor.I64(t.Name, t.Shape, t.Data.Select(v => double.IsNaN(v) ? 0L : (long)v).ToArray()) : NamedTensor.F64(t.Name, t.Shape, t.Data));
            using var f = SafeTensors.Deserialize(SafeTensors.Serialize(tensors), $"round{round}.safetensors");
            try
            {
                using var l = PyTorchImport.BuildRecurrent<float>(f, nonlinearity: name.Contains("relu", StringComparison.Ordinal) ? Activation.Relu : Activation.Tanh);
                // Loaded: the module takes every tensor of the file, with its shape.
                var names = PyTorchImport.Names<float>([("", l)]);
                Assert.Equal(f.Tensors.Count, names.Count);
                foreach (var (tensor, p) in names) Assert.Equal(f.Info(tensor).Shape, p.Shape.Select(d => (long)d));
                loaded++;
            }
            catch (SafeTensorsException) { refused++; }
        }
        output.WriteLine($"{name}: 150 corrupted state dicts, {refused} refused with SafeTensorsException, {loaded} loaded as a consistent module");
        Assert.True(refused > 100, $"expected most corruptions refused, got {refused}");
    }

    // ---------- export: back under the same names ----------

    [Theory]
    [InlineData("torch_lstm_bi2", "")]
    [InlineData("torch_gru2", "")]
    [InlineData("torch_rnn_relu", "")]
    [InlineData("torch_gru_nobias", "")]
    [InlineData("torch_lstm_proj", "")]
    [InlineData("torch_tok_enc_out", "enc")]
    public void Import_then_export_gives_the_same_tensors_and_bytes(string name, string composite)
    {
        using var state = SafeTensors.Load(Fixture(name + ".state.safetensors"));
        var modules = new List<(string, object)>();
        var owned = new List<IDisposable>();
        try
        {
            if (composite.Length == 0) { var l = PyTorchImport.BuildRecurrent<double>(state, nonlinearity: name.Contains("relu") ? Activation.Relu : Activation.Tanh); owned.Add(l); modules.Add(("", l)); }
            else
            {
                var tok = PyTorchImport.BuildEmbedding<double>(state, "tok"); owned.Add(tok);
                var enc = PyTorchImport.BuildRecurrent<double>(state, "enc"); owned.Add(enc);
                var head = PyTorchImport.BuildLinear<double>(state, "out"); owned.Add(head);
                modules.AddRange([("tok", tok), ("enc", enc), ("out", head)]);
            }
            var md = new Dictionary<string, string> { ["format"] = "pt" };
            var bytes = PyTorchExport.Serialize<double>(modules, md);
            using var back = SafeTensors.Deserialize(bytes, "export.safetensors");
            Assert.Equal(state.Names.Order(StringComparer.Ordinal), back.Names.Order(StringComparer.Ordinal));
            foreach (var t in state.Tensors)
            {
                Assert.Equal(t.Shape, back.Info(t.Name).Shape);
                Assert.Equal(state.GetDouble(t.Name), back.GetDouble(t.Name));
            }
            var original = SafeTensors.Serialize(state.Tensors.Select(t => NamedTensor.F64(t.Name, t.Shape.Select(d => (int)d).ToArray(), state.GetDouble(t.Name))), md);
            Assert.Equal(original, bytes);
            Assert.True(PyTorchImport.Load<double>(back, modules).Complete);
            output.WriteLine($"{name}: {state.Tensors.Count} tensors, {bytes.Length} bytes, identical");
        }
        finally { foreach (var o in owned) o.Dispose(); }
    }

    [Fact]
    public void Export_refuses_a_trained_bias_the_module_does_not_have()
    {
        using var state = SafeTensors.Load(Fixture("torch_gru_nobias.state.safetensors"));
        using var gru = (Gru<double>)PyTorchImport.BuildRecurrent<double>(state);
        Assert.Equal(2, PyTorchExport.StateDict<double>([("", gru)]).Count);
        gru.BiasHh!.Value[5] = 0.25;
        var e = Assert.Throws<InvalidOperationException>(() => PyTorchExport.StateDict<double>([("", gru)]));
        Assert.Contains("bias_hh_l0", e.Message);
        Assert.Contains("bias=False", e.Message);
    }

    [Fact]
    public void Export_of_float_layers_writes_F32_under_module_names()
    {
        using var state = SafeTensors.Load(Fixture("torch_tok_enc_out.state.safetensors"));
        using var head = PyTorchImport.BuildLinear<float>(state, "out");
        var path = Path.Combine(Path.GetTempPath(), $"rnn-export-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            PyTorchExport.Save<float>(path, [("model.head", head)]);
            using var f = SafeTensors.Load(path);
            Assert.Equal(["model.head.bias", "model.head.weight"], f.Names.Order(StringComparer.Ordinal));
            Assert.Equal(SafeTensorsDType.F32, f.Info("model.head.weight").DType);
            Assert.Equal(state.GetDouble("out.weight").Select(v => (float)v), f.GetFloat("model.head.weight"));
        }
        finally { File.Delete(path); }
    }
}
