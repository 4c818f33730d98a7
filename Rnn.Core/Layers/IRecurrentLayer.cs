using System.Numerics;

namespace Rnn.Layers;

/// <summary>
/// What every recurrent layer (SimpleRnn, Lstm, Gru, and Bidirectional over two of them) offers to wrappers and
/// stacks: a scan over (batch, seq, InputSize) with an optional (batch, seq) 0/1 mask, producing (batch, seq, HiddenSize)
/// or (batch, HiddenSize), and one state API. A state is h, plus c for an LSTM (<see cref="StateCount"/>); a
/// bidirectional layer's state k is (2, batch, width), the forward direction first, as in one layer of PyTorch's
/// (layers·dirs, batch, H) (see <see cref="RecurrentStack{T}"/>).
/// </summary>
public interface IRecurrentLayer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Input features I.</summary>
    int InputSize { get; }
    /// <summary>Output features per step.</summary>
    int HiddenSize { get; }
    /// <summary>True when the layer scans from the last step to the first.</summary>
    bool Backwards { get; }
    /// <summary>True: output (batch, seq, HiddenSize); false: (batch, HiddenSize), the last scanned step.</summary>
    bool ReturnSequences { get; }
    /// <summary>The trainable parameters.</summary>
    IReadOnlyList<Parameter<T>> Parameters { get; }
    /// <summary>Training mode (dropout active, tape kept).</summary>
    bool Training { get; set; }
    /// <summary>Output elements per sequence: seq·HiddenSize or HiddenSize.</summary>
    int OutputLength(int seqLen);
    /// <summary>y (overwritten) from x (batch, seq, I) and mask (batch, seq) or empty; records the tape.</summary>
    void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen);
    /// <summary>Accumulates parameter gradients, and dx (batch, seq, I) when not empty, from dy (y's shape).</summary>
    void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen);
    /// <summary>Clears the parameter gradients.</summary>
    void ZeroGrad();

    /// <summary>State tensors: 1 (h) or 2 (h, c).</summary>
    int StateCount { get; }
    /// <summary>Where the state at t = −1 comes from; h0 and c0 are passed to Forward only when it is Given.</summary>
    InitialState InitialState { get; }
    /// <summary>Elements of state <paramref name="k"/> (0 = h, 1 = c) for a batch: directions·batch·width.</summary>
    int StateLength(int batch, int k);
    /// <summary>As Forward, from the initial states h0 and c0 (empty unless InitialState is Given; c0 only when StateCount is 2).</summary>
    void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen);
    /// <summary>
    /// As Backward, with the gradients dhT, dcT at <see cref="FinalH"/>, <see cref="FinalC"/> (or empty) in, and those
    /// at h0, c0 accumulated into dh0, dc0 (when not empty; InitialState.Given).
    /// </summary>
    void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen);
    /// <summary>
    /// As Forward, over a packed batch: lengths (batch) of real steps, each in 1..seq, in any order, instead of a mask;
    /// x post-padded. Each row runs only its real steps (forward, backward, the weight gradients), the reverse
    /// direction starting at each row's own last real step, as PyTorch's pack_padded_sequence(enforce_sorted=False).
    /// </summary>
    void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen);
    /// <summary>As the other ForwardPacked, from the layer's own initial state (not Given).</summary>
    void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, int batch, int seqLen);
    /// <summary>What the last Forward was given: no padding, a mask, or lengths (packed).</summary>
    BatchPadding Padding { get; }
    /// <summary>h after each direction's last scanned step of the last Forward. Owned by the layer; valid until the next Forward.</summary>
    ReadOnlySpan<T> FinalH { get; }
    /// <summary>c likewise (StateCount 2), else empty.</summary>
    ReadOnlySpan<T> FinalC { get; }
}
