using System.Numerics;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// One view of the initial and final state of any recurrent layer, so compositions (an encoder handing its
/// state to a decoder, a language model carrying its state from chunk to chunk) need not know the cell:
/// a state is (k, batch, H), h first, then c for an LSTM (k = <see cref="StateCount"/>). Forward records the
/// final state; Backward accepts its gradient dsT (for a vanilla RNN the final h is the output at the last
/// scanned step, so dsT is added to dy there; Lstm and Gru take dhT, dcT directly) and returns ds0 when the layer's initial state is Given.
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
        switch (layer)
        {
            case SimpleRnn<T> r: StateCount = 1; TakesInitialState = r.Options.InitialState == InitialState.Given; break;
            case Gru<T> g: StateCount = 1; TakesInitialState = g.Options.InitialState == InitialState.Given; break;
            case Lstm<T> l: StateCount = 2; TakesInitialState = l.Options.InitialState == InitialState.Given; break;
            default: throw new ArgumentException($"layer: expected a SimpleRnn, Gru or Lstm, got {layer.GetType().Name}.", nameof(layer));
        }
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
        switch (Layer)
        {
            case SimpleRnn<T> r:
                r.Forward(y, x, mask, s0, batch, seqLen);
                CopyLastStep(_final, y, batch, seqLen);
                break;
            case Gru<T> g:
                g.Forward(y, x, mask, s0, batch, seqLen);
                g.FinalH.CopyTo(_final);
                break;
            case Lstm<T> l:
            {
                int n = batch * HiddenSize;
                l.Forward(y, x, mask, s0.IsEmpty ? default : s0[..n], s0.IsEmpty ? default : s0[n..], batch, seqLen);
                l.FinalH.CopyTo(_final.AsSpan(0, n));
                l.FinalC.CopyTo(_final.AsSpan(n, n));
                break;
            }
        }
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
        switch (Layer)
        {
            case SimpleRnn<T> r:
                // h_T is the output at the last scanned step: its gradient joins dy there.
                if (dsT.IsEmpty && !dy.IsEmpty) { r.Backward(dx, ds0, dy, batch, seqLen); break; }
                if (dy.IsEmpty) Array.Clear(_dy); else dy.CopyTo(_dy);
                if (!dsT.IsEmpty) AddLastStep(_dy, dsT, batch, seqLen);
                r.Backward(dx, ds0, _dy, batch, seqLen);
                break;
            case Gru<T> g:
                if (dy.IsEmpty) { Array.Clear(_dy); dy = _dy; }
                g.Backward(dx, ds0, dy, dsT, batch, seqLen);
                break;
            case Lstm<T> l:
            {
                int n = batch * HiddenSize;
                if (dy.IsEmpty) { Array.Clear(_dy); dy = _dy; }
                l.Backward(dx, ds0.IsEmpty ? default : ds0[..n], ds0.IsEmpty ? default : ds0[n..], dy,
                    dsT.IsEmpty ? default : dsT[..n], dsT.IsEmpty ? default : dsT[n..], batch, seqLen);
                break;
            }
        }
    }

    // The final h is y at the last scanned step: t = S−1 forwards, t = 0 backwards; all of y without sequences.
    private int LastStep(int seqLen) => Layer.Backwards ? 0 : seqLen - 1;

    private void CopyLastStep(Span<T> h, ReadOnlySpan<T> y, int batch, int seqLen)
    {
        int H = HiddenSize;
        if (!Layer.ReturnSequences) { y.CopyTo(h); return; }
        int t = LastStep(seqLen);
        for (int b = 0; b < batch; b++) y.Slice((b * seqLen + t) * H, H).CopyTo(h.Slice(b * H, H));
    }

    private void AddLastStep(Span<T> dy, ReadOnlySpan<T> dh, int batch, int seqLen)
    {
        int H = HiddenSize;
        if (!Layer.ReturnSequences) { Vec.Add(dy, dh); return; }
        int t = LastStep(seqLen);
        for (int b = 0; b < batch; b++) Vec.Add(dy.Slice((b * seqLen + t) * H, H), dh.Slice(b * H, H));
    }
}
