using System.Numerics;
using Rnn.Init;

namespace Rnn.Layers;

/// <summary>
/// What every recurrent layer (SimpleRnn, Lstm, Gru) is: a cell run by the one <see cref="RecurrentScan{T, TCell}"/>,
/// the sizes, the options every recurrent layer has, one state API, and the PyTorch-named parameters weight_ih
/// (G·H, I), weight_hh (G·H, P), bias_ih (G·H), optionally bias_hh (G·H) and h0 (P), where G is the layer's number of
/// gate blocks (1; LSTM i, f, g, o; GRU r, z, n), registered in that order. P = H unless an LSTM projects its output.
/// </summary>
public abstract class RecurrentLayer<T> : Layer<T>, IRecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentOptions _common;

    /// <summary>Input features I.</summary>
    public int InputSize { get; }
    /// <summary>Output features P: the width of h (H, or an LSTM's projection size).</summary>
    public int HiddenSize { get; }
    /// <summary>Cell units H: the width of the gates' blocks and of an LSTM's c.</summary>
    public int CellSize { get; }

    /// <summary>(G·H, I): the gate blocks in the layer's order.</summary>
    public Parameter<T> WeightIh { get; }
    /// <summary>(G·H, P).</summary>
    public Parameter<T> WeightHh { get; }
    /// <summary>(G·H).</summary>
    public Parameter<T> BiasIh { get; }
    /// <summary>(G·H), only with <see cref="RecurrentOptions.TwoBiases"/>.</summary>
    public Parameter<T>? BiasHh { get; }
    /// <summary>(P), only with <see cref="InitialState.Learned"/>.</summary>
    public Parameter<T>? H0 { get; }
    /// <summary>(H), an LSTM's learned initial cell state; null otherwise.</summary>
    public Parameter<T>? C0 { get; private protected set; }

    /// <summary>
    /// Source of the dropout masks, drawn at each training Forward. Seeded from the constructor's generator;
    /// assign a fresh <c>new Rng(seed)</c> before a Forward to reproduce its masks exactly.
    /// </summary>
    public Rng DropoutRng { get; set; } = new Rng(0);
    /// <summary>When true, a training Forward reuses the dropout masks of the previous one instead of drawing (same batch size required).</summary>
    public bool ReuseDropoutMasks { get; set; }

    /// <summary>Checks the sizes and the shared options and registers the parameters above, zero-filled.</summary>
    private protected RecurrentLayer(int inputSize, int hiddenSize, int cellSize, int gates, RecurrentOptions options, string suffix)
    {
        Guard.AtLeast(inputSize, 1);
        Guard.AtLeast(hiddenSize, 1);
        Guard.AtLeast(cellSize, 1);
        // Every parameter and every per-row buffer must be indexable: checked here, before anything is allocated.
        long gh = (long)gates * cellSize;
        if (gh * Math.Max(inputSize, hiddenSize) > Array.MaxLength || (long)hiddenSize * cellSize > Array.MaxLength)
            throw new ArgumentOutOfRangeException(gh * inputSize > Array.MaxLength && inputSize >= cellSize ? nameof(inputSize) : nameof(hiddenSize),
                $"hiddenSize: expected {gates}·H·max(I, P) ≤ {Array.MaxLength} elements per weight, got H = {cellSize}, I = {inputSize}, P = {hiddenSize}.");
        ArgumentNullException.ThrowIfNull(options);
        if (options.GradientSteps == 0 || options.GradientSteps < -1)
            throw new ArgumentException($"options.GradientSteps: expected -1 or >= 1, got {options.GradientSteps}.", nameof(options));
        _common = options;
        InputSize = inputSize; HiddenSize = hiddenSize; CellSize = cellSize;
        int G = gates * cellSize;
        WeightIh = Add(new Parameter<T>("weight_ih" + suffix, [G, inputSize]));
        WeightHh = Add(new Parameter<T>("weight_hh" + suffix, [G, hiddenSize]));
        BiasIh = Add(new Parameter<T>("bias_ih" + suffix, [G]));
        if (options.TwoBiases) BiasHh = Add(new Parameter<T>("bias_hh" + suffix, [G]));
        if (options.InitialState == InitialState.Learned) H0 = Add(new Parameter<T>("h0" + suffix, [hiddenSize]));
    }

    internal RecurrentOptions CommonOptions => _common;
    internal virtual double DropoutRate => 0;
    internal virtual double RecurrentDropoutRate => 0;

    /// <summary>True when the layer scans time from the last step to the first.</summary>
    public bool Backwards => _common.Backwards;
    /// <summary>True when the output holds every step's h, false for the final one only.</summary>
    public bool ReturnSequences => _common.ReturnSequences;
    /// <summary>Where the state at t = −1 comes from.</summary>
    public InitialState InitialState => _common.InitialState;
    /// <summary>State tensors: 1 (h), or 2 (h, c) for an LSTM.</summary>
    public abstract int StateCount { get; }

    /// <summary>Elements of state k for a batch: batch·P for h (k = 0), batch·H for c (k = 1).</summary>
    public int StateLength(int batch, int k) => k == 0 ? batch * HiddenSize : k == 1 && StateCount == 2 ? batch * CellSize
        : throw new ArgumentOutOfRangeException(nameof(k), $"k: expected 0..{StateCount - 1}, got {k}.");

    /// <summary>Output elements per sequence: seq·P with ReturnSequences, else P.</summary>
    public int OutputLength(int seqLen) => _common.ReturnSequences ? seqLen * HiddenSize : HiddenSize;

    /// <summary>
    /// Rows per time-loop participant from which the input projection x·W_ihᵀ runs per step, into the gates the
    /// step's GEMM and cell then use while they are in cache, instead of as one GEMM over all steps first (whose
    /// (S·B, G·H) output goes out to memory and comes back a step at a time), while the packed W_ihᵀ is at most
    /// <see cref="RecurrentTuning.StepInputMaxBytes"/> (it then stays in cache beside W_hh). Both give the same bits.
    /// </summary>
    internal bool InputPerStep(int batch, int gateRows) =>
        typeof(T) == typeof(float) && batch / Kernels.WorkerPool.RowChunks(batch) >= Tuning.StepInputMinRows
        && (long)gateRows * InputSize * sizeof(float) <= Tuning.StepInputMaxBytes;

    /// <summary>The read-only tuning of this layer's scan (<see cref="RecurrentTuning.Default"/> unless set at construction).</summary>
    public RecurrentTuning Tuning { get; init; } = RecurrentTuning.Default;

    private protected abstract IScan<T> Scan { get; }

    /// <summary>
    /// Runs the layer over a batch and, while <see cref="Layer{T}.Training"/>, records the tape for Backward
    /// (inference keeps only what the next step needs).
    /// y: (batch, seq, P) or (batch, P), overwritten. x: (batch, seq, I). mask: (batch, seq) of 0/1, or empty.
    /// h0 (batch, P) and, for an LSTM, c0 (batch, H) when InitialState is Given, else empty.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Scan.Forward(y, x, mask, h0, c0, batch, seqLen);

    /// <summary>
    /// Backpropagates through time from the last recorded Forward (once per Forward). dy has y's shape. dhT (batch, P)
    /// and dcT (batch, H, LSTM only): gradients at <see cref="FinalH"/> and <see cref="FinalC"/>, or empty. Accumulates
    /// into every parameter gradient, into dx (batch, seq, I) if not empty, and into dh0, dc0 (InitialState.Given) if not empty.
    /// </summary>
    public void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
        => Scan.Backward(dx, dh0, dc0, dy, dhT, dcT, batch, seqLen);

    /// <inheritdoc/>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Scan.Forward(y, x, mask, default, default, batch, seqLen);

    /// <summary>
    /// Runs the layer over a packed batch (PyTorch's pack_padded_sequence with enforce_sorted=False): x (batch, seq, I)
    /// post-padded, lengths (batch) each in 1..seq, in any order (the scan sorts the rows itself). Each row runs only
    /// its own real steps t &lt; lengths[b], forward and in Backward; scanning backwards it starts at its own last real
    /// step. y at padded steps: zeros with <see cref="PaddedOutput.Zero"/>, else what the masked scan gives for the same
    /// post-padded batch (the final state scanning forwards, the initial state scanning backwards). FinalH/FinalC: each
    /// row's state after its own last real step. h0, c0 as in Forward. Backward takes no lengths: it follows this Forward.
    /// </summary>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Scan.ForwardPacked(y, x, lengths, h0, c0, batch, seqLen);

    /// <inheritdoc/>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, int batch, int seqLen)
        => Scan.ForwardPacked(y, x, lengths, default, default, batch, seqLen);

    /// <inheritdoc/>
    public BatchPadding Padding => Scan.Padding;
    /// <inheritdoc/>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Scan.Backward(dx, default, default, dy, default, default, batch, seqLen);

    /// <summary>h after the last scanned step of the last Forward, (batch, P). Owned by the layer; valid until the next Forward.</summary>
    public ReadOnlySpan<T> FinalH => Scan.FinalH;
    /// <summary>c after the last scanned step of the last Forward, (batch, H); empty for a layer without a cell state.</summary>
    public ReadOnlySpan<T> FinalC => Scan.FinalC;

    /// <summary>
    /// A streaming state for <paramref name="batch"/> rows: the weights packed once at <paramref name="precision"/>
    /// (float32: Forward's bits; bf16 and int8 need a float layer), the initial state set.
    /// </summary>
    public RecurrentState<T> NewStream(int batch = 1, WeightPrecision precision = WeightPrecision.Float32)
    {
        Guard.AtLeast(batch, 1);
        if (!Enum.IsDefined(precision)) throw new ArgumentOutOfRangeException(nameof(precision), $"precision: expected Float32, BFloat16 or Int8, got {(int)precision}.");
        if (precision != WeightPrecision.Float32 && typeof(T) != typeof(float))
            throw new NotSupportedException($"precision: {precision} weights need a float layer, got {typeof(T).Name}.");
        return new RecurrentState<T>(this, Scan.NewStream(batch, precision), batch);
    }

    /// <summary>
    /// One inference step (dropout off) for streaming callers: x (batch, I) in; the stream's state moves one step and
    /// its <see cref="RecurrentState{T}.H"/> is this step's output. The scan's own step code with seq = 1, so a
    /// sequence of Steps gives Forward's bits. Reads only the weights (as packed at the stream's last Reset): one
    /// layer can serve many threads, each with its own stream.
    /// </summary>
    public void Step(RecurrentState<T> stream, ReadOnlySpan<T> x)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!ReferenceEquals(stream.Owner, this)) throw new ArgumentException("stream: expected a stream made by this layer's NewStream, got another layer's.", nameof(stream));
        if (x.Length != stream.Batch * InputSize) Guard.Length(x.Length, stream.Batch * InputSize, $"(batch={stream.Batch}, features={InputSize})", nameof(x));
        Guard.Finite(x);
        Scan.Step(stream.Arena, x);
    }

    internal void ResetStream(RecurrentState<T> s) => Scan.ResetStream(s.Arena);

    /// <summary>A step from the input projection x·W_ihᵀ (batch, G·H) instead of x (a token table's rows).</summary>
    internal void StepProjected(RecurrentState<T> s, ReadOnlySpan<T> xProj) => Scan.StepProjected(s.Arena, xProj);

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() { Scan.Dispose(); GC.SuppressFinalize(this); }
}

