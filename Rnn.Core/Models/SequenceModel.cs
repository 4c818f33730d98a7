using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// A sequential stack built from a <see cref="ModelSpec"/>: [Embedding] → recurrent layers (dropout between)
/// → [Dropout] → Dense head, on the final state or at every step. Training runs Forward then Backward
/// (BPTT through every layer's tape); buffers are allocated once per (batch, seq) so a steady-state training
/// step allocates nothing. Parameter names follow PyTorch: "embedding.weight", "rnn.weight_ih_l0",
/// "rnn.weight_hh_l1_reverse", "fc.weight", "fc.bias".
/// </summary>
public sealed class SequenceModel<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The architecture.</summary>
    public ModelSpec Spec { get; }
    /// <summary>The token embedding, when the input is tokens.</summary>
    public Embedding<T>? Embedding { get; }
    /// <summary>The recurrent layers, bottom first (each may be a <see cref="Bidirectional{T}"/>).</summary>
    public IReadOnlyList<IRecurrentLayer<T>> Recurrent { get; }
    /// <summary>The head.</summary>
    public Dense<T> Head { get; }
    /// <summary>Every parameter with its checkpoint name, in a fixed order.</summary>
    public IReadOnlyList<(string Name, Parameter<T> Parameter)> NamedParameters { get; }
    /// <summary>Every parameter, in the order of <see cref="NamedParameters"/>.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    private readonly Rng _dropRng; // every dropout mask of the model comes from here
    private readonly Dropout<T>?[] _between; // after layer k (k < L−1)
    private readonly Dropout<T>? _headDrop;
    private int _batch = -1, _seq = -1;
    private T[] _emb = [], _dEmb = [], _mask = [], _headIn = [], _dHeadIn = [], _out = [], _dOut = [];
    private T[][] _ys = [], _dys = [], _drop = [], _dDrop = [];

    /// <summary>
    /// Builds the model with weights drawn from <paramref name="rng"/>; null leaves every parameter at zero, for a
    /// caller that writes them all (loading a checkpoint), skipping the cost of initialisation.
    /// </summary>
    public SequenceModel(ModelSpec spec, Rng? rng)
    {
        spec.Validate();
        Spec = spec;
        _dropRng = new Rng(rng?.NextUInt64() ?? 0);
        var named = new List<(string, Parameter<T>)>();
        if (spec.Vocab > 0)
        {
            Embedding = new Embedding<T>(spec.Vocab, spec.EmbeddingDim, rng, spec.MaskZero);
            named.Add(("embedding.weight", Embedding.Weight));
        }
        if (spec.Layers == 0 && !spec.PerStep)
            throw new ArgumentException("ModelSpec.PerStep: expected true when Layers = 0 (a Dense per position), got false.", nameof(spec));
        var layers = new List<IRecurrentLayer<T>>();
        int inSize = spec.FeatureSize;
        for (int k = 0; k < spec.Layers; k++)
        {
            bool seq = k < spec.Layers - 1 || spec.PerStep;
            IRecurrentLayer<T> l = Make(spec, inSize, false, seq, $"_l{k}", rng, _dropRng);
            if (spec.Bidirectional) l = new Bidirectional<T>(l, Make(spec, inSize, true, seq, $"_l{k}_reverse", rng, _dropRng));
            layers.Add(l);
            foreach (var p in l.Parameters) named.Add(("rnn." + p.Name, p));
            inSize = l.HiddenSize;
        }
        Recurrent = layers;
        _between = new Dropout<T>?[Math.Max(spec.Layers - 1, 0)];
        for (int k = 0; k < _between.Length; k++) if (spec.DropoutBetween > 0) _between[k] = new Dropout<T>(spec.DropoutBetween, _dropRng);
        if (spec.HeadDropout > 0) _headDrop = new Dropout<T>(spec.HeadDropout, _dropRng);
        Head = new Dense<T>(spec.RecurrentOutputSize, spec.OutputSize, rng, spec.OutputActivation);
        named.Add(("fc.weight", Head.Weight));
        named.Add(("fc.bias", Head.Bias));
        NamedParameters = named;
        Parameters = named.Select(n => n.Item2).ToArray();
    }

    /// <summary>Restarts the dropout mask sequence (e.g. so finite-difference checks see the same masks every pass).</summary>
    public void ReseedDropout(ulong seed) => _dropRng.Reset(seed);

    private static IRecurrentLayer<T> Make(ModelSpec s, int input, bool backwards, bool sequences, string suffix, Rng? rng, Rng dropRng)
    {
        bool torch = s.Init == InitScheme.PyTorch;
        IRecurrentLayer<T> l = s.Cell switch
        {
            CellKind.RnnTanh or CellKind.RnnRelu => new SimpleRnn<T>(input, s.Hidden, rng, new SimpleRnnOptions
            {
                Activation = s.Cell == CellKind.RnnRelu ? Activation.Relu : Activation.Tanh,
                Backwards = backwards, ReturnSequences = sequences, TwoBiases = torch, Init = torch ? InitScheme.PyTorch : null,
            }, suffix),
            CellKind.Lstm => new Lstm<T>(input, s.Hidden, rng, new LstmOptions
            {
                Backwards = backwards, ReturnSequences = sequences, TwoBiases = torch, UnitForgetBias = !torch,
                Init = torch ? InitScheme.PyTorch : InitScheme.Keras, Dropout = s.InputDropout, RecurrentDropout = s.RecurrentDropout,
            }, suffix)
            { DropoutRng = dropRng },
            _ => new Gru<T>(input, s.Hidden, rng, new GruOptions
            {
                Backwards = backwards, ReturnSequences = sequences, TwoBiases = torch || s.Cell == CellKind.Gru, ResetAfter = s.Cell == CellKind.Gru,
                Init = torch ? InitScheme.PyTorch : InitScheme.Keras, Dropout = s.InputDropout, RecurrentDropout = s.RecurrentDropout,
            }, suffix)
            { DropoutRng = dropRng },
        };
        return l;
    }

    /// <summary>Training mode: dropout on. Set false for evaluation and inference.</summary>
    public bool Training
    {
        get => Head.Training;
        set
        {
            Head.Training = value;
            if (Embedding != null) Embedding.Training = value;
            for (int k = 0; k < Recurrent.Count; k++) Recurrent[k].Training = value; // no boxed enumerator: set every epoch
            foreach (var d in _between) if (d != null) d.Training = value;
            if (_headDrop != null) _headDrop.Training = value;
        }
    }

    /// <summary>Rows of the output: batch·seq per step, batch for the final state.</summary>
    public int OutputRows(int batch, int seqLen) => Spec.PerStep ? batch * seqLen : batch;

    // True from a training-mode Forward to the Backward that consumes it: a second Backward, or one after an
    // evaluation Forward, is refused before the head adds its gradient.
    private bool _backwardReady;

    // Checked before any buffer is sized: every per-call buffer is at most batch·seq rows of the widest row
    // (the gates of a direction, G·H), so one bound in long arithmetic keeps every later int product exact.
    private void CheckSizes(int batch, int seqLen)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch: expected >= 1, got {batch}.");
        if (seqLen < 1) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, $"seqLen: expected >= 1, got {seqLen}.");
        int gates = Spec.Cell switch { CellKind.Lstm => 4, CellKind.Gru or CellKind.GruResetBefore => 3, _ => 1 };
        long width = Math.Max(Math.Max(Spec.FeatureSize, Spec.OutputSize), Spec.Layers > 0 ? (long)gates * Spec.Hidden * (Spec.Bidirectional ? 2 : 1) : 0);
        long rows = (long)batch * seqLen;
        if (rows > Array.MaxLength / width)
            throw new ArgumentOutOfRangeException(nameof(batch), batch,
                $"batch: expected batch·seqLen·{width} (the widest row) <= {Array.MaxLength} elements, got batch={batch}, seqLen={seqLen} ({(Int128)rows * width} elements).");
    }

    private void Ensure(int batch, int seq)
    {
        if (batch == _batch && seq == _seq) return;
        _batch = batch; _seq = seq;
        int bs = batch * seq, L = Spec.Layers;
        if (Embedding != null) { _emb = new T[bs * Spec.EmbeddingDim]; _dEmb = new T[_emb.Length]; } // (B, S, E)
        _mask = Spec.MaskZero ? new T[bs] : [];                                                        // (B, S)
        _ys = new T[L][]; _dys = new T[L][]; _drop = new T[L][]; _dDrop = new T[L][];
        for (int k = 0; k < L; k++)
        {
            _ys[k] = new T[batch * Recurrent[k].OutputLength(seq)];                                    // (B, S, Hk) or (B, Hk)
            _dys[k] = new T[_ys[k].Length];
            _drop[k] = k < L - 1 && _between[k] != null ? new T[_ys[k].Length] : [];
            _dDrop[k] = new T[_drop[k].Length];
        }
        int rows = OutputRows(batch, seq);
        _headIn = _headDrop != null ? new T[rows * Spec.RecurrentOutputSize] : [];                      // (rows, F)
        _dHeadIn = new T[rows * Spec.RecurrentOutputSize];
        _out = new T[rows * Spec.OutputSize]; _dOut = new T[_out.Length];                               // (rows, O)
    }

    /// <summary>
    /// Forward on features x (batch, seq, InputSize) with an optional (batch, seq) mask. Returns the output,
    /// (batch, O) or (batch·seq, O) with PerStep, owned by the model and valid until the next call.
    /// </summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (Embedding != null) throw new InvalidOperationException($"Forward: this model takes tokens (vocab {Spec.Vocab}); call Forward(ReadOnlySpan<int> tokens, ...).");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        Guard.Length(x.Length, batch * seqLen * Spec.InputSize, $"(batch={batch}, seq={seqLen}, features={Spec.InputSize})");
        CheckMaskLength(mask, batch, seqLen);
        Ensure(batch, seqLen);
        return Run(x, mask, batch, seqLen);
    }

    /// <summary>Forward on token ids (batch, seq); the mask is derived from token 0 when MaskZero, else optional.</summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (Embedding == null) throw new InvalidOperationException("Forward: this model takes features, not tokens.");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        Guard.Length(tokens.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        CheckMaskLength(mask, batch, seqLen);
        Ensure(batch, seqLen);
        Embedding.Forward(_emb, tokens, batch, seqLen);
        if (Spec.MaskZero)
        {
            if (!mask.IsEmpty) throw new ArgumentException("mask: expected empty when the model derives its mask from token 0 (MaskZero).", nameof(mask));
            Embedding.ComputeMask(_mask, tokens, batch, seqLen);
            mask = _mask;
        }
        return Run(_emb, mask, batch, seqLen);
    }

    private ReadOnlySpan<T> Run(ReadOnlySpan<T> input, ReadOnlySpan<T> mask, int batch, int seq)
    {
        ReadOnlySpan<T> cur = input;
        for (int k = 0; k < Recurrent.Count; k++)
        {
            Recurrent[k].Forward(_ys[k], cur, mask, batch, seq);
            cur = _ys[k];
            if (k < Recurrent.Count - 1 && _between[k] is { } d) { d.Forward(_drop[k], cur, cur.Length); cur = _drop[k]; }
        }
        int rows = OutputRows(batch, seq);
        if (_headDrop != null) { _headDrop.Forward(_headIn, cur, cur.Length); cur = _headIn; }
        Head.Forward(_out, cur, rows);
        _backwardReady = Training;
        return _out;
    }

    private static void CheckMaskLength(ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (!mask.IsEmpty && mask.Length != batch * seqLen)
            throw new ArgumentException($"mask: expected empty or (batch={batch}, seq={seqLen}) = {batch * seqLen} elements, got {mask.Length}.", nameof(mask));
    }

    /// <summary>
    /// Backpropagates dOut (the output's shape) through the head, every recurrent layer (BPTT) and the embedding,
    /// accumulating every parameter gradient; dx (batch, seq, InputSize) is accumulated when not empty (feature input).
    /// </summary>
    public void Backward(ReadOnlySpan<T> dOut, Span<T> dx, int batch, int seqLen)
    {
        // Every check runs before the head adds its gradient, so a refused call leaves no trace.
        if (!_backwardReady)
            throw new InvalidOperationException(_batch < 0
                ? "Backward: expected a Forward first (with Training = true); no Forward has run."
                : "Backward: expected a Forward with Training = true since the last Backward; the last Forward ran in evaluation mode or was already backpropagated.");
        if (batch != _batch || seqLen != _seq)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_batch}, seq={_seq}), got (batch={batch}, seq={seqLen}).");
        int rows = OutputRows(batch, seqLen), L = Recurrent.Count;
        Guard.Length(dOut.Length, rows * Spec.OutputSize, $"(rows={rows}, outputs={Spec.OutputSize})");
        if (Embedding == null && !dx.IsEmpty)
            Guard.Length(dx.Length, batch * seqLen * Spec.InputSize, $"(batch={batch}, seq={seqLen}, features={Spec.InputSize})");
        _backwardReady = false;
        Array.Clear(_dHeadIn);
        Head.Backward(_dHeadIn, dOut, rows);
        Span<T> d = _dHeadIn;
        if (_headDrop != null)
        {
            var target = L > 0 ? _dys[L - 1].AsSpan() : Embedding != null ? _dEmb.AsSpan() : dx;
            if (L > 0 || Embedding != null) target.Clear();
            _headDrop.Backward(target, d, d.Length);
            d = target;
        }
        else if (L > 0) { _dHeadIn.CopyTo(_dys[L - 1], 0); d = _dys[L - 1]; }
        for (int k = L - 1; k >= 0; k--)
        {
            Span<T> dIn;
            if (k > 0)
            {
                dIn = _between[k - 1] != null ? _dDrop[k - 1] : _dys[k - 1];
                dIn.Clear();
            }
            else if (Embedding != null) { dIn = _dEmb; dIn.Clear(); }
            else dIn = dx;
            Recurrent[k].Backward(dIn, _dys[k], batch, seqLen);
            if (k > 0 && _between[k - 1] is { } drop) { _dys[k - 1].AsSpan().Clear(); drop.Backward(_dys[k - 1], _dDrop[k - 1], _dDrop[k - 1].Length); }
        }
        if (Embedding != null)
        {
            if (L == 0 && _headDrop == null) Embedding.Backward(_dHeadIn, batch, seqLen);
            else Embedding.Backward(_dEmb, batch, seqLen);
        }
        else if (L == 0 && _headDrop == null && !dx.IsEmpty) Vec.Add(dx, _dHeadIn);
    }

    /// <summary>The gradient buffer for the output, owned by the model, (rows, O), for losses to fill.</summary>
    public Span<T> OutputGrad => _dOut;

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad() { for (int i = 0; i < Parameters.Count; i++) Parameters[i].ZeroGrad(); } // no boxed enumerator

    /// <summary>Returns every layer's pooled memory.</summary>
    public void Dispose()
    {
        Embedding?.Dispose();
        foreach (var l in Recurrent) l.Dispose();
        foreach (var d in _between) d?.Dispose();
        _headDrop?.Dispose();
        Head.Dispose();
    }
}
