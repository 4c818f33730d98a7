using System.Globalization;

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
    /// <summary>Weight initialisation: "keras" (glorot/orthogonal/zeros, unit forget bias) or "pytorch" (U(±1/√H)).</summary>
    public string Init { get; init; } = "keras";
    /// <summary>Outputs of the Dense head per position.</summary>
    public int OutputSize { get; init; } = 1;
    /// <summary>Head activation: "linear", "sigmoid", "tanh" or "relu". Losses on logits want "linear".</summary>
    public string OutputActivation { get; init; } = "linear";
    /// <summary>Apply the head at every step (TimeDistributed(Dense)) instead of only to the final state.</summary>
    public bool PerStep { get; init; }

    /// <summary>Features entering the first recurrent layer.</summary>
    public int FeatureSize => Vocab > 0 ? EmbeddingDim : InputSize;
    /// <summary>Features leaving the last recurrent layer.</summary>
    public int RecurrentOutputSize => Layers == 0 ? FeatureSize : Bidirectional ? 2 * Hidden : Hidden;

    /// <summary>Checks every field; throws naming the field, the expected range and the value.</summary>
    public void Validate()
    {
        static void Need(bool ok, string field, string expected, object actual)
        {
            if (!ok) throw new ArgumentException($"ModelSpec.{field}: expected {expected}, got {Convert.ToString(actual, CultureInfo.InvariantCulture)}.", field);
        }
        Need(Vocab >= 0, nameof(Vocab), ">= 0", Vocab);
        if (Vocab > 0) Need(EmbeddingDim >= 1, nameof(EmbeddingDim), ">= 1 with token input", EmbeddingDim);
        else Need(InputSize >= 1, nameof(InputSize), ">= 1 with feature input", InputSize);
        Need(!MaskZero || Vocab > 0, nameof(MaskZero), "false with feature input", MaskZero);
        Need(Layers >= 0 && Layers <= 64, nameof(Layers), "0..64", Layers);
        if (Layers > 0) Need(Hidden >= 1, nameof(Hidden), ">= 1", Hidden);
        Need(Enum.IsDefined(Cell), nameof(Cell), "a CellKind", Cell);
        foreach (var (name, p) in new[] { (nameof(DropoutBetween), DropoutBetween), (nameof(HeadDropout), HeadDropout), (nameof(InputDropout), InputDropout), (nameof(RecurrentDropout), RecurrentDropout) })
            Need(p >= 0 && p < 1, name, "[0, 1)", p);
        Need(Init is "keras" or "pytorch", nameof(Init), "keras or pytorch", Init);
        Need(OutputSize >= 1, nameof(OutputSize), ">= 1", OutputSize);
        Need(OutputActivation is "linear" or "sigmoid" or "tanh" or "relu", nameof(OutputActivation), "linear, sigmoid, tanh or relu", OutputActivation);
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
            ["rnn.init"] = Init,
            ["rnn.output_size"] = OutputSize.ToString(ci),
            ["rnn.output_activation"] = OutputActivation,
            ["rnn.per_step"] = PerStep ? "true" : "false",
        };
    }

    /// <summary>Rebuilds a spec from checkpoint metadata; a missing or malformed key throws naming it.</summary>
    public static ModelSpec FromMetadata(IReadOnlyDictionary<string, string> m)
    {
        string S(string k) => m.TryGetValue(k, out var v) ? v : throw new InvalidDataException($"checkpoint metadata: expected key '{k}', not found.");
        int I(string k) => int.TryParse(S(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new InvalidDataException($"checkpoint metadata '{k}': expected an integer, got '{S(k)}'.");
        double D(string k) => double.TryParse(S(k), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new InvalidDataException($"checkpoint metadata '{k}': expected a number, got '{S(k)}'.");
        bool B(string k) => S(k) switch { "true" => true, "false" => false, var v => throw new InvalidDataException($"checkpoint metadata '{k}': expected true or false, got '{v}'.") };
        if (S("rnn.format") != "1") throw new InvalidDataException($"checkpoint metadata 'rnn.format': expected 1, got '{S("rnn.format")}'.");
        if (!Enum.TryParse<CellKind>(S("rnn.cell"), out var cell) || !Enum.IsDefined(cell))
            throw new InvalidDataException($"checkpoint metadata 'rnn.cell': expected one of {string.Join(", ", Enum.GetNames<CellKind>())}, got '{S("rnn.cell")}'.");
        var spec = new ModelSpec
        {
            InputSize = I("rnn.input_size"), Vocab = I("rnn.vocab"), EmbeddingDim = I("rnn.embedding_dim"), MaskZero = B("rnn.mask_zero"),
            Cell = cell, Hidden = I("rnn.hidden"), Layers = I("rnn.layers"), Bidirectional = B("rnn.bidirectional"),
            DropoutBetween = D("rnn.dropout_between"), HeadDropout = D("rnn.head_dropout"), InputDropout = D("rnn.input_dropout"),
            RecurrentDropout = D("rnn.recurrent_dropout"), Init = S("rnn.init"), OutputSize = I("rnn.output_size"),
            OutputActivation = S("rnn.output_activation"), PerStep = B("rnn.per_step"),
        };
        try { spec.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException("checkpoint metadata: " + e.Message, e); }
        return spec;
    }
}
