using System.Numerics;
using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Models;
using Xunit.Abstractions;

namespace Rnn.Tests;

/// <summary>
/// Our layers against PyTorch, through the importer: the fixtures in Rnn.Tests/Fixtures were written by
/// tools/make_fixtures.py (torch 1.13, float64) and hold a module's state_dict, its inputs, outputs, final states,
/// a loss and every gradient. Each case runs in double and in float32 and compares every element with
/// |ours − torch| ≤ rel·|torch| + abs: double rel 1e-10, abs 1e-12; float32 rel 1e-5, abs 1e-6.
/// The weights and inputs are exactly representable in float32 (the script rounds them), so the float32 run
/// sees the same numbers and only its arithmetic differs.
/// </summary>
public class InteropTests(ITestOutputHelper output)
{
    internal const double RelF64 = 1e-10, AbsF64 = 1e-12, RelF32 = 1e-5, AbsF32 = 1e-6;

    internal static string Fixture(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "Rnn.Tests", "Fixtures", name);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"fixture {name}: expected Rnn.Tests/Fixtures/{name} above {AppContext.BaseDirectory}; run tools/make_fixtures.py.");
    }

    /// <summary>Compares tensors of one precision against a fixture and records the largest errors.</summary>
    internal sealed class Checker<T>(SafeTensorsFile file, ITestOutputHelper log, string label) where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly double _rel = typeof(T) == typeof(float) ? RelF32 : RelF64;
        private readonly double _abs = typeof(T) == typeof(float) ? AbsF32 : AbsF64;
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        public double ForwardAbs, BackwardAbs, ForwardRatio, BackwardRatio; // largest |a − b|, and largest |a − b| / tolerance (1 = at the limit)

        public T[] Get(string name) => file.GetDouble(name).Select(T.CreateTruncating).ToArray();

        /// <summary>Element-wise check of ours against the fixture tensor (optionally only where keep is true).</summary>
        public void Check(string name, ReadOnlySpan<T> ours, bool backward, Func<int, bool>? keep = null)
        {
            var want = file.GetDouble(name);
            Assert.True(want.Length == ours.Length, $"{label} {name}: expected {want.Length} elements, ours has {ours.Length}.");
            double worst = 0, worstAbs = 0;
            int compared = 0;
            for (int i = 0; i < want.Length; i++)
            {
                if (keep != null && !keep(i)) continue;
                double a = double.CreateTruncating(ours[i]), b = want[i];
                double err = Math.Abs(a - b), tol = _rel * Math.Abs(b) + _abs;
                Assert.True(err <= tol, $"{label} {name}[{i}]: ours {a:R}, torch {b:R}, |diff| {err:E3} > tolerance {tol:E3}.");
                worst = Math.Max(worst, err / tol);
                worstAbs = Math.Max(worstAbs, err);
                compared++;
            }
            Assert.True(compared > 0, $"{label} {name}: nothing compared.");
            _seen.Add(name);
            if (backward) { BackwardAbs = Math.Max(BackwardAbs, worstAbs); BackwardRatio = Math.Max(BackwardRatio, worst); }
            else { ForwardAbs = Math.Max(ForwardAbs, worstAbs); ForwardRatio = Math.Max(ForwardRatio, worst); }
        }

        public void CheckScalar(string name, double ours) => Check(name, [T.CreateTruncating(ours)], false);

        /// <summary>Every gradient in the file was compared; logs the largest relative errors.</summary>
        public void Done()
        {
            var missing = file.Names.Where(n => n.StartsWith("grad.", StringComparison.Ordinal) && !_seen.Contains(n)).ToList();
            Assert.True(missing.Count == 0, $"{label}: gradients not compared: {string.Join(", ", missing)}.");
            log.WriteLine($"{label} {typeof(T).Name}: max |diff| forward {ForwardAbs:E2} (= {ForwardRatio:E1} × tolerance), backward {BackwardAbs:E2} (= {BackwardRatio:E1} × tolerance), {_seen.Count} tensors");
        }
    }

    internal static string StatePrefix<T>() => typeof(T) == typeof(float) ? "state32." : "state.";

    private static double Dot<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> w) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += double.CreateTruncating(a[i]) * double.CreateTruncating(w[i]);
        return s;
    }

    // ---------- (a) nn.RNN, tanh and relu ----------

    private void RnnCase<T>(string fixture, Activation act) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var f = SafeTensors.Load(Fixture(fixture));
        var c = new Checker<T>(f, output, fixture);
        var xs = f.Info("x").Shape; int B = (int)xs[0], S = (int)xs[1], I = (int)xs[2];
        int H = (int)f.Info("state.weight_hh_l0").Shape[1];
        using var rnn = new SimpleRnn<T>(I, H, new Rng(1), new SimpleRnnOptions { Activation = act, TwoBiases = true });
        PyTorchImport.LoadRecurrent(f, rnn, StatePrefix<T>());

        var x = c.Get("x");
        var y = new T[B * S * H];
        rnn.Forward(y, x, default, default, B, S);
        c.Check("out", y, false);
        var hn = new T[B * H]; // h_n (1, B, H) = the output at the last step
        for (int b = 0; b < B; b++) y.AsSpan((b * S + S - 1) * H, H).CopyTo(hn.AsSpan(b * H));
        c.Check("h_n", hn, false);

        var wOut = c.Get("loss.w_out"); var wH = c.Get("loss.w_h");
        c.CheckScalar("loss", Dot<T>(y, wOut) + Dot<T>(hn, wH));
        var dy = (T[])wOut.Clone();
        for (int b = 0; b < B; b++) Vec.Add<T>(dy.AsSpan((b * S + S - 1) * H, H), wH.AsSpan(b * H, H));
        var dx = new T[x.Length];
        rnn.ZeroGrad();
        rnn.Backward(dx, default, dy, B, S);
        foreach (var p in rnn.Parameters) c.Check("grad." + p.Name, p.Grad, true);
        c.Check("grad.x", dx, true);
        c.Done();
    }

    [Fact] public void RnnTanh_double() => RnnCase<double>("rnn_tanh.safetensors", Activation.Tanh);
    [Fact] public void RnnTanh_float() => RnnCase<float>("rnn_tanh.safetensors", Activation.Tanh);
    [Fact] public void RnnRelu_double() => RnnCase<double>("rnn_relu.safetensors", Activation.Relu);
    [Fact] public void RnnRelu_float() => RnnCase<float>("rnn_relu.safetensors", Activation.Relu);

    // ---------- (b), (c) nn.LSTM / nn.GRU: stacked, bidirectional, packed ----------

    private static IRecurrentLayer<T> Direction<T>(IRecurrentLayer<T> layer, int d) where T : unmanaged, IFloatingPointIeee754<T>
        => layer is Bidirectional<T> bi ? (d == 0 ? bi.Forwards : bi.BackwardsLayer) : layer;

    /// <summary>
    /// Builds the stack PyTorch's module describes (InspectRecurrent), loads the state_dict, runs it with the
    /// fixture's post-padded mask (when it was packed), and checks out (real steps only: PyTorch pads with 0
    /// where our layers carry the state), h_n, c_n, the loss and every gradient. The final-state gradients enter
    /// each direction's Backward as dhT/dcT.
    /// </summary>
    private void StackCase<T>(string fixture) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var f = SafeTensors.Load(Fixture(fixture));
        var c = new Checker<T>(f, output, fixture);
        var info = PyTorchImport.InspectRecurrent(f, "state.");
        var xs = f.Info("x").Shape; int B = (int)xs[0], S = (int)xs[1];
        int L = info.Layers, D = info.Bidirectional ? 2 : 1, H = info.HiddenSize;
        bool lstm = info.Cell == "LSTM";
        Assert.Equal(lstm ? "LSTM" : "GRU", info.Cell);
        var rng = new Rng(3);
        IRecurrentLayer<T> Make(int input, bool back, string suffix) => lstm
            ? new Lstm<T>(input, H, rng, new LstmOptions { TwoBiases = true, Backwards = back }, suffix)
            : new Gru<T>(input, H, rng, new GruOptions { TwoBiases = true, ResetAfter = true, Backwards = back }, suffix);
        var layers = new List<IRecurrentLayer<T>>();
        for (int k = 0; k < L; k++)
        {
            int input = k == 0 ? info.InputSize : D * H;
            layers.Add(D == 2 ? new Bidirectional<T>(Make(input, false, $"_l{k}"), Make(input, true, $"_l{k}_reverse")) : Make(input, false, $"_l{k}"));
        }
        try
        {
            PyTorchImport.LoadRecurrent(f, layers, StatePrefix<T>());
            var x = c.Get("x");
            var mask = f.Contains("lengths") ? c.Get("mask") : [];
            var ys = new T[L][];
            ReadOnlySpan<T> cur = x;
            for (int k = 0; k < L; k++)
            {
                ys[k] = new T[B * S * D * H];
                layers[k].Forward(ys[k], cur, mask, B, S);
                cur = ys[k];
            }
            var m = c.Get("mask");
            c.Check("out", ys[L - 1], false, i => m[i / (D * H)] == T.One);
            var hn = new T[L * D * B * H]; var cn = new T[hn.Length]; // (L·D, B, H)
            for (int k = 0; k < L; k++)
                for (int d = 0; d < D; d++)
                {
                    var dir = Direction(layers[k], d);
                    (dir is Lstm<T> l ? l.FinalH : ((Gru<T>)dir).FinalH).CopyTo(hn.AsSpan((k * D + d) * B * H, B * H));
                    if (dir is Lstm<T> l2) l2.FinalC.CopyTo(cn.AsSpan((k * D + d) * B * H, B * H));
                }
            c.Check("h_n", hn, false);
            if (lstm) c.Check("c_n", cn, false);

            var wOut = c.Get("loss.w_out"); var wH = c.Get("loss.w_h"); var wC = lstm ? c.Get("loss.w_c") : [];
            c.CheckScalar("loss", Dot<T>(ys[L - 1], wOut) + Dot<T>(hn, wH) + (lstm ? Dot<T>(cn, wC) : 0));

            foreach (var l in layers) l.ZeroGrad();
            var dy = wOut;
            var dx = new T[x.Length];
            var dyDir = new T[B * S * H];
            for (int k = L - 1; k >= 0; k--)
            {
                var dIn = k > 0 ? new T[B * S * D * H] : dx;
                for (int d = 0; d < D; d++)
                {
                    for (int r = 0; r < B * S; r++) dy.AsSpan(r * D * H + d * H, H).CopyTo(dyDir.AsSpan(r * H, H));
                    var dhT = wH.AsSpan((k * D + d) * B * H, B * H);
                    var dir = Direction(layers[k], d);
                    if (dir is Lstm<T> l) l.Backward(dIn, default, default, dyDir, dhT, wC.AsSpan((k * D + d) * B * H, B * H), B, S);
                    else ((Gru<T>)dir).Backward(dIn, default, dyDir, dhT, B, S);
                }
                dy = dIn;
            }
            foreach (var l in layers)
                foreach (var p in l.Parameters) c.Check("grad." + p.Name, p.Grad, true);
            c.Check("grad.x", dx, true);
            c.Done();
        }
        finally { foreach (var l in layers) l.Dispose(); }
    }

    /// <summary>
    /// The same modules through the state API with no layer driven by hand: a RecurrentStack of Bidirectional layers
    /// (or one layer), h0/c0 given in PyTorch's (layers·dirs, B, H), PaddedOutput.Zero so that every output element
    /// (padded ones too) is PyTorch's, one Forward and one Backward with h_n/c_n's gradients in and h0/c0's out.
    /// </summary>
    private void StateApiCase<T>(string fixture) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var f = SafeTensors.Load(Fixture(fixture));
        var c = new Checker<T>(f, output, fixture + " (state API)");
        var info = PyTorchImport.InspectRecurrent(f, "state.");
        var xs = f.Info("x").Shape; int B = (int)xs[0], S = (int)xs[1];
        int L = info.Layers, D = info.Bidirectional ? 2 : 1, H = info.HiddenSize, P = info.ProjSize > 0 ? info.ProjSize : H;
        Assert.Equal("LSTM", info.Cell);
        bool given = f.Contains("h0");
        var o = new LstmOptions
        {
            TwoBiases = true, ProjSize = info.ProjSize, PaddedOutput = PaddedOutput.Zero,
            InitialState = given ? InitialState.Given : InitialState.Zero,
        };
        IRecurrentLayer<T> Layer(int k)
        {
            int input = k == 0 ? info.InputSize : D * P;
            var fw = new Lstm<T>(input, H, null, o, $"_l{k}");
            return D == 1 ? fw : new Bidirectional<T>(fw, new Lstm<T>(input, H, null, o with { Backwards = true }, $"_l{k}_reverse"));
        }
        using var stack = new RecurrentStack<T>(Enumerable.Range(0, L).Select(Layer).ToArray());
        PyTorchImport.LoadRecurrent(f, stack, StatePrefix<T>());
        var x = c.Get("x");
        var mask = f.Contains("lengths") ? c.Get("mask") : [];
        var h0 = given ? c.Get("h0") : []; var c0 = given ? c.Get("c0") : [];
        var y = new T[B * S * D * P];
        stack.Forward(y, x, mask, h0, c0, B, S);
        c.Check("out", y, false);
        c.Check("h_n", stack.FinalH, false);
        c.Check("c_n", stack.FinalC, false);
        var wOut = c.Get("loss.w_out"); var wH = c.Get("loss.w_h"); var wC = c.Get("loss.w_c");
        c.CheckScalar("loss", Dot<T>(y, wOut) + Dot<T>(stack.FinalH, wH) + Dot<T>(stack.FinalC, wC));
        stack.ZeroGrad();
        var dx = new T[x.Length]; var dh0 = new T[h0.Length]; var dc0 = new T[c0.Length];
        stack.Backward(dx, dh0, dc0, wOut, wH, wC, B, S);
        foreach (var p in stack.Parameters) c.Check("grad." + p.Name, p.Grad, true);
        c.Check("grad.x", dx, true);
        if (given) { c.Check("grad.h0", dh0, true); c.Check("grad.c0", dc0, true); }
        c.Done();
    }

    [Fact] public void LstmBidirectional2States_double() => StateApiCase<double>("lstm_bi_state.safetensors");
    [Fact] public void LstmBidirectional2States_float() => StateApiCase<float>("lstm_bi_state.safetensors");
    [Fact] public void LstmPackedBidirectional2StateApi_double() => StateApiCase<double>("lstm_packed.safetensors");
    [Fact] public void LstmProjBidirectional2States_double() => StateApiCase<double>("lstm_proj.safetensors");
    [Fact] public void LstmProjBidirectional2States_float() => StateApiCase<float>("lstm_proj.safetensors");
    [Fact] public void LstmProj_double() => StateApiCase<double>("lstm_proj1.safetensors");
    [Fact] public void LstmProj_float() => StateApiCase<float>("lstm_proj1.safetensors");

    [Fact] public void LstmPackedBidirectional2_double() => StackCase<double>("lstm_packed.safetensors");
    [Fact] public void LstmPackedBidirectional2_float() => StackCase<float>("lstm_packed.safetensors");
    [Fact] public void Gru2_double() => StackCase<double>("gru.safetensors");
    [Fact] public void Gru2_float() => StackCase<float>("gru.safetensors");
    [Fact] public void GruBidirectional_double() => StackCase<double>("gru_bi.safetensors");
    [Fact] public void GruBidirectional_float() => StackCase<float>("gru_bi.safetensors");

    // ---------- (d) Embedding → LSTM → Linear on the last real state → BCEWithLogits ----------

    private void EmbedCase<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string fixture = "embed_lstm_fc.safetensors";
        using var f = SafeTensors.Load(Fixture(fixture));
        var c = new Checker<T>(f, output, fixture);
        string pre = StatePrefix<T>();
        using var model = PyTorchImport.BuildModel<T>(f, pre + "embedding.", pre + "rnn.", pre + "fc.");
        // Training mode: the imported model has no dropout, and Backward needs the tape a training Forward keeps.
        model.Training = true;
        Assert.Equal(CellKind.Lstm, model.Spec.Cell);
        var ts = f.Info("tokens").Shape; int B = (int)ts[0], S = (int)ts[1];
        var tokens = f.GetInt32("tokens");
        var mask = c.Get("mask"); // post-padded: our carried state at the end is pack_padded_sequence's h_n
        var logits = model.Forward(tokens, mask, B, S).ToArray();
        c.Check("logits", logits, false);
        var lstm = (Lstm<T>)model.Recurrent[0];
        c.Check("h_n", lstm.FinalH, false);
        c.Check("c_n", lstm.FinalC, false);
        var targets = c.Get("targets");
        c.CheckScalar("loss", double.CreateTruncating(Losses.BinaryCrossEntropy.Forward<T>(logits, targets)));
        model.ZeroGrad();
        var dOut = model.OutputGrad;
        dOut.Clear();
        Losses.BinaryCrossEntropy.Backward(dOut, logits, targets, T.One);
        model.Backward(dOut, default, B, S);
        foreach (var (name, p) in model.NamedParameters) c.Check("grad." + name, p.Grad, true);
        c.Done();
    }

    [Fact] public void EmbeddingLstmLinearBce_double() => EmbedCase<double>();
    [Fact] public void EmbeddingLstmLinearBce_float() => EmbedCase<float>();

    [Fact]
    public void BuildModel_rejects_an_unexpected_tensor_under_its_prefixes()
    {
        using var src = SafeTensors.Load(Fixture("embed_lstm_fc.safetensors"));
        var tensors = src.Tensors.Where(t => t.Name.StartsWith("state.", StringComparison.Ordinal)).Select(t => Keep(src, t)).ToList();
        tensors.Add(NamedTensor.F64("state.fc.extra", [1], new double[1]));
        using var f = SafeTensors.Deserialize(SafeTensors.Serialize(tensors), "extra.safetensors");
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.BuildModel<double>(f, "state.embedding.", "state.rnn.", "state.fc."));
        Assert.Equal("state.fc.extra", e.Tensor);
    }

    // ---------- Keras import: PyTorch fixtures permuted into Keras layout ----------

    /// <summary>Keras layout (cols, G·H) from ours (G·H, cols), Keras gate block j taken from our block ours[j].</summary>
    private static double[] ToKeras(double[] w, int[] ours, int H, int cols)
    {
        int G = ours.Length, GH = G * H;
        var k = new double[cols * GH];
        for (int j = 0; j < G; j++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < cols; i++) k[i * GH + j * H + h] = w[(ours[j] * H + h) * cols + i];
        return k;
    }

    private static SafeTensorsFile InMemory(params NamedTensor[] t) => SafeTensors.Deserialize(SafeTensors.Serialize(t), "keras.safetensors");

    private static double[] Sum(double[] a, double[] b) => a.Zip(b, (x, y) => x + y).ToArray();

    [Fact]
    public void Keras_lstm_from_permuted_torch_weights_gives_identical_outputs()
    {
        using var f = SafeTensors.Load(Fixture("lstm_packed.safetensors"));
        int I = 3, H = 4, B = 3, S = 5;
        using var torch = new Lstm<double>(I, H, new Rng(1), new LstmOptions { TwoBiases = true });
        PyTorchImport.Load(f, torch.Parameters.Select(p => ("state." + p.Name, p)), null, strict: false); // layer 0 of a 2-layer file
        // Keras i, f, c, o is our i, f, g, o: the same blocks, transposed; Keras has one bias, b_ih + b_hh.
        int[] same = [0, 1, 2, 3];
        using var k = InMemory(
            NamedTensor.F64("lstm/lstm_cell/kernel:0", [I, 4 * H], ToKeras(f.GetDouble("state.weight_ih_l0"), same, H, I)),
            NamedTensor.F64("lstm/lstm_cell/recurrent_kernel:0", [H, 4 * H], ToKeras(f.GetDouble("state.weight_hh_l0"), same, H, H)),
            NamedTensor.F64("lstm/lstm_cell/bias:0", [4 * H], Sum(f.GetDouble("state.bias_ih_l0"), f.GetDouble("state.bias_hh_l0"))));
        using var keras = new Lstm<double>(I, H, new Rng(2));
        KerasImport.LoadLstm(k, keras, "lstm/lstm_cell/");
        var x = f.GetDouble("x"); var mask = f.GetDouble("mask");
        double[] y1 = new double[B * S * H], y2 = new double[B * S * H];
        torch.Forward(y1, x, mask, default, default, B, S);
        keras.Forward(y2, x, mask, default, default, B, S);
        for (int i = 0; i < y1.Length; i++) Assert.True(Math.Abs(y1[i] - y2[i]) <= 1e-15 + 1e-13 * Math.Abs(y1[i]), $"y[{i}]: {y1[i]} vs {y2[i]}");
    }

    [Fact]
    public void Keras_gru_reset_after_from_permuted_torch_weights_matches_torch()
    {
        using var f = SafeTensors.Load(Fixture("gru_bi.safetensors"));
        int I = 3, H = 4, B = 2, S = 4;
        int[] kerasFromOurs = [1, 0, 2]; // Keras z, r, h = our blocks z (1), r (0), n (2)
        var bias = ToKeras(f.GetDouble("state.bias_ih_l0"), kerasFromOurs, H, 1).Concat(ToKeras(f.GetDouble("state.bias_hh_l0"), kerasFromOurs, H, 1)).ToArray();
        using var k = InMemory(
            NamedTensor.F64("gru/gru_cell/kernel", [I, 3 * H], ToKeras(f.GetDouble("state.weight_ih_l0"), kerasFromOurs, H, I)),
            NamedTensor.F64("gru/gru_cell/recurrent_kernel", [H, 3 * H], ToKeras(f.GetDouble("state.weight_hh_l0"), kerasFromOurs, H, H)),
            NamedTensor.F64("gru/gru_cell/bias", [2, 3 * H], bias));
        using var keras = new Gru<double>(I, H, new Rng(2), new GruOptions { ResetAfter = true, TwoBiases = true });
        KerasImport.LoadGru(k, keras, "gru/gru_cell/");
        foreach (var p in keras.Parameters) Assert.Equal(f.GetDouble("state." + p.Name), p.Value); // exact: a pure permutation
        var y = new double[B * S * H];
        keras.Forward(y, f.GetDouble("x"), default, default, B, S);
        var outFwd = new double[B * S * H]; // the forward half of torch's bidirectional output
        var o = f.GetDouble("out");
        for (int r = 0; r < B * S; r++) Array.Copy(o, r * 2 * H, outFwd, r * H, H);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - outFwd[i]) <= RelF64 * Math.Abs(outFwd[i]) + AbsF64, $"y[{i}]: {y[i]} vs torch {outFwd[i]}");
    }

    [Fact]
    public void Keras_gru_gate_blocks_land_in_our_order()
    {
        // Keras kernel columns: z block = 1, r block = 2, h block = 3; ours must read r = 2, z = 1, n = 3.
        int I = 2, H = 3;
        var kernel = new double[I * 3 * H];
        for (int i = 0; i < I; i++) for (int j = 0; j < 3 * H; j++) kernel[i * 3 * H + j] = 1 + j / H;
        using var k = InMemory(
            NamedTensor.F64("g/kernel", [I, 3 * H], kernel),
            NamedTensor.F64("g/recurrent_kernel", [H, 3 * H], new double[H * 3 * H]),
            NamedTensor.F64("g/bias", [3 * H], new double[] { 10, 10, 10, 20, 20, 20, 30, 30, 30 }));
        using var gru = new Gru<double>(I, H, new Rng(1), new GruOptions { ResetAfter = false, TwoBiases = false });
        KerasImport.LoadGru(k, gru, "g/");
        Assert.Equal(Enumerable.Repeat(2.0, H * I).Concat(Enumerable.Repeat(1.0, H * I)).Concat(Enumerable.Repeat(3.0, H * I)), gru.WeightIh.Value);
        Assert.Equal(new double[] { 20, 20, 20, 10, 10, 10, 30, 30, 30 }, gru.BiasIh.Value);
        // A reset_after=False file cannot go into a reset-after layer, and the message says what to build.
        using var wrong = new Gru<double>(I, H, new Rng(1), new GruOptions { ResetAfter = true });
        var e = Assert.Throws<SafeTensorsException>(() => KerasImport.LoadGru(k, wrong, "g/"));
        Assert.Equal("g/bias", e.Tensor);
        Assert.Contains("ResetAfter = false", e.Message);
    }

    [Fact]
    public void Keras_simple_rnn_dense_embedding_match_torch()
    {
        using var f = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        int I = 3, H = 4, B = 2, S = 5;
        using var k = InMemory(
            NamedTensor.F64("simple_rnn/simple_rnn_cell/kernel", [I, H], ToKeras(f.GetDouble("state.weight_ih_l0"), [0], H, I)),
            NamedTensor.F64("simple_rnn/simple_rnn_cell/recurrent_kernel", [H, H], ToKeras(f.GetDouble("state.weight_hh_l0"), [0], H, H)),
            NamedTensor.F64("simple_rnn/simple_rnn_cell/bias", [H], Sum(f.GetDouble("state.bias_ih_l0"), f.GetDouble("state.bias_hh_l0"))),
            NamedTensor.F64("dense/kernel", [H, 2], new double[] { 1, 2, 3, 4, 5, 6, 7, 8 }),
            NamedTensor.F64("dense/bias", [2], new double[] { 0.5, -0.5 }),
            NamedTensor.F64("embedding/embeddings", [3, 2], new double[] { 1, 2, 3, 4, 5, 6 }));
        using var rnn = new SimpleRnn<double>(I, H, new Rng(1));
        KerasImport.LoadSimpleRnn(k, rnn, "simple_rnn/simple_rnn_cell/");
        var y = new double[B * S * H];
        rnn.Forward(y, f.GetDouble("x"), default, default, B, S);
        var c = new Checker<double>(f, output, "keras simple_rnn");
        c.Check("out", y, false);
        using var dense = new Dense<double>(H, 2, new Rng(1));
        KerasImport.LoadDense(k, dense, "dense/");
        Assert.Equal(new double[] { 1, 3, 5, 7, 2, 4, 6, 8 }, dense.Weight.Value); // (in, out) → (out, in)
        Assert.Equal(new double[] { 0.5, -0.5 }, dense.Bias.Value);
        using var emb = new Embedding<double>(3, 2, new Rng(1));
        KerasImport.LoadEmbedding(k, emb, "embedding/");
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, emb.Weight.Value);
    }

    [Fact]
    public void Keras_bad_files_name_the_tensor()
    {
        using var k = InMemory(
            NamedTensor.F64("lstm/kernel", [3, 16], new double[48]),
            NamedTensor.F64("lstm/recurrent_kernel", [4, 12], new double[48]),
            NamedTensor.F64("lstm/bias", [16], new double[16]));
        using var lstm = new Lstm<double>(3, 4, new Rng(1));
        var e = Assert.Throws<SafeTensorsException>(() => KerasImport.LoadLstm(k, lstm, "lstm/"));
        Assert.Equal("lstm/recurrent_kernel", e.Tensor);
        Assert.Contains("expected shape (4, 16), got (4, 12)", e.Message);
        e = Assert.Throws<SafeTensorsException>(() => KerasImport.LoadLstm(k, lstm, "other/"));
        Assert.Equal("other/kernel", e.Tensor);
        using var ints = InMemory(
            NamedTensor.F64("d/kernel", [4, 1], new double[4]),
            NamedTensor.I64("d/bias", [1], new long[] { 0 }));
        using var dense = new Dense<double>(4, 1, new Rng(1));
        e = Assert.Throws<SafeTensorsException>(() => KerasImport.LoadDense(ints, dense, "d/"));
        Assert.Equal("d/bias", e.Tensor);
        Assert.Contains("I64", e.Message);
    }

    // ---------- bad weight files ----------

    private static SafeTensorsFile Corrupt(string fixture, Func<SafeTensorInfo, NamedTensor?> edit, params NamedTensor[] extra)
    {
        using var f = SafeTensors.Load(Fixture(fixture));
        var tensors = new List<NamedTensor>();
        foreach (var t in f.Tensors)
        {
            if (!t.Name.StartsWith("state.", StringComparison.Ordinal)) continue;
            var e = edit(t);
            if (e is { } n) tensors.Add(n);
        }
        tensors.AddRange(extra);
        return SafeTensors.Deserialize(SafeTensors.Serialize(tensors), "corrupt.safetensors");
    }

    private static NamedTensor Keep(SafeTensorsFile f, SafeTensorInfo t) => NamedTensor.F64(t.Name, t.Shape.Select(d => (int)d).ToArray(), f.GetDouble(t.Name));

    private static SimpleRnn<double> TorchRnn() => new(3, 4, new Rng(1), new SimpleRnnOptions { TwoBiases = true });

    [Fact]
    public void Missing_tensor_names_it()
    {
        using var src = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var f = Corrupt("rnn_tanh.safetensors", t => t.Name == "state.weight_hh_l0" ? null : Keep(src, t));
        using var rnn = TorchRnn();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.weight_hh_l0", e.Tensor);
        Assert.Contains("missing", e.Message);
        Assert.Contains("(4, 4)", e.Message);
    }

    [Fact]
    public void Wrong_shape_names_the_tensor_and_both_shapes()
    {
        using var src = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var f = Corrupt("rnn_tanh.safetensors", t => t.Name == "state.weight_ih_l0" ? NamedTensor.F64(t.Name, [3, 4], new double[12]) : Keep(src, t));
        using var rnn = TorchRnn();
        var before = (double[])rnn.WeightHh.Value.Clone();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.weight_ih_l0", e.Tensor);
        Assert.Contains("expected shape (4, 3), got (3, 4)", e.Message);
        Assert.Equal(before, rnn.WeightHh.Value); // nothing written before the checks pass
    }

    [Fact]
    public void Integer_dtype_names_the_tensor()
    {
        using var src = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var f = Corrupt("rnn_tanh.safetensors", t => t.Name == "state.bias_ih_l0" ? NamedTensor.I64(t.Name, [4], new long[4]) : Keep(src, t));
        using var rnn = TorchRnn();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.bias_ih_l0", e.Tensor);
        Assert.Contains("I64", e.Message);
    }

    [Fact]
    public void Unexpected_tensor_names_it()
    {
        using var src = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var f = Corrupt("rnn_tanh.safetensors", t => Keep(src, t), NamedTensor.F64("state.weight_ih_l1", [4, 4], new double[16]));
        using var rnn = TorchRnn();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.weight_ih_l1", e.Tensor);
        Assert.Contains("unexpected", e.Message);
    }

    [Fact]
    public void Second_bias_without_TwoBiases_says_so()
    {
        using var f = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var rnn = new SimpleRnn<double>(3, 4, new Rng(1));
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.bias_hh_l0", e.Tensor);
        Assert.Contains("TwoBiases", e.Message);
    }

    [Fact]
    public void Projection_weights_need_a_projected_lstm()
    {
        // A weight_hr beside an RNN's weights: no layer takes it (strict load), and its shape contradicts weight_hh.
        using var src = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        using var f = Corrupt("rnn_tanh.safetensors", t => Keep(src, t), NamedTensor.F64("state.weight_hr_l0", [2, 4], new double[8]));
        using var rnn = TorchRnn();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.LoadRecurrent(f, rnn, "state."));
        Assert.Equal("state.weight_hr_l0", e.Tensor);
        var i = Assert.Throws<SafeTensorsException>(() => PyTorchImport.InspectRecurrent(f, "state."));
        Assert.Equal("state.weight_hr_l0", i.Tensor);
        Assert.Contains("(P, H)", i.Message);
    }

    [Fact]
    public void Inspect_finds_the_architecture()
    {
        using var f = SafeTensors.Load(Fixture("rnn_tanh.safetensors"));
        Assert.Equal(new PyTorchImport.RecurrentInfo("RNN", 3, 4, 1, false, true), PyTorchImport.InspectRecurrent(f, "state."));
    }
}
