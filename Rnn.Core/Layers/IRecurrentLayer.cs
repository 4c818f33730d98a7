using System.Numerics;

namespace Rnn.Layers;

/// <summary>
/// What every recurrent layer (SimpleRnn, Lstm, Gru) offers to wrappers such as Bidirectional and stacks:
/// a scan over (batch, seq, InputSize) with an optional (batch, seq) 0/1 mask, producing (batch, seq, H)
/// or (batch, H). Layer-specific extras (initial states, returned states) live on the concrete types.
/// </summary>
public interface IRecurrentLayer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Input features I.</summary>
    int InputSize { get; }
    /// <summary>Hidden units H (the output features).</summary>
    int HiddenSize { get; }
    /// <summary>True when the layer scans from the last step to the first.</summary>
    bool Backwards { get; }
    /// <summary>True: output (batch, seq, H); false: (batch, H), the last scanned step.</summary>
    bool ReturnSequences { get; }
    /// <summary>The trainable parameters.</summary>
    IReadOnlyList<Parameter<T>> Parameters { get; }
    /// <summary>Training mode (dropout active).</summary>
    bool Training { get; set; }
    /// <summary>Output elements per sequence: seq·H or H.</summary>
    int OutputLength(int seqLen);
    /// <summary>y (overwritten) from x (batch, seq, I) and mask (batch, seq) or empty; records the tape.</summary>
    void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen);
    /// <summary>Accumulates parameter gradients, and dx (batch, seq, I) when not empty, from dy (y's shape).</summary>
    void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen);
    /// <summary>Clears the parameter gradients.</summary>
    void ZeroGrad();
    /// <summary>Streaming state elements per batch row (H, or 2H for the LSTM's h and c).</summary>
    int StateSize { get; }
    /// <summary>Scratch elements per batch row that <see cref="Step"/> needs.</summary>
    int StepScratchSize { get; }
    /// <summary>Writes the state at t = −1 (batch, StateSize): zeros, or a learned initial state.</summary>
    void InitState(Span<T> state, int batch);
    /// <summary>
    /// One inference step from the weights alone: state (batch, StateSize) in and out, x (batch, I), scratch
    /// (batch·StepScratchSize). Never touches the tape, so one layer can serve many threads, each with its own state.
    /// The hidden output h is the first batch·H elements of the state.
    /// </summary>
    void Step(Span<T> state, ReadOnlySpan<T> x, Span<T> scratch, int batch);
}
