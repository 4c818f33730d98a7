using System.Globalization;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>The recurrent cell of a <see cref="SequenceModel{T}"/>.</summary>
public enum CellKind
{
    /// <summary>Vanilla RNN with tanh (PyTorch RNN_TANH).</summary>
    RnnTanh,
    /// <summary>Vanilla RNN with relu (PyTorch RNN_RELU).</summary>
    RnnRelu,
    /// <summary>LSTM, PyTorch equations and gate order i, f, g, o.</summary>
    Lstm,
    /// <summary>GRU, reset gate applied after the recurrent matmul (PyTorch, cuDNN, Keras 3, ONNX linear_before_reset=1).</summary>
    Gru,
    /// <summary>GRU, reset gate applied before the recurrent matmul (Keras 2 reset_after=False, ONNX default).</summary>
    GruResetBefore,
}

/// <summary>
/// The architecture of a <see cref="SequenceModel{T}"/>, complete enough to rebuild the model from a checkpoint's
/// metadata without code: input (features, or tokens through an embedding) → N recurrent layers (optionally
/// bidirectional, dropout between) → optional dropout → Dense head applied to the final state (sequence input,
/// Karpathy's mode 3) or to every step (synced sequence input and output, mode 5). With <see cref="Layers"/> = 0 the
/// model is a Dense on one vector per sequence step (mode 1 with seq = 1).
/// </summary>
public sealed record ModelSpec
{
    /// <summary>Input features per step (ignored when <see cref="Vocab"/> > 0: then it is the embedding dim).</summary>
    public int InputSize { get; init; }
    /// <summary>Vocabulary size of the token embedding; 0 = the input is already features.</summary>
    public int Vocab { get; init; }
    /// <summary>Embedding dimension (token input only).</summary>
    public int EmbeddingDim { get; init; }
    /// <summary>Derive the mask from token id 0 (Keras mask_zero).</summary>
    public bool MaskZero { get; init; }
    /// <summary>The recurrent cell.</summary>
    public CellKind Cell { get; init; } = CellKind.Lstm;
    /// <summary>Hidden units per direction.</summary>
    public int Hidden { get; init; }
    /// <summary>Stacked recurrent layers (layer k+1 reads layer k's hidden states).</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Each recurrent layer runs both directions, outputs concatenated (PyTorch bidirectional=True).</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout on the outputs of every recurrent layer but the last (PyTorch's dropout argument).</summary>
    public double DropoutBetween { get; init; }
    /// <summary>Dropout on the input of the Dense head (the Keras imdb example's Dropout(0.5)).</summary>
    public double HeadDropout { get; init; }
    /// <summary>Dropout on each LSTM/GRU layer's input (Keras dropout), one mask per sequence.</summary>
    public double InputDropout { get; init; }
    /// <summary>Dropout on h in each LSTM/GRU recurrence (Keras recurrent_dropout), one mask per sequence.</summary>
    public double RecurrentDropout { get; init; }
    /// <summary>
    /// Weight initialisation: Keras (LSTM/GRU glorot/orthogonal/zeros with a unit forget bias; the vanilla RNN Lasagne's
    /// HeUniform) or PyTorch (every weight and bias U(±1/√H), two biases). Metadata "keras" or "pytorch".
    /// </summary>
    public InitScheme Init { get; init; } = InitScheme.Keras;
    /// <summary>Outputs of the Dense head per position.</summary>
    public int OutputSize { get; init; } = 1;
    /// <summary>Head activation. Losses on logits want Linear. Metadata "linear", "sigmoid", "tanh" or "relu".</summary>
    public Activation OutputActivation { get; init; } = Activation.Linear;
    /// <summary>Apply the head at every step (TimeDistributed(Dense)) instead of only to the final state.</summary>
    public bool PerStep { get; init; }

    /// <summary>Features entering the first recurrent layer.</summary>
    public int FeatureSize => Vocab > 0 ? EmbeddingDim : InputSize;
    /// <summary>The layers of a spec under PyTorch's module names: embedding, rnn, dropout, fc.</summary>
    public LayerSpec[] ToLayers()
    {
        var l = new List<LayerSpec>();
        if (Vocab > 0) l.Add(new EmbeddingSpec("embedding", Vocab, EmbeddingDim, MaskZero));
        if (Layers > 0)
            l.Add(new RecurrentSpec("rnn", Cell, Hidden)
            {
                Layers = Layers, Bidirectional = Bidirectional, DropoutBetween = DropoutBetween, InputDropout = InputDropout,
                RecurrentDropout = RecurrentDropout, Init = Init, ReturnSequences = PerStep,
            });
        if (HeadDropout > 0) l.Add(new DropoutSpec("dropout", HeadDropout));
        l.Add(new DenseSpec("fc", OutputSize, OutputActivation));
        return l.ToArray();
    }