/// <summary>The non-generic face of a layer's scan, called once per Forward or Backward (never per step).</summary>
internal interface IScan<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen);
    void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen);
    BatchPadding Padding { get; }
    void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen);
    ReadOnlySpan<T> FinalH { get; }
    ReadOnlySpan<T> FinalC { get; }
    ScanArena<T> NewStream(int batch, WeightPrecision precision);
    void ResetStream(ScanArena<T> a);
    void Step(ScanArena<T> a, ReadOnlySpan<T> x);
    void StepProjected(ScanArena<T> a, ReadOnlySpan<T> xProj);
}

/// <summary>
/// A streaming caller's state for one recurrent layer: h (batch, P), c (batch, H) for an LSTM, and the step's scratch
/// and packed weights. Made by <see cref="RecurrentLayer{T}.NewStream"/>; each thread holds its own.
/// </summary>
public sealed class RecurrentState<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    internal readonly RecurrentLayer<T> Owner;
    internal readonly ScanArena<T> Arena;

    /// <summary>Rows this stream serves.</summary>
    public int Batch { get; }

    internal RecurrentState(RecurrentLayer<T> owner, ScanArena<T> arena, int batch) { Owner = owner; Arena = arena; Batch = batch; }

    /// <summary>The current h (batch, P): the last step's output. Writable, to set a state.</summary>
    public Span<T> H => Arena.Step(Arena.H, 0);
    /// <summary>The current c (batch, H) of an LSTM; empty otherwise. Writable.</summary>
    public Span<T> C => Arena.C.Length == 0 ? default : Arena.Step(Arena.C, 0);

    /// <summary>Back to the initial state, re-packing the layer's current weights.</summary>
    public void Reset() => Owner.ResetStream(this);

    /// <summary>Returns the pooled buffers; the state cannot step afterwards.</summary>
    public void Dispose() => Arena.Dispose();
}

/// <summary>
/// Read-only tuning of the recurrent scan. The defaults are measured on the standard workloads
/// (docs/BENCHMARKS.md); a layer takes another policy at construction (<c>new Lstm(...) { Tuning = ... }</c>).
/// </summary>
public sealed record RecurrentTuning
{
    /// <summary>The measured defaults.</summary>
    public static RecurrentTuning Default { get; } = new();
    /// <summary>Rows per thread from which the input projection runs per step (see RecurrentLayer.InputPerStep). int.MaxValue: never.</summary>
    public int StepInputMinRows { get; init; } = 32;
    /// <summary>Largest packed W_ihᵀ, in bytes, that is projected per step.</summary>
    public int StepInputMaxBytes { get; init; } = 256 << 10;
}
