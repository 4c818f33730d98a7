using System.Numerics;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>How <see cref="Bidirectional{T}"/> merges its two directions.</summary>
public enum MergeMode
{
    /// <summary>[forward | backward] on the feature axis: 2H features.</summary>
    Concat,
    /// <summary>forward + backward: H features.</summary>
    Sum,
    /// <summary>(forward + backward) / 2: H features.</summary>
    Mean,
}

/// <summary>
/// Runs a forward-scanning and a backward-scanning recurrent layer over the same input and merges their
/// outputs (Keras's Bidirectional). Works with any <see cref="IRecurrentLayer{T}"/>. Both layers must take the
/// same input size, have the same hidden size and output mode, and the second must have Backwards set.
/// With ReturnSequences the output is (batch, seq, H') aligned on the input's time axis; otherwise (batch, H'),
/// each direction's final state (for the backward layer, the state after x_0, as in Keras and Lasagne).
/// PyTorch names the second direction's parameters with the suffix "_reverse".
/// </summary>
public sealed class Bidirectional<T> : IRecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The forward-scanning layer (owned).</summary>
    public IRecurrentLayer<T> Forwards { get; }
    /// <summary>The backward-scanning layer (owned).</summary>
    public IRecurrentLayer<T> BackwardsLayer { get; }
    /// <summary>The merge mode.</summary>
    public MergeMode Merge { get; }

    private readonly Tape<T> _tape = new();
    private Slot _yf, _yb, _dyf, _dyb, _hT, _cT; // shapes in Forward

    /// <summary>Wraps two layers; takes ownership of both.</summary>
    public Bidirectional(IRecurrentLayer<T> forwards, IRecurrentLayer<T> backwards, MergeMode merge = MergeMode.Concat)
    {
        if (forwards.Backwards) throw new ArgumentException("forwards: expected a layer with Backwards = false, got Backwards = true.", nameof(forwards));
        if (!backwards.Backwards) throw new ArgumentException("backwards: expected a layer with Backwards = true, got Backwards = false.", nameof(backwards));
        if (forwards.InputSize != backwards.InputSize)
            throw new ArgumentException($"backwards: expected InputSize {forwards.InputSize} like the forward layer, got {backwards.InputSize}.", nameof(backwards));
        if (forwards.HiddenSize != backwards.HiddenSize)
            throw new ArgumentException($"backwards: expected HiddenSize {forwards.HiddenSize} like the forward layer, got {backwards.HiddenSize}.", nameof(backwards));
        if (forwards.ReturnSequences != backwards.ReturnSequences)
            throw new ArgumentException($"backwards: expected ReturnSequences {forwards.ReturnSequences} like the forward layer, got {backwards.ReturnSequences}.", nameof(backwards));
        if (forwards.StateCount != backwards.StateCount || forwards.InitialState != backwards.InitialState)
            throw new ArgumentException($"backwards: expected the forward layer's state kind ({forwards.StateCount} state(s), InitialState.{forwards.InitialState}), got {backwards.StateCount}, InitialState.{backwards.InitialState}.", nameof(backwards));
        Forwards = forwards; BackwardsLayer = backwards; Merge = merge;
        Parameters = forwards.Parameters.Concat(backwards.Parameters).ToArray();
    }

    /// <inheritdoc/>
    public int InputSize => Forwards.InputSize;
    /// <summary>Output features: 2H for Concat, H otherwise.</summary>
    public int HiddenSize => Merge == MergeMode.Concat ? 2 * Forwards.HiddenSize : Forwards.HiddenSize;
    /// <summary>Always false: the wrapper as a whole reads the sequence in both directions.</summary>
    public bool Backwards => false;
    /// <inheritdoc/>
    public bool ReturnSequences => Forwards.ReturnSequences;
    /// <inheritdoc/>
    public IReadOnlyList<Parameter<T>> Parameters { get; }
    /// <inheritdoc/>
    public bool Training
    {
        get => Forwards.Training;
        set { Forwards.Training = value; BackwardsLayer.Training = value; }
    }
    /// <inheritdoc/>
    public int OutputLength(int seqLen) => ReturnSequences ? seqLen * HiddenSize : HiddenSize;

    /// <inheritdoc/>
    public int StateCount => Forwards.StateCount;
    /// <inheritdoc/>
    public InitialState InitialState => Forwards.InitialState;
    /// <summary>Elements of state k: (2, batch, width), the forward direction first.</summary>
    public int StateLength(int batch, int k) => Forwards.StateLength(batch, k) + BackwardsLayer.StateLength(batch, k);

    /// <inheritdoc/>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Forward(y, x, mask, default, default, batch, seqLen);

    /// <summary>
    /// Runs both directions. h0, c0: (2, batch, width) each when InitialState is Given (the forward direction's
    /// first, as one layer's slice of PyTorch's (layers·dirs, batch, H)), else empty.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, mask, default, false, h0, c0, batch, seqLen);

    /// <inheritdoc/>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, int batch, int seqLen)
        => Run(y, x, default, lengths, true, default, default, batch, seqLen);

    /// <summary>
    /// Runs both directions over a packed batch (lengths (batch), each in 1..seq, any order): the backward direction
    /// starts each row at its own last real step. h0, c0 as in Forward.
    /// </summary>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, default, lengths, true, h0, c0, batch, seqLen);

    /// <inheritdoc/>
    public BatchPadding Padding => Forwards.Padding;

    private void Run(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        Guard.Length(y.Length, batch * OutputLength(seqLen), $"(batch={batch}{(ReturnSequences ? $", seq={seqLen}" : "")}, {HiddenSize})");
        int hf = Forwards.StateLength(batch, 0), cf = StateCount == 2 ? Forwards.StateLength(batch, 1) : 0;
        if (!h0.IsEmpty && h0.Length != StateLength(batch, 0)) Guard.Length(h0.Length, StateLength(batch, 0), $"(2, batch={batch}, H={Forwards.HiddenSize})", nameof(h0));
        if (!c0.IsEmpty && c0.Length != StateLength(batch, StateCount - 1)) Guard.Length(c0.Length, StateLength(batch, StateCount - 1), $"(2, batch={batch}, H)", nameof(c0));
        int rows = ReturnSequences ? batch * seqLen : batch, h = Forwards.HiddenSize;
        if (_tape.Begin(batch, seqLen))
        {
            _yf = _tape.Add("yf", rows, h);   // (rows, H) forward output
            _yb = _tape.Add("yb", rows, h);   // (rows, H) backward output
            _dyf = _tape.Add("dyf", rows, h); // (rows, H)
            _dyb = _tape.Add("dyb", rows, h); // (rows, H)
            _hT = _tape.Add("hT", 1, StateLength(batch, 0)); // (2, B, H) both directions' final h
            _cT = _tape.Add("cT", 1, StateCount == 2 ? StateLength(batch, 1) : 0); // (2, B, H) final c
            _tape.Commit();
        }
        var yf = _tape[_yf]; var yb = _tape[_yb];
        if (packed)
        {
            Forwards.ForwardPacked(yf, x, lengths, h0.IsEmpty ? default : h0[..hf], c0.IsEmpty ? default : c0[..cf], batch, seqLen);
            BackwardsLayer.ForwardPacked(yb, x, lengths, h0.IsEmpty ? default : h0[hf..], c0.IsEmpty ? default : c0[cf..], batch, seqLen);
        }
        else
        {
            Forwards.Forward(yf, x, mask, h0.IsEmpty ? default : h0[..hf], c0.IsEmpty ? default : c0[..cf], batch, seqLen);
            BackwardsLayer.Forward(yb, x, mask, h0.IsEmpty ? default : h0[hf..], c0.IsEmpty ? default : c0[cf..], batch, seqLen);
        }
        var hT = _tape[_hT];
        Forwards.FinalH.CopyTo(hT); BackwardsLayer.FinalH.CopyTo(hT[hf..]);
        if (StateCount == 2) { var cT = _tape[_cT]; Forwards.FinalC.CopyTo(cT); BackwardsLayer.FinalC.CopyTo(cT[cf..]); }
        if (Merge == MergeMode.Concat) { Concat.Forward<T>(y, yf, yb, rows, h, h); return; }
        T k = Merge == MergeMode.Mean ? T.CreateTruncating(0.5) : T.One;
        for (int i = 0; i < y.Length; i++) y[i] = k * (yf[i] + yb[i]);
    }

    /// <summary>(2, batch, H): each direction's h after its last scanned step (the backward one's after x_0).</summary>
    public ReadOnlySpan<T> FinalH => _tape.Batch < 0 ? throw new InvalidOperationException("FinalH: no Forward has run yet.") : _tape[_hT];
    /// <summary>(2, batch, H): each direction's final c (LSTM), else empty.</summary>
    public ReadOnlySpan<T> FinalC => _tape.Batch < 0 ? throw new InvalidOperationException("FinalC: no Forward has run yet.") : _tape[_cT];

    /// <inheritdoc/>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, default, default, dy, default, default, batch, seqLen);

    /// <summary>Backward through both directions; dhT, dcT (2, batch, width) or empty in; dh0, dc0 (2, batch, width) or empty out.</summary>
    public void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
    {
        if (_tape.Batch != batch || _tape.SeqLen != seqLen)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={seqLen}), got (batch={batch}, seq={seqLen}).");
        Guard.Length(dy.Length, batch * OutputLength(seqLen), $"y's shape");
        int hl = StateLength(batch, 0), cl = StateCount == 2 ? StateLength(batch, 1) : 0;
        if (!dhT.IsEmpty) Guard.Length(dhT.Length, hl, $"(2, batch={batch}, H)");
        if (!dh0.IsEmpty) Guard.Length(dh0.Length, hl, $"(2, batch={batch}, H)");
        if (!dcT.IsEmpty) Guard.Length(dcT.Length, cl, $"(2, batch={batch}, H)");
        if (!dc0.IsEmpty) Guard.Length(dc0.Length, cl, $"(2, batch={batch}, H)");
        int hf = Forwards.StateLength(batch, 0), cf = StateCount == 2 ? Forwards.StateLength(batch, 1) : 0;
        int rows = ReturnSequences ? batch * seqLen : batch, h = Forwards.HiddenSize;
        var dyf = _tape[_dyf]; var dyb = _tape[_dyb];
        if (Merge == MergeMode.Concat) { dyf.Clear(); dyb.Clear(); Concat.Backward<T>(dyf, dyb, dy, rows, h, h); }
        else
        {
            T k = Merge == MergeMode.Mean ? T.CreateTruncating(0.5) : T.One;
            for (int i = 0; i < dy.Length; i++) { dyf[i] = k * dy[i]; dyb[i] = k * dy[i]; }
        }
        Forwards.Backward(dx, dh0.IsEmpty ? default : dh0[..hf], dc0.IsEmpty ? default : dc0[..cf], dyf,
            dhT.IsEmpty ? default : dhT[..hf], dcT.IsEmpty ? default : dcT[..cf], batch, seqLen);
        BackwardsLayer.Backward(dx, dh0.IsEmpty ? default : dh0[hf..], dc0.IsEmpty ? default : dc0[cf..], dyb,
            dhT.IsEmpty ? default : dhT[hf..], dcT.IsEmpty ? default : dcT[cf..], batch, seqLen);
    }

    /// <inheritdoc/>
    public void ZeroGrad() { Forwards.ZeroGrad(); BackwardsLayer.ZeroGrad(); }

    /// <summary>Disposes both layers and the tape.</summary>
    public void Dispose() { Forwards.Dispose(); BackwardsLayer.Dispose(); _tape.Dispose(); }
}