    /// <summary>The model's input size: features per step, or 0 for token ids.</summary>
    internal int FeatureSizeOfInput() => Vocab > 0 ? 0 : InputSize;
    /// <summary>Features leaving the last recurrent layer.</summary>
    public int RecurrentOutputSize => Layers == 0 ? FeatureSize : Bidirectional ? 2 * Hidden : Hidden;

    /// <summary>Checks every field; throws naming the field, the expected range and the value.</summary>
    public void Validate()
    {
        foreach (var (field, expected, actual) in Problems())
            throw new ArgumentException($"ModelSpec.{field}: expected {expected}, got {actual}.", field);
    }

    // Every field out of range, first problem first: (field, expected, actual as text). Sizes are bounded so that
    // every parameter fits in one array, in long arithmetic, before anything is allocated.
    internal IEnumerable<(string Field, string Expected, string Actual)> Problems()
    {
        var ci = CultureInfo.InvariantCulture;
        static string T(object o) => Convert.ToString(o, CultureInfo.InvariantCulture) ?? "";
        if (Vocab < 0) yield return (nameof(Vocab), ">= 0", T(Vocab));
        if (Vocab > 0 && EmbeddingDim < 1) yield return (nameof(EmbeddingDim), ">= 1 with token input", T(EmbeddingDim));
        if (Vocab <= 0 && InputSize < 1) yield return (nameof(InputSize), ">= 1 with feature input", T(InputSize));
        if (MaskZero && Vocab <= 0) yield return (nameof(MaskZero), "false with feature input", T(MaskZero));
        if (Layers < 0 || Layers > 64) yield return (nameof(Layers), "0..64", T(Layers));
        if (Layers > 0 && Hidden < 1) yield return (nameof(Hidden), ">= 1", T(Hidden));
        if (!Enum.IsDefined(Cell)) yield return (nameof(Cell), "a CellKind", T(Cell));
        foreach (var (name, p) in new[] { (nameof(DropoutBetween), DropoutBetween), (nameof(HeadDropout), HeadDropout), (nameof(InputDropout), InputDropout), (nameof(RecurrentDropout), RecurrentDropout) })
            if (!(p >= 0 && p < 1)) yield return (name, "[0, 1)", p.ToString("R", ci));
        if (!Enum.IsDefined(Init)) yield return (nameof(Init), "an InitScheme (Keras or PyTorch)", T(Init));
        if (OutputSize < 1) yield return (nameof(OutputSize), ">= 1", T(OutputSize));
        if (!Enum.IsDefined(OutputActivation)) yield return (nameof(OutputActivation), "an Activation (Linear, Sigmoid, Tanh or Relu)", T(OutputActivation));
        if (Vocab < 0 || (Vocab > 0 ? EmbeddingDim < 1 : InputSize < 1) || Layers < 0 || Layers > 64 || (Layers > 0 && Hidden < 1) || OutputSize < 1) yield break;
        foreach (var (name, shape) in ParameterShapes())
        {
            Int128 n = 1;
            foreach (long d in shape) n *= d;
            if (n > Array.MaxLength)
            {
                // Blame the larger of the parameter's two sizes.
                string field = name.StartsWith("embedding.", StringComparison.Ordinal) ? (Vocab >= EmbeddingDim ? nameof(Vocab) : nameof(EmbeddingDim))
                    : name.StartsWith("rnn.", StringComparison.Ordinal) ? (Vocab == 0 && InputSize > Hidden && name.Contains("_ih_l0") ? nameof(InputSize) : nameof(Hidden))
                    : OutputSize >= shape[1] ? nameof(OutputSize) : nameof(Hidden);
                int value = field switch { nameof(Vocab) => Vocab, nameof(EmbeddingDim) => EmbeddingDim, nameof(InputSize) => InputSize, nameof(Hidden) => Hidden, _ => OutputSize };
                yield return (field, $"sizes whose every parameter fits in one array ({name} {Rnn.IO.SafeTensors.ShapeText(shape)} has {n} elements, at most {Array.MaxLength})", T(value));
                yield break;
            }
        }
    }

