using System.Numerics;
using System.Runtime.CompilerServices;
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
/// so a state_dict loads without reordering: this class maps names (module names such as <c>"enc"</c>, as PyTorch's
/// submodules have them, or none), builds layers from what the tensors say (<see cref="BuildRecurrent{T}"/>), checks
/// every tensor (present, exact shape, floating-point dtype, finite values) and refuses what it cannot represent.
/// Strict by default, as <c>load_state_dict</c>. PyTorch's <c>batch_first</c> is not in a state_dict and changes only
/// the input layout, never the weights: our input is always batch-major (batch, seq, features), so a model trained
/// with either setting loads the same way. <see cref="PyTorchExport"/> writes the same names back.
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
            foreach (var p in l.Parameters)
                if (!HasNoTensor(p)) targets.Add((prefix + p.Name, p)); // a bias=False module's biases have no tensor
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
        => Load<T>(file, HasNoTensor(dense.Bias) ? [(prefix + "weight", dense.Weight)] : [(prefix + "weight", dense.Weight), (prefix + "bias", dense.Bias)], prefix);

    /// <summary>Loads an nn.Embedding (<c>{prefix}weight</c> (vocab, dim)) into an Embedding.</summary>
    public static void LoadEmbedding<T>(SafeTensorsFile file, Embedding<T> embedding, string prefix = "embedding.")
        where T : unmanaged, IFloatingPointIeee754<T>
        => Load(file, [(prefix + "weight", embedding.Weight)], prefix);

    /// <summary>
    /// Loads explicit (tensor name → parameter) pairs: each tensor must exist with the parameter's exact shape, a
    /// floating-point dtype (F32, F64, F16 or BF16, converted to T) and finite values. Strict (the default): every
    /// tensor whose name starts with <paramref name="scope"/> must be one of them; with a null scope, every tensor
    /// of the modules the targets come from (the same name up to its last '.', e.g. <c>bias_hh_l0</c> beside
    /// <c>weight_ih_l0</c>) must be. Non-strict: missing and left-over tensors are reported, not thrown. Shape, dtype
    /// and value errors always throw. All checks run before any value is written.
    /// </summary>
    public static PyTorchLoadReport Load<T>(SafeTensorsFile file, IEnumerable<(string Tensor, Parameter<T> Parameter)> targets, string? scope, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(targets);
        var list = targets.ToList();
        for (int i = 0; i < list.Count; i++)
            if (list[i].Tensor is null || list[i].Parameter is null) throw new ArgumentNullException(nameof(targets), $"targets[{i}]: expected a tensor name and a parameter, got null.");
        if (scope != null) return Core(file, list, n => n.StartsWith(scope, StringComparison.Ordinal), strict);
        var modules = new HashSet<string>(list.Select(t => Module(t.Tensor)), StringComparer.Ordinal);
        return Core(file, list, n => modules.Contains(Module(n)), strict);
    }

    // "enc.weight_ih_l0" → "enc.", "weight_ih_l0" → "".
    private static string Module(string name) => name[..(name.LastIndexOf('.') + 1)];

    /// <summary>
    /// Loads a state_dict into layers mapped by module name, as PyTorch's <c>load_state_dict</c> does: each
    /// (prefix, module) pair takes the tensors named <c>prefix + "." + local</c> for each of the module's local
    /// parameter names (<c>weight_ih_l0</c>, <c>weight</c>, <c>bias</c>; an empty prefix takes the names as they
    /// are, a prefix ending in '.' is used as is). A module is a <see cref="Layer{T}"/> (Embedding: weight (vocab,
    /// dim); Dense: nn.Linear's weight (out, in) and bias (out), the same layout), an <see cref="IRecurrentLayer{T}"/>
    /// (a RecurrentLayer, Bidirectional or RecurrentStack with PyTorch's names, e.g. from <see cref="BuildRecurrent{T}"/>),
    /// a single <see cref="Parameter{T}"/> (the prefix is then its whole tensor name), a sequence of parameters,
    /// or a sequence of (name, parameter) pairs (a container's hierarchical names).
    /// Strict (the default): every tensor of the file must be taken and every parameter must find its tensor,
    /// else one <see cref="SafeTensorsException"/> lists the tensors left over and the parameters missing. With
    /// <paramref name="strict"/> false both are returned in the report and the rest loads. A wrong shape, a
    /// non-floating dtype or a NaN/infinite value always throws, naming the tensor. Nothing is written unless
    /// every check passes.
    /// </summary>
    /// <example><c>PyTorchImport.Load&lt;double&gt;(file, [("tok", embedding), ("enc", lstmStack), ("out", dense)])</c></example>
    public static PyTorchLoadReport Load<T>(SafeTensorsFile file, IEnumerable<(string Prefix, object Module)> modules, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        return Core(file, Targets<T>(modules, nameof(modules)), _ => true, strict);
    }

    /// <summary>Opens <paramref name="path"/> and calls <see cref="Load{T}(SafeTensorsFile, IEnumerable{ValueTuple{string, object}}, bool)"/>.</summary>
    public static PyTorchLoadReport Load<T>(string path, IEnumerable<(string Prefix, object Module)> modules, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = SafeTensors.Load(path);
        return Load<T>(file, modules, strict);
    }

    /// <summary>prefix + "." + local, the name PyTorch's state_dict gives a submodule's parameter.</summary>
    public static string Join(string prefix, string local)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(local);
        return prefix.Length == 0 ? local : prefix.EndsWith('.') ? prefix + local : prefix + "." + local;
    }

    /// <summary>
    /// The (tensor name, parameter) pairs a module list maps to; see <see cref="Load{T}(SafeTensorsFile, IEnumerable{ValueTuple{string, object}}, bool)"/>.
    /// Parameters a PyTorch module does not have (the biases of a bias=False module built by <see cref="BuildRecurrent{T}"/>
    /// or <see cref="BuildLinear{T}"/>) are left out.
    /// </summary>
    public static IReadOnlyList<(string Tensor, Parameter<T> Parameter)> Names<T>(IEnumerable<(string Prefix, object Module)> modules)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Targets<T>(modules, nameof(modules));

    internal static List<(string Tensor, Parameter<T> Parameter)> Targets<T>(IEnumerable<(string Prefix, object Module)> modules, string argument)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(modules, argument);
        var r = new List<(string, Parameter<T>)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var owners = new Dictionary<Parameter<T>, string>(ReferenceEqualityComparer.Instance);
        int i = 0;
        foreach (var (prefix, module) in modules)
        {
            if (prefix is null) throw new ArgumentNullException(argument, $"{argument}[{i}]: expected a module name (\"\" for none), got null.");
            IEnumerable<(string, Parameter<T>)> local = module switch
            {
                Parameter<T> p => [(prefix.Length == 0 ? p.Name : prefix, p)],
                IRecurrentLayer<T> l => l.Parameters.Select(p => (Join(prefix, p.Name), p)),
                Layer<T> l => l.Parameters.Select(p => (Join(prefix, p.Name), p)),
                IEnumerable<(string Name, Parameter<T> Parameter)> named => named.Select(n => (Join(prefix, n.Name), n.Parameter)),
                IEnumerable<Parameter<T>> ps => ps.Select(p => (Join(prefix, p.Name), p)),
                null => throw new ArgumentNullException(argument, $"{argument}[{i}] ('{prefix}'): expected a layer, got null."),
                _ => throw new ArgumentException($"{argument}[{i}] ('{prefix}'): expected a Layer<{typeof(T).Name}>, an IRecurrentLayer<{typeof(T).Name}>, a Parameter<{typeof(T).Name}> or a sequence of parameters, got {module.GetType().Name}.", argument),
            };
            foreach (var (name, p) in local)
            {
                if (p is null) throw new ArgumentException($"{argument}[{i}] ('{prefix}'): a parameter is null.", argument);
                if (NoTensor.TryGetValue(p, out _)) continue;
                if (!names.Add(name)) throw new ArgumentException($"{argument}[{i}] ('{prefix}'): tensor '{name}' is named twice.", argument);
                if (owners.TryGetValue(p, out var other)) throw new ArgumentException($"{argument}[{i}] ('{prefix}'): parameter '{p.Name}' is mapped twice, as '{other}' and '{name}'.", argument);
                owners[p] = name;
                r.Add((name, p));
            }
            i++;
        }
        return r;
    }

    // Parameters our layers have but the PyTorch module had not (bias=False): never read, never written, kept at 0.
    private static readonly ConditionalWeakTable<object, object> NoTensor = new();

    internal static bool HasNoTensor<T>(Parameter<T> p) where T : unmanaged, IFloatingPointIeee754<T> => NoTensor.TryGetValue(p, out _);

    private static void MarkNoTensor<T>(Parameter<T>? p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p != null) NoTensor.AddOrUpdate(p, p);
    }

    // Checks every target (present unless non-strict, shape, dtype, finite values), then the tensors left over in
    // scope, and only then writes: a failed load leaves every parameter as it was.
    private static PyTorchLoadReport Core<T>(SafeTensorsFile file, List<(string Tensor, Parameter<T> Parameter)> targets, Func<string, bool> inScope, bool strict)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<(string Tensor, Parameter<T> Parameter)>();
        var present = new List<(string Tensor, Parameter<T> Parameter)>();
        foreach (var (name, p) in targets)
        {
            if (!wanted.Add(name)) throw new ArgumentException($"targets: tensor '{name}' is named twice.", nameof(targets));
            if (!file.Contains(name)) { missing.Add((name, p)); continue; }
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                throw new SafeTensorsException(file.Source, name, $"expected shape {p.ShapeText}{(info.Shape.Count != p.Shape.Length ? $" ({p.Shape.Length} dimensions)" : "")}, got {info.ShapeText}{ShapeHint(name, p.Shape, info.Shape)}.");
            if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw new SafeTensorsException(file.Source, name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got {info.DType.Name()}.");
            present.Add((name, p));
        }
        var unused = file.Tensors.Where(t => inScope(t.Name) && !wanted.Contains(t.Name)).Select(t => t.Name).ToList();
        if (strict && (missing.Count > 0 || unused.Count > 0))
        {
            string m = missing.Count == 0 ? "none" : List(missing.Select(t => $"'{t.Tensor}' {t.Parameter.ShapeText}{MissingHint(t.Tensor)}"));
            string u = unused.Count == 0 ? "none" : List(unused.Select(n => $"'{n}' {file.Info(n).ShapeText}{UnexpectedHint(n)}"));
            string what = missing.Count > 0 && unused.Count > 0 ? "the state dict and the parameters differ" : missing.Count > 0 ? "missing" : "unexpected tensor";
            throw new SafeTensorsException(file.Source, missing.Count > 0 ? missing[0].Tensor : unused[0],
                $"{what}: parameters with no tensor: {m}; tensors no parameter takes: {u}. Pass strict: false to load the rest.");
        }
        var values = new T[present.Count][];
        for (int i = 0; i < present.Count; i++)
        {
            var (name, p) = present[i];
            var v = new T[p.Length];
            Read(file, name, v);
            for (int j = 0; j < v.Length; j++)
                if (!T.IsFinite(v[j]))
                    throw new SafeTensorsException(file.Source, name, $"expected finite values, got {v[j]} at flat index {j}{(file.Info(name).DType == SafeTensorsDType.F64 && typeof(T) == typeof(float) && !double.IsNaN(file.GetDouble(name)[j]) ? $" (out of {typeof(T).Name}'s range)" : "")}.");
            values[i] = v;
        }
        for (int i = 0; i < present.Count; i++) values[i].CopyTo(present[i].Parameter.Value, 0);
        return new PyTorchLoadReport(present.Select(t => t.Tensor).ToArray(), unused.ToArray(), missing.Select(t => t.Tensor).ToArray());
    }

    private static string List(IEnumerable<string> items)
    {
        var l = items.ToList();
        return l.Count <= 12 ? string.Join(", ", l) : string.Join(", ", l.Take(12)) + $", … ({l.Count} in all)";
    }

    /// <summary>
    /// Builds the recurrent module a bare <c>nn.RNN</c>, <c>nn.LSTM</c> (with or without proj_size) or <c>nn.GRU</c>
    /// state_dict describes, under <paramref name="prefix"/> ("" for none, or a module name such as "rnn" or "enc.")
    /// and loads it: the cell, sizes, layers, directions and bias come from the tensors
    /// (<see cref="InspectRecurrent"/>, which checks every layer's shapes against the first). One layer gives a
    /// <see cref="RecurrentLayer{T}"/> (SimpleRnn, Lstm or Gru) or a <see cref="Bidirectional{T}"/> pair, more give a
    /// <see cref="RecurrentStack{T}"/>, with PyTorch's parameter names (<c>weight_ih_l1_reverse</c>), gate orders,
    /// two biases (a GRU is reset-after, as PyTorch's) and its state layout (layers·dirs, batch, H).
    /// Not in a state_dict, so passed in: an nn.RNN's <paramref name="nonlinearity"/> (tanh or relu), and
    /// batch_first, which changes only the input layout: our input is always batch-major (batch, seq, features), so
    /// transpose a (seq, batch, features) input yourself. <paramref name="initialState"/> Given takes h0/c0 in Forward;
    /// <paramref name="paddedOutput"/> Zero (the default) zeroes the output at masked steps as a packed sequence does.
    /// A module built with bias=False gets biases fixed at 0 that no tensor fills and <see cref="PyTorchExport"/>
    /// does not write. Strict: every tensor under the prefix must be taken (with an empty prefix, every tensor of the file).
    /// </summary>
    public static IRecurrentLayer<T> BuildRecurrent<T>(SafeTensorsFile file, string prefix = "", Activation nonlinearity = Activation.Tanh,
        InitialState initialState = InitialState.Zero, PaddedOutput paddedOutput = PaddedOutput.Zero, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(prefix);
        if (nonlinearity is not (Activation.Tanh or Activation.Relu))
            throw new ArgumentException($"nonlinearity: expected Tanh or Relu (nn.RNN's choices), got {nonlinearity}.", nameof(nonlinearity));
        if (initialState is not (InitialState.Zero or InitialState.Given))
            throw new ArgumentException($"initialState: expected Zero or Given (a PyTorch module has no learned initial state), got {initialState}.", nameof(initialState));
        string scope = Join(prefix, "");
        var info = InspectRecurrent(file, scope);
        int D = info.Bidirectional ? 2 : 1, P = info.ProjSize > 0 ? info.ProjSize : info.HiddenSize;
        var layers = new List<IRecurrentLayer<T>>();
        IRecurrentLayer<T> Make(int input, bool back, string suffix)
        {
            RecurrentLayer<T> l = info.Cell switch
            {
                "LSTM" => new Lstm<T>(input, info.HiddenSize, null, new LstmOptions
                {
                    TwoBiases = true, ProjSize = info.ProjSize, Backwards = back, InitialState = initialState, PaddedOutput = paddedOutput,
                }, suffix),
                "GRU" => new Gru<T>(input, info.HiddenSize, null, new GruOptions
                {
                    TwoBiases = true, ResetAfter = true, Backwards = back, InitialState = initialState, PaddedOutput = paddedOutput,
                }, suffix),
                _ => new SimpleRnn<T>(input, info.HiddenSize, null, new SimpleRnnOptions
                {
                    TwoBiases = true, Activation = nonlinearity, Backwards = back, InitialState = initialState, PaddedOutput = paddedOutput,
                }, suffix),
            };
            if (!info.HasBias) { MarkNoTensor(l.BiasIh); MarkNoTensor(l.BiasHh); }
            return l;
        }
        IRecurrentLayer<T>? result = null;
        try
        {
            for (int k = 0; k < info.Layers; k++)
            {
                int input = k == 0 ? info.InputSize : D * P;
                var fw = Make(input, false, $"_l{k}");
                if (D == 1) { layers.Add(fw); continue; }
                try { layers.Add(new Bidirectional<T>(fw, Make(input, true, $"_l{k}_reverse"))); }
                catch { fw.Dispose(); throw; }
            }
            result = layers.Count == 1 ? layers[0] : new RecurrentStack<T>(layers.ToArray());
            Core(file, Targets<T>([(prefix, result)], nameof(prefix)), n => n.StartsWith(scope, StringComparison.Ordinal), strict);
            return result;
        }
        catch
        {
            if (result != null) result.Dispose();
            else foreach (var l in layers) l.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds an <see cref="Embedding{T}"/> from an nn.Embedding's <c>{prefix}.weight</c> (vocab, dim) and loads it.
    /// Strict: no other tensor under the prefix.
    /// </summary>
    public static Embedding<T> BuildEmbedding<T>(SafeTensorsFile file, string prefix, bool maskZero = false, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(prefix);
        string w = Join(prefix, "weight");
        var s = Shape2(file, w, "(vocab, dim)");
        var e = new Embedding<T>(Dim(file, w, s[0], "vocab"), Dim(file, w, s[1], "dim"), null, maskZero);
        try { Core(file, Targets<T>([(prefix, e)], nameof(prefix)), n => n.StartsWith(Join(prefix, ""), StringComparison.Ordinal), strict); return e; }
        catch { e.Dispose(); throw; }
    }

    /// <summary>
    /// Builds a <see cref="Dense{T}"/> from an nn.Linear's <c>{prefix}.weight</c> (out, in) and <c>{prefix}.bias</c>
    /// (out) and loads it (the same layout: no transpose). A Linear built with bias=False (no bias tensor) gets a
    /// bias fixed at 0 that no tensor fills and <see cref="PyTorchExport"/> does not write. Strict: no other tensor
    /// under the prefix.
    /// </summary>
    public static Dense<T> BuildLinear<T>(SafeTensorsFile file, string prefix, Activation activation = Activation.Linear, bool strict = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(prefix);
        string w = Join(prefix, "weight");
        var s = Shape2(file, w, "(out, in)");
        var d = new Dense<T>(Dim(file, w, s[1], "in features"), Dim(file, w, s[0], "out features"), null, activation);
        if (!file.Contains(Join(prefix, "bias"))) MarkNoTensor(d.Bias);
        try { Core(file, Targets<T>([(prefix, d)], nameof(prefix)), n => n.StartsWith(Join(prefix, ""), StringComparison.Ordinal), strict); return d; }
        catch { d.Dispose(); throw; }
    }

    private static IReadOnlyList<long> Shape2(SafeTensorsFile file, string name, string what)
    {
        if (!file.Contains(name)) throw new SafeTensorsException(file.Source, name, $"missing: expected a tensor {what}; the file holds {Listing(file, null)}.");
        var s = file.Info(name).Shape;
        if (s.Count != 2) throw new SafeTensorsException(file.Source, name, $"expected 2 dimensions {what}, got {file.Info(name).ShapeText}.");
        return s;
    }

    /// <summary>
    /// Builds a <see cref="SequenceModel{T}"/> from a whole model's state_dict: an optional nn.Embedding
    /// (<paramref name="embedding"/> prefix), an nn.RNN / nn.LSTM / nn.GRU (<paramref name="rnn"/> prefix; layers,
    /// directions, sizes and cell inferred by <see cref="InspectRecurrent"/>) and an nn.Linear head
    /// (<paramref name="fc"/> prefix), applied to the final hidden state (PyTorch's <c>h_n[-1]</c>, or
    /// <c>cat(h_n[-2], h_n[-1])</c> when bidirectional) or, with <paramref name="perStep"/>, to every step's output.
    /// What a state_dict does not say is passed in: an nn.RNN's <paramref name="nonlinearity"/> and the head's
    /// activation. Every tensor under the three prefixes must be used; see
    /// <see cref="Load{T}(SafeTensorsFile, IEnumerable{ValueTuple{string, Parameter{T}}}, string?, bool)"/> for the checks.
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
        if (!file.Contains(fw))
            throw new SafeTensorsException(file.Source, fw, $"missing: expected the nn.Linear head (out, features) of a whole model; for a bare recurrent state_dict, PyTorchImport.BuildRecurrent(file, \"{rnn}\") returns the layer or stack; the file holds {Listing(file, null)}.");
        var fs = file.Info(fw).Shape;
        if (fs.Count != 2) throw new SafeTensorsException(file.Source, fw, $"expected (out, features), got {file.Info(fw).ShapeText}.");
        var spec = new ModelSpec
        {
            Vocab = tokens ? Dim(file, ew, es![0], "vocab") : 0,
            EmbeddingDim = tokens ? Dim(file, ew, es![1], "dim") : 0,
            InputSize = tokens ? 0 : info.InputSize,
            Cell = info.Cell switch { "LSTM" => CellKind.Lstm, "GRU" => CellKind.Gru, _ => nonlinearity == Activation.Relu ? CellKind.RnnRelu : CellKind.RnnTanh },
            Hidden = info.HiddenSize, Layers = info.Layers, Bidirectional = info.Bidirectional,
            OutputSize = Dim(file, fw, fs[0], "out"), OutputActivation = ModelSpec.ParseActivation(outputActivation, nameof(outputActivation), (k, m) => new ArgumentException(m, k)), PerStep = perStep, Init = InitScheme.PyTorch,
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
        => Regex.IsMatch(name, @"bias_(ih|hh)_l\d+(_reverse)?$") ? " (a module built with bias=False has no biases: PyTorchImport.BuildRecurrent builds one)"
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
    /// Infers num_layers, bidirectional, bias, proj_size, the sizes and the cell type (from the gate rows: 1, 3 or 4
    /// times H) of the recurrent module whose tensors start with <paramref name="prefix"/> (with its '.': "rnn.", or ""),
    /// and checks every layer and direction against layer 0: the same cell and H, layer k's input = layer k−1's
    /// output (dirs·P), both biases or neither, weight_hr in every layer or none, a reverse direction in every layer
    /// or none, and no layer after a gap. An RNN's nonlinearity (tanh or relu) is not in a state_dict: the caller
    /// must know it. Throws <see cref="SafeTensorsException"/> naming the tensor when absent or inconsistent.
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
        while (file.Contains($"{prefix}weight_ih_l{layers}")) layers++; // each one a tensor of the file: bounded by it
        bool bi = file.Contains(prefix + "weight_ih_l0_reverse");
        bool bih = file.Contains(prefix + "bias_ih_l0"), bhh = file.Contains(prefix + "bias_hh_l0");
        if (bih != bhh)
            throw new SafeTensorsException(file.Source, prefix + (bih ? "bias_hh_l0" : "bias_ih_l0"),
                $"missing: {prefix}{(bih ? "bias_ih_l0" : "bias_hh_l0")} is present, and a PyTorch module has both biases (bias=True) or neither (bias=False).");
        var info = new RecurrentInfo(cell, Dim(file, ih, wih[1], "input features"), Dim(file, H == whh[1] ? hh : hr, H, "hidden size"), layers, bi, bih)
        { ProjSize = proj == 0 ? 0 : Dim(file, hr, proj, "proj size") };
        CheckLayers(file, prefix, info, (int)g);
        return info;
    }

    private static readonly Regex RecurrentName = new(@"^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$", RegexOptions.CultureInvariant);

    // Every layer and direction against layer 0: the same cell and H, layer k's input = layer k−1's output (D·P),
    // the same bias and projection, a reverse direction for every layer or for none, and no layer past a gap.
    private static void CheckLayers(SafeTensorsFile file, string prefix, RecurrentInfo info, int gates)
    {
        int D = info.Bidirectional ? 2 : 1, H = info.HiddenSize, P = info.ProjSize > 0 ? info.ProjSize : H;
        long GH = (long)gates * H;
        string module = $"a {info.Layers}-layer{(info.Bidirectional ? " bidirectional" : "")} {info.Cell} (H = {H}{(info.ProjSize > 0 ? $", proj_size = {P}" : "")}, found from layer 0)";
        void Expect(string name, long[] shape, string why)
        {
            if (!file.Contains(name))
                throw new SafeTensorsException(file.Source, name, $"missing: expected a tensor of shape {SafeTensors.ShapeText(shape)} in {module}{why}; the file holds {Listing(file, prefix)}.");
            var t = file.Info(name);
            if (!t.Shape.SequenceEqual(shape))
                throw new SafeTensorsException(file.Source, name, $"expected shape {SafeTensors.ShapeText(shape)} in {module}{why}, got {t.ShapeText}.");
        }
        void Absent(string name, string why)
        {
            if (file.Contains(name)) throw new SafeTensorsException(file.Source, name, $"unexpected tensor {file.Info(name).ShapeText}: {why}.");
        }
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var m = RecurrentName.Match(t.Name[prefix.Length..]);
            if (!m.Success) continue;
            if (m.Groups[4].Success && !info.Bidirectional)
                throw new SafeTensorsException(file.Source, t.Name, $"unexpected tensor {t.ShapeText}: a reverse direction, but {prefix}weight_ih_l0_reverse is missing (a bidirectional module has a reverse direction in every layer).");
            if (!int.TryParse(m.Groups[3].ValueSpan, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) || k >= info.Layers)
                throw new SafeTensorsException(file.Source, t.Name, $"unexpected tensor {t.ShapeText}: layers are numbered 0..{info.Layers - 1} ({prefix}weight_ih_l{info.Layers} is missing), so this layer is past a gap.");
        }
        for (int k = 0; k < info.Layers; k++)
            for (int d = 0; d < D; d++)
            {
                string sfx = $"_l{k}{(d == 1 ? "_reverse" : "")}";
                string input = k == 0 ? "" : $" (layer {k}'s input is layer {k - 1}'s output: {(D == 2 ? "2·" : "")}{P} features)";
                Expect(prefix + "weight_ih" + sfx, [GH, k == 0 ? info.InputSize : D * P], input);
                Expect(prefix + "weight_hh" + sfx, [GH, P], "");
                if (info.HasBias) { Expect(prefix + "bias_ih" + sfx, [GH], ""); Expect(prefix + "bias_hh" + sfx, [GH], ""); }
                else
                {
                    Absent(prefix + "bias_ih" + sfx, $"layer 0 has no bias (bias=False), so no layer has one");
                    Absent(prefix + "bias_hh" + sfx, $"layer 0 has no bias (bias=False), so no layer has one");
                }
                if (info.ProjSize > 0) Expect(prefix + "weight_hr" + sfx, [P, H], "");
                else Absent(prefix + "weight_hr" + sfx, "layer 0 has no weight_hr_l0 (no proj_size), so no layer has a projection");
            }
    }
}

/// <summary>
/// What a PyTorch load did: the tensors it read, and (only when strict is off, or empty) the file's tensors that no
/// parameter took and the tensor names of the parameters that found none (left as they were).
/// </summary>
public sealed record PyTorchLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Unused, IReadOnlyList<string> Missing)
{
    /// <summary>True when every parameter was loaded and every tensor in scope was used.</summary>
    public bool Complete => Unused.Count == 0 && Missing.Count == 0;

    /// <summary>One line: counts, then the names skipped.</summary>
    public override string ToString()
        => $"{Loaded.Count} tensors loaded; {Unused.Count} unused{(Unused.Count > 0 ? ": " + string.Join(", ", Unused) : "")}; {Missing.Count} missing{(Missing.Count > 0 ? ": " + string.Join(", ", Missing) : "")}";
}
