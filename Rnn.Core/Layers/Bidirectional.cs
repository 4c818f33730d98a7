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
    private Slot _yf, _yb, _dyf, _dyb; // each (batch, OutputLength/… of one direction)

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
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        Guard.Length(y.Length, batch * OutputLength(seqLen), $"(batch={batch}{(ReturnSequences ? $", seq={seqLen}" : "")}, {HiddenSize})");
        int rows = ReturnSequences ? batch * seqLen : batch, h = Forwards.HiddenSize;
        if (_tape.Begin(batch, seqLen))
        {
            _yf = _tape.Add("yf", rows, h);   // (rows, H) forward output
            _yb = _tape.Add("yb", rows, h);   // (rows, H) backward output
            _dyf = _tape.Add("dyf", rows, h); // (rows, H)
            _dyb = _tape.Add("dyb", rows, h); // (rows, H)
            _tape.Commit();
        }
        var yf = _tape[_yf]; var yb = _tape[_yb];
        Forwards.Forward(yf, x, mask, batch, seqLen);
        BackwardsLayer.Forward(yb, x, mask, batch, seqLen);
        if (Merge == MergeMode.Concat) { Concat.Forward<T>(y, yf, yb, rows, h, h); return; }
        T k = Merge == MergeMode.Mean ? T.CreateTruncating(0.5) : T.One;
        for (int i = 0; i < y.Length; i++) y[i] = k * (yf[i] + yb[i]);
    }

    /// <inheritdoc/>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
    {
        if (_tape.Batch != batch || _tape.SeqLen != seqLen)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={_tape.SeqLen}), got (batch={batch}, seq={seqLen}).");
        Guard.Length(dy.Length, batch * OutputLength(seqLen), $"y's shape");
        int rows = ReturnSequences ? batch * seqLen : batch, h = Forwards.HiddenSize;
        var dyf = _tape[_dyf]; var dyb = _tape[_dyb];
        if (Merge == MergeMode.Concat) { dyf.Clear(); dyb.Clear(); Concat.Backward<T>(dyf, dyb, dy, rows, h, h); }
        else
        {
            T k = Merge == MergeMode.Mean ? T.CreateTruncating(0.5) : T.One;
            for (int i = 0; i < dy.Length; i++) { dyf[i] = k * dy[i]; dyb[i] = k * dy[i]; }
        }
        Forwards.Backward(dx, dyf, batch, seqLen);
        BackwardsLayer.Backward(dx, dyb, batch, seqLen);
    }

    /// <summary>Not streamable: the backward direction needs the whole sequence first.</summary>
    public int StateSize => 0;
    /// <summary>Not streamable.</summary>
    public int StepScratchSize => 0;
    /// <summary>Throws <see cref="NotSupportedException"/>: a bidirectional layer cannot run one step at a time.</summary>
    public void InitState(Span<T> state, int batch) => throw NotStreamable();
    /// <summary>Throws <see cref="NotSupportedException"/>: a bidirectional layer cannot run one step at a time.</summary>
    public void Step(Span<T> state, ReadOnlySpan<T> x, Span<T> scratch, int batch) => throw NotStreamable();
    private static NotSupportedException NotStreamable()
        => new("Bidirectional: streaming Step is not possible, the backward direction reads the sequence from its end; use Forward on whole sequences.");

    /// <inheritdoc/>
    public void ZeroGrad() { Forwards.ZeroGrad(); BackwardsLayer.ZeroGrad(); }

    /// <summary>Disposes both layers and the tape.</summary>
    public void Dispose() { Forwards.Dispose(); BackwardsLayer.Dispose(); _tape.Dispose(); }
}
