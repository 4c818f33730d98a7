using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.IO;

/// <summary>
/// Loads PyTorch weights saved as safetensors (<c>safetensors.torch.save_file(model.state_dict(), path)</c>)
/// into our layers. Our recurrent layers already use PyTorch's gate orders (LSTM i, f, g, o; GRU r, z, n), its
/// layouts (weight_ih (G·H, I), weight_hh (G·H, H)) and its names (<c>weight_ih_l0</c>, <c>bias_hh_l1_reverse</c>),
/// so a state_dict loads without reordering: this class maps names (a module prefix such as <c>"rnn."</c>), checks
/// every tensor (present, exact shape, floating-point dtype) and refuses what it cannot represent. PyTorch's
/// <c>batch_first</c> changes only the input layout, never the weights: our input is always batch-major
/// (batch, seq, features), so a model trained with either setting loads the same way.
/// </summary>
public static class PyTorchImport
{

    /// <summary>
    /// Loads the parameters of recurrent layers (SimpleRnn, Lstm, Gru, or Bidirectional pairs of them), bottom
    /// first, from tensors named <paramref name="prefix"/> + parameter name. Build the layers as PyTorch has them:
    /// layer k with suffix <c>"_l{k}"</c>, its reverse direction <c>"_l{k}_reverse"</c>, and
    /// <c>TwoBiases = true</c> (PyTorch has bias_ih and bias_hh; our GRU is PyTorch's when ResetAfter is true).
    /// Strict: every parameter must be present with its exact shape and a floating-point dtype, and no other
    /// tensor may start with <paramref name="prefix"/> (pass a prefix that scopes the module, e.g. "rnn.").
    /// An LSTM with proj_size loads into <c>Lstm</c> layers built with <see cref="LstmOptions.ProjSize"/> (its
    /// <c>weight_hr_l*</c>). Every problem throws <see cref="SafeTensorsException"/> naming the tensor. Nothing is
    /// written unless all checks pass.
    /// </summary>
    public static void LoadRecurrent<T>(SafeTensorsFile file, IReadOnlyList<IRecurrentLayer<T>> layers, string prefix = "")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(layers);
        var targets = new List<(string, Parameter<T>)>();
        foreach (var l in layers)
            foreach (var p in l.Parameters) targets.Add((prefix + p.Name, p));
        Load(file, targets, prefix);
    }

    /// <summary>One recurrent layer (or a Bidirectional pair); see <see cref="LoadRecurrent{T}(SafeTensorsFile, IReadOnlyList{IRecurrentLayer{T}}, string)"/>.</summary>
    public static void LoadRecurrent<T>(SafeTensorsFile file, IRecurrentLayer<T> layer, string prefix = "")
        where T : unmanaged, IFloatingPointIeee754<T>
        => LoadRecurrent(file, [layer], prefix);

    /// <summary>
    /// Loads an nn.Linear (<c>{prefix}weight</c> (out, in), <c>{prefix}bias</c> (out)) into a Dense: the same
    /// layout, no transpose. Strict as <see cref="LoadRecurrent{T}(SafeTensorsFile, IReadOnlyList{IRecurrentLayer{T}}, string)"/>.
    /// </summary>
    public static void LoadDense<T>(SafeTensorsFile file, Dense<T> dense, string prefix = "fc.")
        where T : unmanaged, IFloatingPointIeee754<T>
        => Load(file, [(prefix + "weight", dense.Weight), (prefix + "bias", dense.Bias)], prefix);

    /// <summary>Loads an nn.Embedding (<c>{prefix}weight</c> (vocab, dim)) into an Embedding.</summary>
    public static void LoadEmbedding<T>(SafeTensorsFile file, Embedding<T> embedding, string prefix = "embedding.")
        where T : unmanaged, IFloatingPointIeee754<T>
        => Load(file, [(prefix + "weight", embedding.Weight)], prefix);

    /// <summary>
    /// Loads explicit (tensor name → parameter) pairs: each tensor must exist with the parameter's exact shape and
    /// a floating-point dtype (F32, F64, F16 or BF16, converted to T); every tensor whose name starts with
    /// <paramref name="scope"/> must be one of them (pass null to allow anything else in the file). All checks
    /// run before any value is written.
    /// </summary>
    public static void Load<T>(SafeTensorsFile file, IEnumerable<(string Tensor, Parameter<T> Parameter)> targets, string? scope)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(targets);
        var list = targets.ToList();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in list)
        {
            if (!wanted.Add(name)) throw new ArgumentException($"targets: tensor '{name}' is named twice.", nameof(targets));
            if (!file.Contains(name))
                throw new SafeTensorsException(file.Source, name, $"missing: expected a tensor of shape {p.ShapeText}{MissingHint(name)}; the file holds {Listing(file, scope)}.");
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                throw new SafeTensorsException(file.Source, name, $"expected shape {p.ShapeText}, got {info.ShapeText}{ShapeHint(name, p.Shape, info.Shape)}.");
            if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw new SafeTensorsException(file.Source, name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got {info.DType}.");
        }
        if (scope != null)
            foreach (var t in file.Tensors)
                if (t.Name.StartsWith(scope, StringComparison.Ordinal) && !wanted.Contains(t.Name))
                    throw new SafeTensorsException(file.Source, t.Name, $"unexpected tensor {t.ShapeText}: the layers have no such parameter{UnexpectedHint(t.Name)} (expected only {string.Join(", ", wanted)}).");
        foreach (var (name, p) in list) Read(file, name, p.Value);
    }

    /// <summary>
    /// Builds a <see cref="SequenceModel{T}"/> from a whole model's state_dict: an optional nn.Embedding
    /// (<paramref name="embedding"/> prefix), an nn.RNN / nn.LSTM / nn.GRU (<paramref name="rnn"/> prefix; layers,
    /// directions, sizes and cell inferred by <see cref="InspectRecurrent"/>) and an nn.Linear head
    /// (<paramref name="fc"/> prefix), applied to the final hidden state (PyTorch's <c>h_n[-1]</c>, or
    /// <c>cat(h_n[-2], h_n[-1])</c> when bidirectional) or, with <paramref name="perStep"/>, to every step's output.
    /// What a state_dict does not say is passed in: an nn.RNN's <paramref name="nonlinearity"/> and the head's
    /// activation. Every tensor under the three prefixes must be used; see
    /// <see cref="Load{T}(SafeTensorsFile, IEnumerable{ValueTuple{string, Parameter{T}}}, string?)"/> for the checks.
    /// </summary>
    public static SequenceModel<T> BuildModel<T>(SafeTensorsFile file, string embedding = "embedding.", string rnn = "rnn.", string fc = "fc.",
        Activation nonlinearity = Activation.Tanh, bool perStep = false, string outputActivation = "linear")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        if (nonlinearity is not (Activation.Tanh or Activation.Relu))
            throw new ArgumentException($"nonlinearity: expected Tanh or Relu (nn.RNN's choices), got {nonlinearity}.", nameof(nonlinearity));
        if (outputActivation is not ("linear" or "sigmoid" or "tanh" or "relu"))
            throw new ArgumentException($"outputActivation: expected linear, sigmoid, tanh or relu, got '{SafeTensorsException.Cut(outputActivation ?? "null", 80)}'.", nameof(outputActivation));
        var info = InspectRecurrent(file, rnn);
        if (info.ProjSize > 0)
            throw new NotSupportedException($"{file.Source}: '{rnn}weight_hr_l0': an LSTM with proj_size {info.ProjSize} loads into Lstm layers with LstmOptions.ProjSize (PyTorchImport.LoadRecurrent), not into a SequenceModel.");
        if (!info.HasBias) throw new NotSupportedException($"{file.Source}: '{rnn}bias_ih_l0'/'{rnn}bias_hh_l0' missing: recurrent modules built with bias=False are not supported.");
        string ew = embedding + "weight", fw = fc + "weight";
        bool tokens = file.Contains(ew);
        var es = tokens ? file.Info(ew).Shape : null;
        if (es != null && es.Count != 2) throw new SafeTensorsException(file.Source, ew, $"expected (vocab, dim), got {file.Info(ew).ShapeText}.");
        if (!file.Contains(fw)) throw new SafeTensorsException(file.Source, fw, $"missing: expected the nn.Linear head (out, features); the file holds {Listing(file, null)}.");
        var fs = file.Info(fw).Shape;
        if (fs.Count != 2) throw new SafeTensorsException(file.Source, fw, $"expected (out, features), got {file.Info(fw).ShapeText}.");
        var spec = new ModelSpec
        {
            Vocab = tokens ? Dim(file, ew, es![0], "vocab") : 0,
            EmbeddingDim = tokens ? Dim(file, ew, es![1], "dim") : 0,
            InputSize = tokens ? 0 : info.InputSize,
            Cell = info.Cell switch { "LSTM" => CellKind.Lstm, "GRU" => CellKind.Gru, _ => nonlinearity == Activation.Relu ? CellKind.RnnRelu : CellKind.RnnTanh },
            Hidden = info.HiddenSize, Layers = info.Layers, Bidirectional = info.Bidirectional,
            OutputSize = Dim(file, fw, fs[0], "out"), OutputActivation = outputActivation, PerStep = perStep, Init = "pytorch",
        };
        // Every size came from a shape: name the tensor it came from. A 0-byte tensor can declare any shape, so the
        // whole architecture is checked against the file's tensors below before anything is allocated.
        foreach (var (field, expected, actual) in spec.Problems())
        {
            string from = field is nameof(ModelSpec.Vocab) or nameof(ModelSpec.EmbeddingDim) ? ew : field == nameof(ModelSpec.OutputSize) ? fw
                : field == nameof(ModelSpec.Layers) ? rnn + "weight_ih_l*" : rnn + "weight_ih_l0";
            throw new SafeTensorsException(file.Source, from, $"the model's {ModelSpec.MetadataKey(field)["rnn.".Length..]}: expected {expected}, got {actual}.");
        }
        string Map(string n) => n.StartsWith("embedding.", StringComparison.Ordinal) ? embedding + n["embedding.".Length..]
            : n.StartsWith("rnn.", StringComparison.Ordinal) ? rnn + n["rnn.".Length..]
            : fc + n["fc.".Length..];
        var shapes = spec.ParameterShapes();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (n, shape) in shapes)
        {
            string name = Map(n);
            used.Add(name);
            if (!file.Contains(name))
                throw new SafeTensorsException(file.Source, name, $"missing: expected a tensor of shape {SafeTensors.ShapeText(shape)}{MissingHint(name)}; the file holds {Listing(file, null)}.");
            var t = file.Info(name);
            if (!t.Shape.SequenceEqual(shape))
                throw new SafeTensorsException(file.Source, name, $"expected shape {SafeTensors.ShapeText(shape)}, got {t.ShapeText}{ShapeHint(name, shape, t.Shape)}.");
            if (t.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw new SafeTensorsException(file.Source, name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got {t.DType.Name()}.");
        }
        foreach (var t in file.Tensors)
            foreach (var scope in new[] { embedding, rnn, fc })
                if (scope.Length > 0 && t.Name.StartsWith(scope, StringComparison.Ordinal) && !used.Contains(t.Name))
                    throw new SafeTensorsException(file.Source, t.Name, $"unexpected tensor {t.ShapeText} under '{scope}': the model has no such parameter{UnexpectedHint(t.Name)}.");
        // Every parameter now matches a tensor of the file, so the model is no larger than the file's data.
        var model = new SequenceModel<T>(spec, new Rng(0));
        try
        {
            foreach (var (name, p) in model.NamedParameters) Read(file, Map(name), p.Value.AsSpan());
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // A dimension read from a tensor's shape, as a model size: 1..int.MaxValue, or the tensor is named.
    private static int Dim(SafeTensorsFile file, string tensor, long value, string what)
    {
        if (value < 1 || value > int.MaxValue)
            throw new SafeTensorsException(file.Source, tensor, $"{what}: expected a size in 1..{int.MaxValue}, got {value} (shape {file.Info(tensor).ShapeText}).");
        return (int)value;
    }

    /// <summary>Opens <paramref name="path"/> and calls <see cref="BuildModel{T}(SafeTensorsFile, string, string, string, Activation, bool, string)"/>.</summary>
    public static SequenceModel<T> BuildModel<T>(string path, string embedding = "embedding.", string rnn = "rnn.", string fc = "fc.",
        Activation nonlinearity = Activation.Tanh, bool perStep = false, string outputActivation = "linear")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = SafeTensors.Load(path);
        return BuildModel<T>(file, embedding, rnn, fc, nonlinearity, perStep, outputActivation);
    }

    /// <summary>Reads a floating-point tensor into <paramref name="destination"/>, converting to T.</summary>
    internal static void Read<T>(SafeTensorsFile file, string name, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) file.ReadFloat(name, MemoryMarshal.Cast<T, float>(destination));
        else if (typeof(T) == typeof(double)) file.ReadDouble(name, MemoryMarshal.Cast<T, double>(destination));
        else
        {
            var d = file.GetDouble(name);
            for (int i = 0; i < d.Length; i++) destination[i] = T.CreateTruncating(d[i]);
        }
    }

    private static string Listing(SafeTensorsFile file, string? scope)
    {
        var names = file.Tensors.Select(t => t.Name).Where(n => scope == null || n.StartsWith(scope, StringComparison.Ordinal)).ToList();
        if (names.Count == 0) return scope == null ? "no tensor" : $"no tensor starting with '{scope}'";
        return names.Count <= 12 ? string.Join(", ", names) : string.Join(", ", names.Take(12)) + $", … ({names.Count} in all)";
    }

    private static string MissingHint(string name)
        => Regex.IsMatch(name, @"bias_hh_l\d+(_reverse)?$") ? " (PyTorch modules created with bias=False have no biases: not supported)"
         : Regex.IsMatch(name, @"(^|\.)h0_l\d+") ? " (a learned initial state has no PyTorch counterpart: build the layer with InitialState.Zero)"
         : "";

    private static string UnexpectedHint(string name)
        => Regex.IsMatch(name, @"bias_hh_l\d+(_reverse)?$") ? "; PyTorch's second bias needs the layer built with TwoBiases = true"
         : Regex.IsMatch(name, @"_l\d+(_reverse)?$") ? "; check the number of layers and bidirectional"
         : "";

    private static string ShapeHint(string name, int[] expected, IReadOnlyList<long> actual)
        => ShapeHint(name, expected.Select(d => (long)d).ToArray(), actual);

    private static string ShapeHint(string name, long[] expected, IReadOnlyList<long> actual)
    {
        if (!Regex.IsMatch(name, @"weight_(ih|hh)_l\d+(_reverse)?$") || expected.Length != 2 || actual.Count != 2 || actual[1] == 0) return "";
        // Rows are gates·H: 1 (RNN), 3 (GRU), 4 (LSTM). A different multiple points at the wrong cell type.
        long h = name.Contains("weight_hh") ? actual[1] : 0;
        if (h == 0) return "";
        return (actual[0] / h) switch
        {
            1 => " (1·H rows: an nn.RNN's weights)",
            3 => " (3·H rows: an nn.GRU's weights)",
            4 => " (4·H rows: an nn.LSTM's weights)",
            _ => "",
        };
    }

    /// <summary>The architecture of a recurrent module found in a state_dict; see <see cref="InspectRecurrent"/>.</summary>
    /// <param name="Cell">"RNN", "LSTM" or "GRU" (from the rows of weight_hh_l0: H, 4H or 3H).</param>
    /// <param name="InputSize">Input features (columns of weight_ih_l0).</param>
    /// <param name="HiddenSize">Hidden units per direction.</param>
    /// <param name="Layers">num_layers.</param>
    /// <param name="Bidirectional">True when weight_ih_l0_reverse is present.</param>
    /// <param name="HasBias">True when bias_ih_l0 and bias_hh_l0 are present (PyTorch's bias=True).</param>
    public sealed record RecurrentInfo(string Cell, int InputSize, int HiddenSize, int Layers, bool Bidirectional, bool HasBias)
    {
        /// <summary>An LSTM's proj_size P (its outputs and h have P features), or 0.</summary>
        public int ProjSize { get; init; }
    }

    /// <summary>
    /// Infers num_layers, bidirectional, the sizes and the cell type (from the gate rows: 1, 3 or 4 times H) of the
    /// recurrent module whose tensors start with <paramref name="prefix"/>. An RNN's nonlinearity (tanh or relu) is
    /// not in a state_dict: the caller must know it. Throws when the tensors are absent or inconsistent.
    /// </summary>
    public static RecurrentInfo InspectRecurrent(SafeTensorsFile file, string prefix = "rnn.")
    {
        ArgumentNullException.ThrowIfNull(file);
        string ih = prefix + "weight_ih_l0", hh = prefix + "weight_hh_l0", hr = prefix + "weight_hr_l0";
        if (!file.Contains(ih)) throw new SafeTensorsException(file.Source, ih, $"missing: expected a recurrent module's first weight; the file holds {Listing(file, null)}.");
        if (!file.Contains(hh)) throw new SafeTensorsException(file.Source, hh, $"missing: expected (G·H, H); the file holds {Listing(file, null)}.");
        var wih = file.Info(ih).Shape; var whh = file.Info(hh).Shape;
        if (wih.Count != 2) throw new SafeTensorsException(file.Source, ih, $"expected 2 dimensions (G·H, I), got {file.Info(ih).ShapeText}.");
        if (whh.Count != 2 || whh[1] < 1 || whh[0] % whh[1] != 0)
            throw new SafeTensorsException(file.Source, hh, $"expected (G·H, H) with G = 1, 3 or 4, got {file.Info(hh).ShapeText}.");
        // proj_size: weight_hr_l0 is (P, H) and weight_hh_l0 (4H, P); H comes from weight_hr's columns.
        long proj = 0, H = whh[1];
        if (file.Contains(hr))
        {
            var whr = file.Info(hr).Shape;
            if (whr.Count != 2 || whr[0] != whh[1] || whr[1] <= whr[0] || whh[0] != 4 * whr[1])
                throw new SafeTensorsException(file.Source, hr, $"expected (P, H) with P = {whh[1]} (the columns of {hh}) below H and {hh} (4H, P), got {file.Info(hr).ShapeText} beside {file.Info(hh).ShapeText}.");
            proj = whr[0]; H = whr[1];
        }
        long g = whh[0] / H;
        string cell = g switch
        {
            1 => "RNN",
            3 => "GRU",
            4 => "LSTM",
            _ => throw new SafeTensorsException(file.Source, hh, $"expected (G·H, H) with G = 1 (RNN), 3 (GRU) or 4 (LSTM), got {file.Info(hh).ShapeText} (G = {g})."),
        };
        if (wih[0] != whh[0]) throw new SafeTensorsException(file.Source, ih, $"expected {whh[0]} rows like {hh}, got {file.Info(ih).ShapeText}.");
        int layers = 0;
        while (layers <= 64 && file.Contains($"{prefix}weight_ih_l{layers}")) layers++; // more than 64 is refused by the spec
        bool bi = file.Contains(prefix + "weight_ih_l0_reverse");
        bool bias = file.Contains(prefix + "bias_ih_l0") && file.Contains(prefix + "bias_hh_l0");
        return new RecurrentInfo(cell, Dim(file, ih, wih[1], "input features"), Dim(file, H == whh[1] ? hh : hr, H, "hidden size"), layers, bi, bias)
        { ProjSize = proj == 0 ? 0 : Dim(file, hr, proj, "proj size") };
    }
}
