using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// A sequential model: layers described by <see cref="LayerSpec"/>s (Embedding, recurrent stacks of any cell,
/// bidirectional or not, Dropout, Dense on vectors or at every step, RepeatVector) run in order, with one interface:
/// <c>Forward(x or tokens, mask, batch, seq)</c> returns the output, <c>Backward(dOut, dx, batch, seq)</c> accumulates
/// every parameter gradient. The (batch, seq) mask (given, or derived from token 0 by a MaskZero embedding) reaches every
/// recurrent layer while the sequence keeps its length. Parameters are named "layerName.localName" ("embedding.weight",
/// "rnn.weight_ih_l0", "fc.bias"); layer names are unique. Buffers are allocated once per (batch, seq), so a
/// steady-state step allocates nothing. The architecture round-trips through checkpoint metadata (<see cref="IO.Checkpoint"/>).
/// </summary>
public class Model<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The layers' descriptions, in order.</summary>
    public IReadOnlyList<LayerSpec> Specs { get; }
    /// <summary>Input features per step; 0 when the first layer is an embedding (the input is token ids).</summary>
    public int InputSize { get; }
    /// <summary>True when the input is token ids (the first layer is an <see cref="EmbeddingSpec"/>).</summary>
    public bool TakesTokens => _embedding != null;
    /// <summary>Features per output row.</summary>
    public int OutputSize { get; }
    /// <summary>True when the output has a row per step, (batch·seq', O); false: a row per sequence, (batch, O).</summary>
    public bool OutputIsSequence { get; }
    /// <summary>Every parameter with its unique hierarchical name, in layer order.</summary>
    public IReadOnlyList<(string Name, Parameter<T> Parameter)> NamedParameters { get; }
    /// <summary>Every parameter, in the order of <see cref="NamedParameters"/>.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    private readonly Rng _dropRng; // every dropout mask of the model comes from here
    private readonly Embedding<T>? _embedding;
    private readonly bool _maskZero;
    private readonly Node[] _nodes; // the layers after the embedding
    private readonly long _widest;  // the widest per-row buffer, for the size check
    private int _batch = -1, _seq = -1, _capBatch, _capSeq = -1; // the last shape; the buffers' capacity
    private T[] _emb = [], _dEmb = [], _mask = [], _dOut = [];
    private T[][] _ys = [], _dys = [];
    private int[] _perSample = []; // output elements per sample of each node, for the current seq
    private bool _backwardReady; // from a training Forward to the Backward that consumes it

    /// <summary>
    /// Builds the layers in order, drawing weights from <paramref name="rng"/> (null leaves every parameter at zero, for a
    /// caller that writes them all, e.g. a checkpoint loader). <paramref name="inputSize"/> is the features per step, or 0
    /// when the first layer is an <see cref="EmbeddingSpec"/>.
    /// </summary>
    public Model(int inputSize, Rng? rng, params LayerSpec[] layers) : this(inputSize, rng, (IReadOnlyList<LayerSpec>)layers) { }

    /// <summary>As the params overload.</summary>
    public Model(int inputSize, Rng? rng, IReadOnlyList<LayerSpec> layers) : this(inputSize, rng, null, layers) { }

    /// <summary>
    /// As the params overload, with the dropout masks drawn from <paramref name="dropoutRng"/> (used, not copied) instead of
    /// a generator seeded by one draw of <paramref name="rng"/>; then <paramref name="rng"/> gives the weights and nothing
    /// else, as a hand-built network draws them (the adding sample keeps its numbers this way).
    /// </summary>
    public Model(int inputSize, Rng? rng, Rng? dropoutRng, IReadOnlyList<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0) throw new ArgumentException("layers: expected at least one layer, got 0.", nameof(layers));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
        {
            var s = layers[i] ?? throw new ArgumentException($"layers[{i}]: expected a LayerSpec, got null.", nameof(layers));
            if (string.IsNullOrEmpty(s.Name) || s.Name.Contains('.', StringComparison.Ordinal))
                throw new ArgumentException($"layers[{i}].Name: expected a non-empty name without '.', got '{s.Name}'.", nameof(layers));
            if (!names.Add(s.Name)) throw new ArgumentException($"layers[{i}].Name: expected a unique layer name, got '{s.Name}' twice.", nameof(layers));
            s.Validate($"layers[{i}] ({s.Name})");
            if (s is EmbeddingSpec && i > 0) throw new ArgumentException($"layers[{i}] ({s.Name}): an embedding is only valid as the first layer.", nameof(layers));
        }
        bool tokens = layers[0] is EmbeddingSpec;
        if (tokens ? inputSize != 0 : inputSize < 1)
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, tokens
                ? $"inputSize: expected 0 when the first layer is an embedding (the input is token ids), got {inputSize}."
                : $"inputSize: expected >= 1 features per step, got {inputSize}.");
        Specs = layers.ToArray();
        InputSize = inputSize;
        _dropRng = dropoutRng ?? new Rng(rng?.NextUInt64() ?? 0);
        var named = new List<(string, Parameter<T>)>();
        var nodes = new List<Node>();
        bool seq = true;
        int width = inputSize;
        long widest = inputSize;
        try
        {
            foreach (var s in Specs)
            {
                if (s is EmbeddingSpec e)
                {
                    _embedding = new Embedding<T>(e.Vocab, e.Dim, rng, e.MaskZero);
                    _maskZero = e.MaskZero;
                    named.Add((e.Name + ".weight", _embedding.Weight));
                    width = e.Dim;
                    widest = Math.Max(widest, width);
                    continue;
                }
                Node n = s switch
                {
                    RecurrentSpec r => seq ? new RecurrentNode(r, width, rng, _dropRng)
                        : throw new ArgumentException($"layers ({s.Name}): a recurrent layer expected a sequence input, got one vector per sequence (add a RepeatVector).", nameof(layers)),
                    DropoutSpec d => new DropoutNode(d, _dropRng),
                    DenseSpec d => new DenseNode(d, width, rng),
                    RepeatVectorSpec v => !seq ? new RepeatNode(v, width)
                        : throw new ArgumentException($"layers ({s.Name}): RepeatVector expected one vector per sequence, got a sequence.", nameof(layers)),
                    _ => throw new ArgumentException($"layers ({s.Name}): unsupported layer spec {s.GetType().Name}.", nameof(layers)),
                };
                n.Spec = s;
                n.InSeq = seq; n.InWidth = width;
                seq = n.OutSeq(seq); width = n.OutWidth(width);
                widest = Math.Max(widest, Math.Max(width, n.Widest));
                nodes.Add(n);
                foreach (var (local, p) in n.Named()) named.Add((s.Name + "." + local, p));
            }
        }
        catch
        {
            _embedding?.Dispose();
            foreach (var n in nodes) n.Dispose();
            throw;
        }
        _nodes = nodes.ToArray();
        _widest = widest;
        IsStateful = Specs.Any(l => l is RecurrentSpec { Stateful: true });
        OutputSize = width; OutputIsSequence = seq;
        NamedParameters = named;
        Parameters = named.Select(n => n.Item2).ToArray();
    }

    /// <summary>The built layer named <paramref name="name"/>: an <see cref="Embedding{T}"/>, <see cref="Dense{T}"/>,
    /// <see cref="Dropout{T}"/>, <see cref="RepeatVector{T}"/>, or for a recurrent spec the list of its layers
    /// (<see cref="IReadOnlyList{T}"/> of <see cref="IRecurrentLayer{T}"/>, bottom first, each possibly a <see cref="Bidirectional{T}"/>).</summary>
    public object Layer(string name)
    {
        if (_embedding != null && Specs[0].Name == name) return _embedding;
        foreach (var n in _nodes) if (n.Spec.Name == name) return n.Inner;
        throw new ArgumentException($"name: expected one of the model's layer names ({string.Join(", ", Specs.Select(s => s.Name))}), got '{name}'.", nameof(name));
    }

    /// <summary>Restarts the dropout mask sequence (e.g. so finite-difference checks see the same masks every pass).</summary>
    public void ReseedDropout(ulong seed) => _dropRng.Reset(seed);

    /// <summary>True when a recurrent layer is <see cref="RecurrentSpec.Stateful"/>: Forwards carry their states.</summary>
    public bool IsStateful { get; }

    /// <summary>
    /// Keras's reset_states: the carried states of every stateful layer become zeros, and the next Forward may use
    /// any batch size. Call it where a new text (or epoch) begins; <see cref="Trainer{T, TTarget}.Fit{TInput}"/> does before each
    /// epoch and before validation.
    /// </summary>
    public void ResetStates()
    {
        for (int i = 0; i < _nodes.Length; i++) if (_nodes[i] is RecurrentNode r) r.ResetStates();
    }

    /// <summary>The batch of the carried states, or −1 when they are reset (or the model is not stateful).</summary>
    public int StateBatch
    {
        get
        {
            for (int i = 0; i < _nodes.Length; i++) if (_nodes[i] is RecurrentNode { Stateful: true } r) return r.StateBatch;
            return -1;
        }
    }

    /// <summary>Elements of all carried states for a batch: per stateful layer in order, h (batch, H) then c (batch, H) for an LSTM.</summary>
    public int StateLength(int batch)
    {
        Guard.AtLeast(batch, 1);
        int n = 0;
        for (int i = 0; i < _nodes.Length; i++) if (_nodes[i] is RecurrentNode r) n += r.StateLength(batch);
        return n;
    }

    /// <summary>Copies the carried states (layout of <see cref="StateLength"/>) into <paramref name="states"/>; throws when they are reset.</summary>
    public void GetStates(Span<T> states)
    {
        int b = StateBatch;
        if (b < 0) throw new InvalidOperationException(IsStateful ? "GetStates: the states are reset (zeros for any batch); run a Forward first." : "GetStates: the model has no stateful layer.");
        Guard.Length(states.Length, StateLength(b), $"(states of batch={b})");
        int o = 0;
        for (int i = 0; i < _nodes.Length; i++)
            if (_nodes[i] is RecurrentNode { Stateful: true } r) { int n = r.StateLength(b); r.GetStates(states.Slice(o, n)); o += n; }
    }

    /// <summary>
    /// Sets the carried states for a batch (layout of <see cref="StateLength"/>): the next Forward, of this batch,
    /// starts from them (a given initial state; no gradient flows into it).
    /// </summary>
    public void SetStates(ReadOnlySpan<T> states, int batch)
    {
        if (!IsStateful) throw new InvalidOperationException("SetStates: the model has no stateful layer.");
        Guard.AtLeast(batch, 1);
        Guard.Length(states.Length, StateLength(batch), $"(states of batch={batch})");
        Guard.Finite(states);
        int o = 0;
        for (int i = 0; i < _nodes.Length; i++)
            if (_nodes[i] is RecurrentNode { Stateful: true } r) { int n = r.StateLength(batch); r.SetStates(states.Slice(o, n), batch); o += n; }
    }

    // A stateful model keeps its batch size until the states are reset: refused before anything runs.
    private void CheckStateBatch(int batch)
    {
        if (!IsStateful) return;
        int b = StateBatch;
        if (b >= 0 && b != batch)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch: expected {b}, the batch of the carried states (call ResetStates to start another batch size), got {batch}.");
    }

    /// <summary>Training mode: dropout on, tapes kept. Set false for evaluation and inference.</summary>
    public bool Training
    {
        get => _training;
        set
        {
            _training = value;
            if (_embedding != null) _embedding.Training = value;
            for (int i = 0; i < _nodes.Length; i++) _nodes[i].Training = value; // no boxed enumerator: set every epoch
        }
    }
    private bool _training = true;

    /// <summary>Rows of the output for a (batch, seq) input: batch·seq' per step (seq' = seq, or a RepeatVector's count), batch per sequence.</summary>
    public int OutputRows(int batch, int seqLen) => OutputIsSequence ? batch * OutSeqLen(seqLen) : batch;

    private int OutSeqLen(int seq)
    {
        for (int i = 0; i < _nodes.Length; i++) seq = _nodes[i].OutSeqLen(seq);
        return seq;
    }

    /// <summary>The gradient buffer for the output, (rows, O), owned by the model, sized by the last Forward; losses overwrite it.</summary>
    public Span<T> OutputGrad => _dOut.AsSpan(0, _batch < 0 ? 0 : _batch * _perSample[^1]);

    // Every per-call buffer is at most batch·seq' rows of the widest row: one bound in long arithmetic keeps every
    // later int product exact.
    private void CheckSizes(int batch, int seqLen)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"batch: expected >= 1, got {batch}.");
        if (seqLen < 1) throw new ArgumentOutOfRangeException(nameof(seqLen), seqLen, $"seqLen: expected >= 1, got {seqLen}.");
        long rows = (long)batch * Math.Max(seqLen, MaxRepeat());
        if (rows > Array.MaxLength / _widest)
            throw new ArgumentOutOfRangeException(nameof(batch), batch,
                $"batch: expected batch·seqLen·{_widest} (the widest row) <= {Array.MaxLength} elements, got batch={batch}, seqLen={seqLen} ({(Int128)rows * _widest} elements).");
    }

    private int MaxRepeat()
    {
        int m = 1;
        foreach (var n in _nodes) if (n is RepeatNode r) m = Math.Max(m, r.Times);
        return m;
    }

    // Buffers are kept for the largest batch seen at this seq and sliced to the call's batch, so an epoch's smaller
    // last batch (and the full ones after it) allocate nothing.
    private void Ensure(int batch, int seq)
    {
        _batch = batch; _seq = seq;
        if (seq == _capSeq && batch <= _capBatch) return;
        _capBatch = seq == _capSeq ? Math.Max(batch, _capBatch) : batch; _capSeq = seq;
        batch = _capBatch;
        int bs = batch * seq;
        if (_embedding != null) { _emb = new T[bs * _embedding.Dim]; _dEmb = new T[_emb.Length]; } // (B, S, E)
        _mask = _maskZero ? new T[bs] : [];                                                        // (B, S)
        _ys = new T[_nodes.Length][]; _dys = new T[_nodes.Length][]; _perSample = new int[_nodes.Length];
        int s = seq;
        for (int i = 0; i < _nodes.Length; i++)
        {
            var n = _nodes[i];
            n.Ensure(batch, s);
            s = n.OutSeqLen(s);
            bool outSeq = n.OutSeq(n.InSeq);
            _perSample[i] = (outSeq ? s : 1) * n.OutWidth(n.InWidth);
            _ys[i] = new T[batch * _perSample[i]];                                                 // (B, S', F) or (B, F)
            _dys[i] = i < _nodes.Length - 1 ? new T[_ys[i].Length] : [];
        }
        _dOut = new T[batch * _perSample[^1]];                                                     // (rows, O)
    }

    /// <summary>
    /// Forward on features x (batch, seq, InputSize) with an optional (batch, seq) 0/1 mask. Returns the output,
    /// (rows, OutputSize) (see <see cref="OutputRows"/>), owned by the model and valid until the next call.
    /// </summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (_embedding != null) throw new InvalidOperationException($"Forward: this model takes tokens (vocab {_embedding.VocabSize}); call Forward(ReadOnlySpan<int> tokens, ...).");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        CheckStateBatch(batch);
        Guard.Length(x.Length, batch * seqLen * InputSize, $"(batch={batch}, seq={seqLen}, features={InputSize})");
        CheckMaskLength(mask, batch, seqLen);
        Ensure(batch, seqLen);
        return Run(x, mask, default, batch, seqLen);
    }

    /// <summary>Forward on token ids (batch, seq); the mask is derived from token 0 when the embedding has MaskZero, else optional.</summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (_embedding == null) throw new InvalidOperationException("Forward: this model takes features, not tokens.");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        CheckStateBatch(batch);
        Guard.Length(tokens.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        CheckMaskLength(mask, batch, seqLen);
        Ensure(batch, seqLen);
        var emb = _emb.AsSpan(0, batch * seqLen * _embedding.Dim);
        _embedding.Forward(emb, tokens, batch, seqLen);
        if (_maskZero)
        {
            if (!mask.IsEmpty) throw new ArgumentException("mask: expected empty when the model derives its mask from token 0 (MaskZero).", nameof(mask));
            var derived = _mask.AsSpan(0, batch * seqLen);
            _embedding.ComputeMask(derived, tokens, batch, seqLen);
            mask = derived;
        }
        return Run(emb, mask, default, batch, seqLen);
    }

    /// <summary>
    /// Forward on a packed batch of features: x (batch, seq, InputSize) post-padded, lengths (batch) the real steps of
    /// each row (1..seq, any order). Every recurrent layer runs only the real steps (<see cref="IRecurrentLayer{T}.ForwardPacked(Span{T}, ReadOnlySpan{T}, ReadOnlySpan{int}, int, int)"/>):
    /// the same outputs as the mask 1s-then-0s would give, at the cost of the real steps only.
    /// </summary>
    public ReadOnlySpan<T> ForwardPacked(ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, int batch, int seqLen)
    {
        if (_embedding != null) throw new InvalidOperationException($"ForwardPacked: this model takes tokens (vocab {_embedding.VocabSize}); call ForwardPacked(ReadOnlySpan<int> tokens, ...).");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        CheckStateBatch(batch);
        Guard.Length(x.Length, batch * seqLen * InputSize, $"(batch={batch}, seq={seqLen}, features={InputSize})");
        SequenceLengths.Check(lengths, batch, seqLen);
        Ensure(batch, seqLen);
        return Run(x, default, lengths, batch, seqLen);
    }

    /// <summary>
    /// Forward on a packed batch of token ids (batch, seq), post-padded, with lengths (batch) of real tokens; see the
    /// feature overload. A MaskZero embedding's derived mask is not used: the lengths say where each row ends.
    /// </summary>
    public ReadOnlySpan<T> ForwardPacked(ReadOnlySpan<int> tokens, ReadOnlySpan<int> lengths, int batch, int seqLen)
    {
        if (_embedding == null) throw new InvalidOperationException("ForwardPacked: this model takes features, not tokens.");
        _backwardReady = false;
        CheckSizes(batch, seqLen);
        CheckStateBatch(batch);
        Guard.Length(tokens.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        SequenceLengths.Check(lengths, batch, seqLen);
        Ensure(batch, seqLen);
        var emb = _emb.AsSpan(0, batch * seqLen * _embedding.Dim);
        _embedding.Forward(emb, tokens, batch, seqLen);
        return Run(emb, default, lengths, batch, seqLen);
    }

    /// <summary>What the last Forward was given: no padding, a mask (every step computed), or lengths (packed).</summary>
    public BatchPadding Padding { get; private set; }

    private ReadOnlySpan<T> Run(ReadOnlySpan<T> input, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq)
    {
        Padding = !lengths.IsEmpty ? BatchPadding.Lengths : !mask.IsEmpty ? BatchPadding.Mask : BatchPadding.None;
        ReadOnlySpan<T> cur = input;
        int s = seq;
        for (int i = 0; i < _nodes.Length; i++)
        {
            var n = _nodes[i];
            if (n is RepeatNode) { mask = default; lengths = default; } // a repeated vector's steps are all real
            var y = _ys[i].AsSpan(0, batch * _perSample[i]);
            n.Forward(y, cur, mask, lengths, batch, s);
            s = n.OutSeqLen(s);
            cur = y;
        }
        _backwardReady = Training;
        return cur;
    }

    private static void CheckMaskLength(ReadOnlySpan<T> mask, int batch, int seqLen)
    {
        if (!mask.IsEmpty && mask.Length != batch * seqLen)
            throw new ArgumentException($"mask: expected empty or (batch={batch}, seq={seqLen}) = {batch * seqLen} elements, got {mask.Length}.", nameof(mask));
    }

    /// <summary>
    /// Backpropagates dOut (the output's shape) through every layer (BPTT through the recurrent ones), accumulating every
    /// parameter gradient; dx (batch, seq, InputSize) is accumulated when not empty (feature input). Once per training Forward.
    /// </summary>
    public void Backward(ReadOnlySpan<T> dOut, Span<T> dx, int batch, int seqLen)
    {
        // Every check runs before any gradient is added, so a refused call leaves no trace.
        if (!_backwardReady)
            throw new InvalidOperationException(_batch < 0
                ? "Backward: expected a Forward first (with Training = true); no Forward has run."
                : "Backward: expected a Forward with Training = true since the last Backward; the last Forward ran in evaluation mode or was already backpropagated.");
        if (batch != _batch || seqLen != _seq)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_batch}, seq={_seq}), got (batch={batch}, seq={seqLen}).");
        int rows = OutputRows(batch, seqLen);
        Guard.Length(dOut.Length, rows * OutputSize, $"(rows={rows}, outputs={OutputSize})");
        if (_embedding == null && !dx.IsEmpty)
            Guard.Length(dx.Length, batch * seqLen * InputSize, $"(batch={batch}, seq={seqLen}, features={InputSize})");
        _backwardReady = false;
        ReadOnlySpan<T> dy = dOut;
        for (int i = _nodes.Length - 1; i >= 0; i--)
        {
            Span<T> dIn;
            if (i > 0) { dIn = _dys[i - 1].AsSpan(0, batch * _perSample[i - 1]); dIn.Clear(); }
            else if (_embedding != null) { dIn = _dEmb.AsSpan(0, batch * seqLen * _embedding.Dim); PoolClear<T>.Clear(dIn); } // (B, S, E): large, split between the threads
            else dIn = dx;
            var n = _nodes[i];
            n.Backward(dIn, dy, batch, InSeqLen(i, seqLen));
            dy = dIn;
        }
        _embedding?.Backward(_dEmb.AsSpan(0, batch * seqLen * _embedding.Dim), batch, seqLen);
    }

    private int InSeqLen(int node, int seq)
    {
        for (int i = 0; i < node; i++) seq = _nodes[i].OutSeqLen(seq);
        return seq;
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad() => GradZeroing<T>.Zero(Parameters); // split between the kernel threads when large

    /// <summary>Returns every layer's pooled memory.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the layers.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        _embedding?.Dispose();
        foreach (var n in _nodes) n.Dispose();
    }

    // ----- the layers behind the specs -----

    private abstract class Node : IDisposable
    {
        public LayerSpec Spec = null!;
        public bool InSeq;
        public int InWidth;
        public abstract object Inner { get; }
        public virtual long Widest => 0;
        public abstract bool Training { set; }
        public virtual bool OutSeq(bool inSeq) => inSeq;
        public virtual int OutWidth(int inWidth) => inWidth;
        public virtual int OutSeqLen(int seq) => seq;
        public virtual IEnumerable<(string, Parameter<T>)> Named() => [];
        public virtual void Ensure(int batch, int seq) { }
        // lengths (batch): a packed batch (each row's real steps; mask empty), else empty.
        public abstract void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq);
        // Accumulates into dx when not empty; seq is the node's input length.
        public abstract void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seq);
        public abstract void Dispose();
    }

    private sealed class RecurrentNode : Node
    {
        private readonly IRecurrentLayer<T>[] _layers;
        private readonly Dropout<T>?[] _between; // after layer k (k < L−1)
        private readonly int _out;
        private T[][] _ys = [], _dys = [], _drop = [], _dDrop = [];
        private int _capBatch, _capSeq = -1;

        public RecurrentNode(RecurrentSpec s, int input, Rng? rng, Rng dropRng)
        {
            var layers = new List<IRecurrentLayer<T>>();
            try
            {
                for (int k = 0; k < s.Layers; k++)
                {
                    bool seq = k < s.Layers - 1 || s.ReturnSequences;
                    IRecurrentLayer<T> l = Make(s, input, false, seq, $"_l{k}", rng, dropRng);
                    if (s.Bidirectional) l = new Bidirectional<T>(l, Make(s, input, true, seq, $"_l{k}_reverse", rng, dropRng));
                    layers.Add(l);
                    input = l.HiddenSize;
                }
            }
            catch
            {
                foreach (var l in layers) l.Dispose();
                throw;
            }
            _layers = layers.ToArray();
            _out = input;
            _between = new Dropout<T>?[s.Layers - 1];
            for (int k = 0; k < _between.Length; k++) if (s.DropoutBetween > 0) _between[k] = new Dropout<T>(s.DropoutBetween, dropRng);
        }

        internal static IRecurrentLayer<T> Make(RecurrentSpec s, int input, bool backwards, bool sequences, string suffix, Rng? rng, Rng dropRng)
        {
            bool torch = s.Init == InitScheme.PyTorch;
            return s.Cell switch
            {
                CellKind.RnnTanh or CellKind.RnnRelu => new SimpleRnn<T>(input, s.Hidden, rng, new SimpleRnnOptions
                {
                    Activation = s.Cell == CellKind.RnnRelu ? Activation.Relu : Activation.Tanh,
                    Backwards = backwards, ReturnSequences = sequences, TwoBiases = torch, Init = torch ? InitScheme.PyTorch : null,
                    InitialState = Start(s), GradClipping = s.GradClipping,
                }, suffix),
                CellKind.Lstm => new Lstm<T>(input, s.Hidden, rng, new LstmOptions
                {
                    Backwards = backwards, ReturnSequences = sequences, TwoBiases = torch, UnitForgetBias = !torch, InitialState = Start(s),
                    Init = torch ? InitScheme.PyTorch : InitScheme.Keras, Dropout = s.InputDropout, RecurrentDropout = s.RecurrentDropout,
                }, suffix)
                { DropoutRng = dropRng },
                _ => new Gru<T>(input, s.Hidden, rng, new GruOptions
                {
                    Backwards = backwards, ReturnSequences = sequences, TwoBiases = s.TwoBiases, ResetAfter = s.Cell == CellKind.Gru, InitialState = Start(s),
                    Init = torch ? InitScheme.PyTorch : InitScheme.Keras, Dropout = s.InputDropout, RecurrentDropout = s.RecurrentDropout,
                }, suffix)
                { DropoutRng = dropRng },
            };
        }

        // A stateful layer is given its initial state: the carried one.
        private static InitialState Start(RecurrentSpec s) => s.Stateful ? InitialState.Given : s.InitialState;

        public IReadOnlyList<IRecurrentLayer<T>> Layers => _layers;

        // ----- carried states (stateful specs): per layer h (B, H) then c (B, H) for an LSTM -----
        private T[][] _state = [];
        public int StateBatch { get; private set; } = -1; // the carried states' batch; −1: reset (zeros for any batch)
        public bool Stateful => ((RecurrentSpec)Spec).Stateful;

        public int StateLength(int batch)
        {
            if (!Stateful) return 0;
            int n = 0;
            foreach (var l in _layers) for (int k = 0; k < l.StateCount; k++) n += l.StateLength(batch, k);
            return n;
        }

        public void ResetStates() { StateBatch = -1; foreach (var a in _state) Array.Clear(a); }

        // The carried states for this batch, zeros when they were reset; allocates only for a new batch size.
        private void PrepareStates(int batch)
        {
            if (StateBatch == batch) return;
            if (_state.Length != _layers.Length || _state[0].Length != StateLengthOf(0, batch))
            {
                _state = new T[_layers.Length][];
                for (int k = 0; k < _layers.Length; k++) _state[k] = new T[StateLengthOf(k, batch)];
            }
            else foreach (var a in _state) Array.Clear(a);
            StateBatch = batch;
        }

        private int StateLengthOf(int layer, int batch)
        {
            var l = _layers[layer];
            return l.StateLength(batch, 0) + (l.StateCount == 2 ? l.StateLength(batch, 1) : 0);
        }

        // The carried states as one flat buffer, layer by layer.
        public void GetStates(Span<T> flat)
        {
            int o = 0;
            foreach (var a in _state) { a.CopyTo(flat.Slice(o, a.Length)); o += a.Length; }
        }

        public void SetStates(ReadOnlySpan<T> flat, int batch)
        {
            PrepareStates(batch);
            int o = 0;
            foreach (var a in _state) { flat.Slice(o, a.Length).CopyTo(a); o += a.Length; }
        }
        public override object Inner => _layers;
        public override long Widest
        {
            get
            {
                var s = (RecurrentSpec)Spec;
                return (long)s.Gates * s.Hidden * (s.Bidirectional ? 2 : 1);
            }
        }
        public override bool Training
        {
            set
            {
                for (int k = 0; k < _layers.Length; k++) _layers[k].Training = value;
                foreach (var d in _between) if (d != null) d.Training = value;
            }
        }
        public override bool OutSeq(bool inSeq) => _layers[^1].ReturnSequences;
        public override int OutWidth(int inWidth) => _out;
        public override IEnumerable<(string, Parameter<T>)> Named()
        {
            foreach (var l in _layers) foreach (var p in l.Parameters) yield return (p.Name, p);
        }

        public override void Ensure(int batch, int seq)
        {
            if (seq == _capSeq && batch <= _capBatch) return;
            _capBatch = seq == _capSeq ? Math.Max(batch, _capBatch) : batch; _capSeq = seq;
            batch = _capBatch;
            int L = _layers.Length;
            _ys = new T[L][]; _dys = new T[L][]; _drop = new T[L][]; _dDrop = new T[L][];
            for (int k = 0; k < L - 1; k++) // the last layer writes the node's y
            {
                _ys[k] = new T[batch * _layers[k].OutputLength(seq)]; // (B, S, Hk)
                _dys[k] = new T[_ys[k].Length];
                _drop[k] = _between[k] != null ? new T[_ys[k].Length] : [];
                _dDrop[k] = new T[_drop[k].Length];
            }
        }

        public override void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq)
        {
            ReadOnlySpan<T> cur = x;
            int L = _layers.Length;
            bool stateful = Stateful;
            if (stateful) PrepareStates(batch);
            for (int k = 0; k < L; k++)
            {
                Span<T> yk = k == L - 1 ? y : _ys[k].AsSpan(0, batch * _layers[k].OutputLength(seq));
                var l = _layers[k];
                if (stateful)
                {
                    // From the carried state, which then becomes the final one (the layer copied h0, c0 into its tape).
                    int nh = l.StateLength(batch, 0);
                    Span<T> h0 = _state[k].AsSpan(0, nh), c0 = l.StateCount == 2 ? _state[k].AsSpan(nh) : default;
                    if (lengths.IsEmpty) l.Forward(yk, cur, mask, h0, c0, batch, seq);
                    else l.ForwardPacked(yk, cur, lengths, h0, c0, batch, seq);
                    l.FinalH.CopyTo(h0);
                    if (l.StateCount == 2) l.FinalC.CopyTo(c0);
                }
                else if (lengths.IsEmpty) l.Forward(yk, cur, mask, batch, seq);
                else l.ForwardPacked(yk, cur, lengths, batch, seq);
                cur = yk;
                if (k < L - 1 && _between[k] is { } d) { var dk = _drop[k].AsSpan(0, yk.Length); d.Forward(dk, cur, cur.Length); cur = dk; }
            }
        }

        public override void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seq)
        {
            ReadOnlySpan<T> d = dy;
            for (int k = _layers.Length - 1; k >= 0; k--)
            {
                Span<T> dIn;
                int below = k > 0 ? batch * _layers[k - 1].OutputLength(seq) : 0; // layer k−1's output length
                if (k > 0)
                {
                    dIn = (_between[k - 1] != null ? _dDrop[k - 1] : _dys[k - 1]).AsSpan(0, below);
                    dIn.Clear();
                }
                else dIn = dx;
                _layers[k].Backward(dIn, d, batch, seq);
                if (k > 0)
                {
                    var dyBelow = _dys[k - 1].AsSpan(0, below);
                    if (_between[k - 1] is { } drop) { dyBelow.Clear(); drop.Backward(dyBelow, dIn, below); }
                    d = dyBelow;
                }
            }
        }

        public override void Dispose()
        {
            foreach (var l in _layers) l.Dispose();
            foreach (var d in _between) d?.Dispose();
        }
    }

    private sealed class DropoutNode(DropoutSpec s, Rng dropRng) : Node
    {
        private readonly Dropout<T> _d = new(s.Rate, dropRng);
        public override object Inner => _d;
        public override bool Training { set => _d.Training = value; }
        public override void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq) => _d.Forward(y, x, x.Length);
        public override void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seq)
        {
            if (!dx.IsEmpty) _d.Backward(dx, dy, dy.Length);
        }
        public override void Dispose() => _d.Dispose();
    }

    private sealed class DenseNode(DenseSpec s, int input, Rng? rng) : Node
    {
        private readonly Dense<T> _d = new(input, s.Units, rng, s.Activation);
        public override object Inner => _d;
        public override bool Training { set => _d.Training = value; }
        public override int OutWidth(int inWidth) => _d.OutputSize;
        public override IEnumerable<(string, Parameter<T>)> Named() => [("weight", _d.Weight), ("bias", _d.Bias)];
        private int Rows(int batch, int seq) => InSeq ? batch * seq : batch; // per step (TimeDistributed) or per sequence
        public override void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq) => _d.Forward(y, x, Rows(batch, seq));
        public override void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seq) => _d.Backward(dx, dy, Rows(batch, seq));
        public override void Dispose() => _d.Dispose();
    }

    private sealed class RepeatNode(RepeatVectorSpec s, int width) : Node
    {
        private readonly RepeatVector<T> _r = new(width, s.Times);
        public int Times => _r.Times;
        public override object Inner => _r;
        public override bool Training { set { } }
        public override bool OutSeq(bool inSeq) => true;
        public override int OutSeqLen(int seq) => _r.Times;
        public override void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, int batch, int seq) => _r.Forward(y, x, batch);
        public override void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seq)
        {
            if (!dx.IsEmpty) _r.Backward(dx, dy, batch);
        }
        public override void Dispose() { }
    }
}
