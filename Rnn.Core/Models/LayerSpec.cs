using System.Globalization;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// One layer of a <see cref="Model{T}"/>, described by value: enough to build it and to rebuild it from a checkpoint's
/// metadata. <see cref="Name"/> prefixes the layer's parameters ("rnn" gives "rnn.weight_ih_l0"), so a model built with
/// a PyTorch module's attribute names has that module's state-dict names. Names are unique within a model.
/// </summary>
public abstract record LayerSpec(string Name)
{
    /// <summary>The kind written to metadata ("embedding", "recurrent", "dropout", "dense", "repeat_vector").</summary>
    internal abstract string Kind { get; }

    /// <summary>The fields as metadata strings (keys without the layer prefix).</summary>
    internal abstract IEnumerable<(string Key, string Value)> Fields();

    /// <summary>Checks the fields; throws naming the field, the expected and the actual value.</summary>
    internal abstract void Validate(string where);

    // The field's name as the exception's parameter name (the spec's fields are the caller's arguments).
    private protected static ArgumentException Bad(string message, string field) => new(message, field);

    private protected static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private protected static string F(int v) => v.ToString(CultureInfo.InvariantCulture);
    private protected static string F(bool v) => v ? "true" : "false";

    private protected static void CheckRate(double p, string field, string where)
    {
        if (!(p >= 0 && p < 1)) throw Bad($"{where}.{field}: expected a value in [0, 1), got {p.ToString("R", CultureInfo.InvariantCulture)}.", field);
    }

    private protected static void AtLeast1(int v, string field, string where)
    {
        if (v < 1) throw Bad($"{where}.{field}: expected >= 1, got {v}.", field);
    }
}

/// <summary>Token ids (batch, seq) → vectors (batch, seq, Dim); only as a model's first layer. Parameter "weight" (Vocab, Dim).</summary>
public sealed record EmbeddingSpec(string Name, int Vocab, int Dim, bool MaskZero = false) : LayerSpec(Name)
{
    internal override string Kind => "embedding";
    internal override IEnumerable<(string, string)> Fields() => [("vocab", F(Vocab)), ("dim", F(Dim)), ("mask_zero", F(MaskZero))];
    internal override void Validate(string where) { AtLeast1(Vocab, nameof(Vocab), where); AtLeast1(Dim, nameof(Dim), where); }
}

/// <summary>
/// A stack of <see cref="Layers"/> recurrent layers of one cell (PyTorch's nn.LSTM(num_layers, bidirectional, dropout)):
/// parameters "weight_ih_l{k}", "weight_hh_l{k}", "bias_ih_l{k}", ["bias_hh_l{k}"], ["h0_l{k}"], with "_reverse" for the
/// backward direction. Every layer but the last returns sequences; the last returns them when <see cref="ReturnSequences"/>.
/// </summary>
public sealed record RecurrentSpec(string Name, CellKind Cell, int Hidden) : LayerSpec(Name)
{
    /// <summary>Stacked layers (layer k+1 reads layer k's hidden states).</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Both directions, outputs concatenated.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout between stacked layers (PyTorch's dropout argument).</summary>
    public double DropoutBetween { get; init; }
    /// <summary>Per-sequence input dropout of LSTM/GRU layers (Keras dropout); the vanilla RNN has none (ignored).</summary>
    public double InputDropout { get; init; }
    /// <summary>Per-sequence recurrent dropout of LSTM/GRU layers (Keras recurrent_dropout); ignored by the vanilla RNN.</summary>
    public double RecurrentDropout { get; init; }
    /// <summary>Keras (one bias, unit forget bias; the vanilla RNN HeUniform) or PyTorch (U(±1/√H), two biases).</summary>
    public InitScheme Init { get; init; } = InitScheme.Keras;
    /// <summary>The last layer outputs every step (batch, seq, H·dirs); false: the final state (batch, H·dirs).</summary>
    public bool ReturnSequences { get; init; }
    /// <summary>Zero, or Learned (a trainable h0 per layer and direction). Given states are passed to layers directly, not through a model.</summary>
    public InitialState InitialState { get; init; } = InitialState.Zero;
    /// <summary>Lasagne's grad_clipping for the vanilla RNN (RnnTanh/RnnRelu): each step's pre-activation gradient clipped to [−c, c]; 0 = off.</summary>
    public double GradClipping { get; init; }
    /// <summary>
    /// Keras's stateful=True: each Forward starts every layer from the state the previous Forward ended in (zeros after
    /// <see cref="Model{T}.ResetStates"/>), so a long text can be read in consecutive chunks; no gradient crosses
    /// the chunk edge (truncated BPTT). Unidirectional, zero-initialised layers only; the batch size stays fixed
    /// until the states are reset.
    /// </summary>
    public bool Stateful { get; init; }