    /// <summary>The metadata spelling of an init scheme: "keras" or "pytorch".</summary>
    public static string InitName(InitScheme init) => init switch
    {
        InitScheme.Keras => "keras",
        InitScheme.PyTorch => "pytorch",
        _ => throw new ArgumentOutOfRangeException(nameof(init), init, $"init: expected Keras or PyTorch, got {init}."),
    };

    /// <summary>The metadata spelling of an activation: "linear", "sigmoid", "tanh" or "relu".</summary>
    public static string ActivationName(Activation activation) => activation switch
    {
        Activation.Linear => "linear",
        Activation.Sigmoid => "sigmoid",
        Activation.Tanh => "tanh",
        Activation.Relu => "relu",
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, $"activation: expected Linear, Sigmoid, Tanh or Relu, got {activation}."),
    };

    /// <summary>Parses the metadata spelling of an init scheme; anything else throws fail(key, ...) naming the field.</summary>
    internal static InitScheme ParseInit(string text, string key, Func<string, string, Exception> fail) => text switch
    {
        "keras" => InitScheme.Keras,
        "pytorch" => InitScheme.PyTorch,
        _ => throw fail(key, $"expected keras or pytorch, got '{Rnn.IO.SafeTensorsException.Cut(text, 80)}'."),
    };

    /// <summary>Parses the metadata spelling of an activation; anything else throws fail(key, ...) naming the field (no silent Linear).</summary>
    internal static Activation ParseActivation(string text, string key, Func<string, string, Exception> fail) => text switch
    {
        "linear" => Activation.Linear,
        "sigmoid" => Activation.Sigmoid,
        "tanh" => Activation.Tanh,
        "relu" => Activation.Relu,
        _ => throw fail(key, $"expected linear, sigmoid, tanh or relu, got '{Rnn.IO.SafeTensorsException.Cut(text, 80)}'."),
    };

    /// <summary>The checkpoint metadata key of a field, e.g. "rnn.embedding_dim" for EmbeddingDim.</summary>
    internal static string MetadataKey(string field)
    {
        var b = new System.Text.StringBuilder("rnn.");
        for (int i = 0; i < field.Length; i++)
        {
            if (char.IsUpper(field[i]) && i > 0) b.Append('_');
            b.Append(char.ToLowerInvariant(field[i]));
        }
        return b.ToString();
    }

    /// <summary>
    /// Every parameter's checkpoint name and shape, in the order of <see cref="Model{T}.NamedParameters"/>,
    /// computed without building anything (long dimensions, so a hostile size cannot overflow): a loader checks a
    /// file against it before allocating the model.
    /// </summary>
    internal List<(string Name, long[] Shape)> ParameterShapes()
    {
        var r = new List<(string, long[])>();
        if (Vocab > 0) r.Add(("embedding.weight", [Vocab, EmbeddingDim]));
        long gates = Cell switch { CellKind.Lstm => 4, CellKind.Gru or CellKind.GruResetBefore => 3, _ => 1 };
        bool torch = Init == InitScheme.PyTorch, twoBiases = torch || Cell == CellKind.Gru;
        long input = FeatureSize, g = gates * Hidden;
        for (int k = 0; k < Layers; k++)
        {
            foreach (string dir in Bidirectional ? new[] { "", "_reverse" } : [""])
            {
                string s = $"_l{k}{dir}";
                r.Add(("rnn.weight_ih" + s, [g, input]));
                r.Add(("rnn.weight_hh" + s, [g, Hidden]));
                r.Add(("rnn.bias_ih" + s, [g]));
                if (twoBiases) r.Add(("rnn.bias_hh" + s, [g]));
            }
            input = Bidirectional ? 2L * Hidden : Hidden;
        }
        r.Add(("fc.weight", [OutputSize, Layers == 0 ? FeatureSize : input]));
        r.Add(("fc.bias", [OutputSize]));
        return r;
    }

    /// <summary>The spec as string pairs, for a checkpoint's __metadata__ (keys prefixed "rnn.").</summary>
    public Dictionary<string, string> ToMetadata()
    {
        var ci = CultureInfo.InvariantCulture;
        return new()
        {
            ["rnn.format"] = "1",
            ["rnn.input_size"] = InputSize.ToString(ci),
            ["rnn.vocab"] = Vocab.ToString(ci),
            ["rnn.embedding_dim"] = EmbeddingDim.ToString(ci),
            ["rnn.mask_zero"] = MaskZero ? "true" : "false",
            ["rnn.cell"] = Cell.ToString(),
            ["rnn.hidden"] = Hidden.ToString(ci),
            ["rnn.layers"] = Layers.ToString(ci),
            ["rnn.bidirectional"] = Bidirectional ? "true" : "false",
            ["rnn.dropout_between"] = DropoutBetween.ToString("R", ci),
            ["rnn.head_dropout"] = HeadDropout.ToString("R", ci),
            ["rnn.input_dropout"] = InputDropout.ToString("R", ci),
            ["rnn.recurrent_dropout"] = RecurrentDropout.ToString("R", ci),
            ["rnn.init"] = InitName(Init),
            ["rnn.output_size"] = OutputSize.ToString(ci),
            ["rnn.output_activation"] = ActivationName(OutputActivation),
            ["rnn.per_step"] = PerStep ? "true" : "false",
        };
    }

    /// <summary>Rebuilds a spec from checkpoint metadata; a missing or malformed key throws <see cref="InvalidDataException"/> naming it.</summary>
    public static ModelSpec FromMetadata(IReadOnlyDictionary<string, string> m)
        => FromMetadata(m, (key, message) => new InvalidDataException($"checkpoint metadata '{key}': {message}"));

    // The parser behind both entry points; fail(key, message) builds the exception (a loader names the file).
    internal static ModelSpec FromMetadata(IReadOnlyDictionary<string, string> m, Func<string, string, Exception> fail)
    {
        ArgumentNullException.ThrowIfNull(m);
        static string Q(string v) => "'" + Rnn.IO.SafeTensorsException.Cut(v, 80) + "'"; // echoed input stays short
        string S(string k) => m.TryGetValue(k, out var v) ? v : throw fail(k, "expected the key, not found.");
        int I(string k) => int.TryParse(S(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw fail(k, $"expected an integer in {int.MinValue}..{int.MaxValue}, got {Q(S(k))}.");
        double D(string k) => double.TryParse(S(k), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw fail(k, $"expected a number, got {Q(S(k))}.");
        bool B(string k) => S(k) switch { "true" => true, "false" => false, var v => throw fail(k, $"expected true or false, got {Q(v)}.") };
        if (S("rnn.format") != "1") throw fail("rnn.format", $"expected 1, got {Q(S("rnn.format"))}.");
        string cellText = S("rnn.cell"); // a name only: Enum.TryParse also takes "2"
        if (cellText.Length == 0 || !char.IsLetter(cellText[0]) || !Enum.TryParse<CellKind>(cellText, out var cell) || !Enum.IsDefined(cell))
            throw fail("rnn.cell", $"expected one of {string.Join(", ", Enum.GetNames<CellKind>())}, got {Q(S("rnn.cell"))}.");
        var spec = new ModelSpec
        {
            InputSize = I("rnn.input_size"), Vocab = I("rnn.vocab"), EmbeddingDim = I("rnn.embedding_dim"), MaskZero = B("rnn.mask_zero"),
            Cell = cell, Hidden = I("rnn.hidden"), Layers = I("rnn.layers"), Bidirectional = B("rnn.bidirectional"),
            DropoutBetween = D("rnn.dropout_between"), HeadDropout = D("rnn.head_dropout"), InputDropout = D("rnn.input_dropout"),
            RecurrentDropout = D("rnn.recurrent_dropout"), Init = ParseInit(S("rnn.init"), "rnn.init", fail), OutputSize = I("rnn.output_size"),
            OutputActivation = ParseActivation(S("rnn.output_activation"), "rnn.output_activation", fail), PerStep = B("rnn.per_step"),
        };
        foreach (var (field, expected, actual) in spec.Problems())
            throw fail(MetadataKey(field), $"expected {expected}, got {Rnn.IO.SafeTensorsException.Cut(actual, 80)}.");
        if (spec.Layers == 0 && !spec.PerStep) throw fail("rnn.per_step", "expected true when rnn.layers = 0 (a Dense per position), got false.");
        return spec;
    }
}
