using System.Numerics;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// One view of the initial and final state of any recurrent layer, so compositions (an encoder handing its
/// state to a decoder, a language model carrying its state from chunk to chunk) need not know the cell:
/// a state is (k, batch, H), h first, then c for an LSTM (k = <see cref="StateCount"/>). Forward records the
/// final state; Backward accepts its gradient dsT and returns ds0 when the layer's initial state is Given, through
/// the layer's own h0/c0 state API (every cell has the same one).
/// The wrapped layer is not owned; buffers are allocated once per (batch, seq).
/// </summary>
public sealed class StatefulRecurrent<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The wrapped layer.</summary>
    public IRecurrentLayer<T> Layer { get; }
    /// <summary>State tensors per sequence: 1 (h) for SimpleRnn and Gru, 2 (h, c) for Lstm.</summary>
    public int StateCount { get; }
    /// <summary>True when the layer's initial state is <see cref="InitialState.Given"/>, so Forward takes s0.</summary>
    public bool TakesInitialState { get; }
    /// <summary>Hidden units H.</summary>
    public int HiddenSize => Layer.HiddenSize;

    private int _batch = -1, _seq = -1;
    private T[] _final = [], _dy = []; // (k, B, H), y's shape

    /// <summary>Wraps a SimpleRnn, Gru or Lstm; other types (a Bidirectional has two final states) throw.</summary>
    public StatefulRecurrent(IRecurrentLayer<T> layer)
    {
        Layer = layer ?? throw new ArgumentNullException(nameof(layer));
        if (layer is Bidirectional<T> || layer is RecurrentStack<T>)
            throw new ArgumentException($"layer: expected a SimpleRnn, Gru or Lstm, got {layer.GetType().Name} (use its own h0/c0 state API).", nameof(layer));
        StateCount = layer.StateCount;
        TakesInitialState = layer.InitialState == InitialState.Given;
    }

    /// <summary>Elements of a state for a batch: k·batch·H.</summary>
    public int StateLength(int batch) => StateCount * batch * HiddenSize;

    /// <summary>The final state (k, batch, H) of the last Forward. Owned by this object; valid until the next Forward.</summary>
    public ReadOnlySpan<T> FinalState => _batch < 0 ? throw new InvalidOperationException("FinalState: no Forward has run.") : _final;

    private void Ensure(int batch, int seq)
    {
        if (batch == _batch && seq == _seq) return;
        _batch = batch; _seq = seq;
        _final = new T[StateLength(batch)];
        _dy = new T[batch * Layer.OutputLength(seq)];
    }

    /// <summary>
    /// Runs the layer: y (batch, seq, H) or (batch, H) overwritten, x (batch, seq, I), mask (batch, seq) or empty,
    /// s0 (k, batch, H) when <see cref="TakesInitialState"/>, else empty. Records <see cref="FinalState"/>.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> s0, int batch, int seqLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        if (TakesInitialState) Guard.Length(s0.Length, StateLength(batch), $"(k={StateCount}, batch={batch}, H={HiddenSize})");
        else if (!s0.IsEmpty) throw new ArgumentException($"s0: expected empty, the layer's initial state is not Given; got {s0.Length} elements.", nameof(s0));
        Ensure(batch, seqLen);
        int n = batch * HiddenSize;
        Layer.Forward(y, x, mask, s0.IsEmpty ? default : s0[..n], s0.IsEmpty || StateCount == 1 ? default : s0[n..], batch, seqLen);
        Layer.FinalH.CopyTo(_final.AsSpan(0, n));
        if (StateCount == 2) Layer.FinalC.CopyTo(_final.AsSpan(n, n));
    }

    /// <summary>
    /// Backpropagates the last Forward. dy has y's shape, or is empty for "the outputs are unused"; dsT (k, batch, H)
    /// is the gradient at <see cref="FinalState"/>, or empty. Accumulates into the parameter gradients, dx (batch,
    /// seq, I) when not empty and ds0 (k, batch, H) when not empty (Given initial state only).
    /// </summary>
    public void Backward(Span<T> dx, Span<T> ds0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dsT, int batch, int seqLen)
    {
        if (batch != _batch || seqLen != _seq)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_batch}, seq={_seq}), got (batch={batch}, seq={seqLen}).");
        if (!dy.IsEmpty) Guard.Length(dy.Length, _dy.Length, $"(batch={batch}{(Layer.ReturnSequences ? $", seq={seqLen}" : "")}, H={HiddenSize})");
        if (!dsT.IsEmpty) Guard.Length(dsT.Length, StateLength(batch), $"(k={StateCount}, batch={batch}, H={HiddenSize})");
        if (!ds0.IsEmpty)
        {
            if (!TakesInitialState) throw new ArgumentException("ds0: expected empty, the layer's initial state is not Given.", nameof(ds0));
            Guard.Length(ds0.Length, StateLength(batch), $"(k={StateCount}, batch={batch}, H={HiddenSize})");
        }
        int n = batch * HiddenSize;
        if (dy.IsEmpty) { Array.Clear(_dy); dy = _dy; }
        Layer.Backward(dx, ds0.IsEmpty ? default : ds0[..n], ds0.IsEmpty || StateCount == 1 ? default : ds0[n..], dy,
            dsT.IsEmpty ? default : dsT[..n], dsT.IsEmpty || StateCount == 1 ? default : dsT[n..], batch, seqLen);
    }
}