    /// <summary>Gate blocks per cell.</summary>
    internal int Gates => Cell switch { CellKind.Lstm => 4, CellKind.Gru or CellKind.GruResetBefore => 3, _ => 1 };
    /// <summary>PyTorch's bias_hh is kept (PyTorch init, or the reset-after GRU).</summary>
    internal bool TwoBiases => Init == InitScheme.PyTorch || Cell == CellKind.Gru;
    /// <summary>Features out per step.</summary>
    public int OutputSize => Bidirectional ? 2 * Hidden : Hidden;

    internal override string Kind => "recurrent";
    internal override IEnumerable<(string, string)> Fields()
    {
        (string, string)[] f =
        [
            ("cell", Cell.ToString()), ("hidden", F(Hidden)), ("layers", F(Layers)), ("bidirectional", F(Bidirectional)),
            ("dropout_between", F(DropoutBetween)), ("input_dropout", F(InputDropout)), ("recurrent_dropout", F(RecurrentDropout)),
            ("init", ModelSpec.InitName(Init)), ("return_sequences", F(ReturnSequences)), ("initial_state", InitialState.ToString()),
        ];
        if (GradClipping != 0) f = [.. f, ("grad_clipping", F(GradClipping))]; // absent reads as 0 (older checkpoints)
        return Stateful ? [.. f, ("stateful", F(true))] : f;                    // absent reads as false
    }
    internal override void Validate(string where)
    {
        if (!Enum.IsDefined(Cell)) throw Bad($"{where}.Cell: expected a CellKind, got {Cell}.", nameof(Cell));
        AtLeast1(Hidden, nameof(Hidden), where);
        if (Layers < 1 || Layers > 64) throw Bad($"{where}.Layers: expected 1..64, got {Layers}.", nameof(Layers));
        CheckRate(DropoutBetween, nameof(DropoutBetween), where); CheckRate(InputDropout, nameof(InputDropout), where); CheckRate(RecurrentDropout, nameof(RecurrentDropout), where);
        if (!Enum.IsDefined(Init)) throw Bad($"{where}.Init: expected Keras or PyTorch, got {Init}.", nameof(Init));
        if (InitialState is not (InitialState.Zero or InitialState.Learned))
            throw Bad($"{where}.InitialState: expected Zero or Learned (pass given states to the layers themselves), got {InitialState}.", nameof(InitialState));
        if (!(GradClipping >= 0 && double.IsFinite(GradClipping))) throw Bad($"{where}.GradClipping: expected a finite value >= 0, got {F(GradClipping)}.", nameof(GradClipping));
        if (GradClipping != 0 && Cell is not (CellKind.RnnTanh or CellKind.RnnRelu))
            throw Bad($"{where}.GradClipping: expected 0 for a {Cell} cell (only the vanilla RNN clips per step), got {F(GradClipping)}.", nameof(GradClipping));
        if (Stateful && (Bidirectional || InitialState != InitialState.Zero))
            throw Bad($"{where}.Stateful: expected false for a {(Bidirectional ? "bidirectional layer (its backward direction starts at the chunk's end)" : $"{InitialState} initial state")}, got true.", nameof(Stateful));
    }
}

/// <summary>Inverted dropout on the previous layer's output (Keras Dropout, PyTorch nn.Dropout). No parameters.</summary>
public sealed record DropoutSpec(string Name, double Rate) : LayerSpec(Name)
{
    internal override string Kind => "dropout";
    internal override IEnumerable<(string, string)> Fields() => [("rate", F(Rate))];
    internal override void Validate(string where) => CheckRate(Rate, nameof(Rate), where);
}

/// <summary>
/// y = f(x·Wᵀ + b), parameters "weight" (Units, in) and "bias" (Units). On a sequence it applies at every step
/// (Keras's TimeDistributed(Dense)), on a vector once per row.
/// </summary>
public sealed record DenseSpec(string Name, int Units, Activation Activation = Activation.Linear) : LayerSpec(Name)
{
    internal override string Kind => "dense";
    internal override IEnumerable<(string, string)> Fields() => [("units", F(Units)), ("activation", ModelSpec.ActivationName(Activation))];
    internal override void Validate(string where)
    {
        AtLeast1(Units, nameof(Units), where);
        if (!Enum.IsDefined(Activation)) throw Bad($"{where}.Activation: expected Linear, Sigmoid, Tanh or Relu, got {Activation}.", nameof(Activation));
    }
}

/// <summary>A vector per sequence (batch, F) repeated <see cref="Times"/> times: (batch, Times, F) (Keras RepeatVector, the encoder–decoder bridge).</summary>
public sealed record RepeatVectorSpec(string Name, int Times) : LayerSpec(Name)
{
    internal override string Kind => "repeat_vector";
    internal override IEnumerable<(string, string)> Fields() => [("times", F(Times))];
    internal override void Validate(string where) => AtLeast1(Times, nameof(Times), where);
}
