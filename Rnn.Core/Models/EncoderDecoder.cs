using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>What the decoder of an <see cref="EncoderDecoder{T}"/> reads at each step.</summary>
public enum DecoderFeed
{
    /// <summary>
    /// The previous target token (teacher forcing), one-hot or through a target embedding; step 0 reads
    /// <see cref="EncoderDecoderOptions.StartToken"/>. At inference the previous prediction takes its place.
    /// </summary>
    TeacherForcing,
    /// <summary>The encoder's final h repeated at every step (Keras's addition_rnn: RepeatVector).</summary>
    RepeatVector,
}

/// <summary>Options of <see cref="EncoderDecoder{T}"/>.</summary>
public sealed record EncoderDecoderOptions
{
    /// <summary>What the decoder reads.</summary>
    public DecoderFeed Feed { get; init; } = DecoderFeed.TeacherForcing;
    /// <summary>
    /// The decoder's initial state is the encoder's final state (the decoder's InitialState must be Given, and
    /// both layers must have the same state shape). Required with teacher forcing, where it is the only path
    /// from the source to the output; optional with RepeatVector (Keras's addition_rnn does not pass it).
    /// </summary>
    public bool PassState { get; init; } = true;
    /// <summary>The token fed at decoder step 0 under teacher forcing (a "go" symbol).</summary>
    public int StartToken { get; init; }
}

/// <summary>
/// Sequence to sequence (Karpathy's mode 4, "many to many" with a delay): an encoder recurrent layer reads the
/// source (batch, Ss, I) and its final state summarises it; a decoder recurrent layer (ReturnSequences) produces
/// St steps, and a per-step Dense head gives logits (batch, St, C). The decoder starts from the encoder's final
/// state (<see cref="EncoderDecoderOptions.PassState"/>) and reads either the previous targets (teacher forcing)
/// or the encoder's final h repeated (<see cref="RepeatVector{T}"/>). Training is BPTT through both tapes: the
/// decoder's ds0 and the repeat's summed gradient flow into the encoder's final state.
/// Works with SimpleRnn, Gru and Lstm layers (any mix; with matching state shapes when the state is passed).
/// The layers passed in are owned by this object and disposed with it. Buffers are allocated per (batch, Ss, St).
/// </summary>
public sealed class EncoderDecoder<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The encoder.</summary>
    public IRecurrentLayer<T> Encoder { get; }
    /// <summary>The decoder (returns sequences).</summary>
    public IRecurrentLayer<T> Decoder { get; }
    /// <summary>The per-step output layer.</summary>
    public TimeDistributed<T> Head { get; }
    /// <summary>The embedding of the previous target token under teacher forcing; null = one-hot.</summary>
    public Embedding<T>? TargetEmbedding { get; }
    /// <summary>The options.</summary>
    public EncoderDecoderOptions Options { get; }
    /// <summary>Output classes C.</summary>
    public int Classes => Head.OutputSize;
    /// <summary>Every parameter: encoder, target embedding, decoder, head.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    private readonly StatefulRecurrent<T> _enc, _dec;
    private int _b = -1, _ss = -1, _st = -1;
    private T[] _encY = [], _s0 = [], _decIn = [], _decY = [], _logits = [];     // enc y, (k,B,H), (B,St,D), (B,St,Hd), (B,St,C)
    private T[] _dDecY = [], _dDecIn = [], _ds0 = [], _dsT = [], _dRep = [];     // gradients of the same
    private T[] _dLogits = [];                                                  // (B, St, C) for TrainLoss
    private int[] _prev = [];                                                     // (B, St) decoder input tokens
    private T[] _stepIn = [], _stepY = [], _stepState = [], _stepLogits = [];    // inference, one step
    private int[] _stepTok = [];
    private RepeatVector<T>? _repeat;

    /// <summary>
    /// Builds the model. Teacher forcing: the decoder's input size is <c>head.OutputSize</c> (one-hot) or the
    /// embedding's dim. RepeatVector: it is the encoder's hidden size.
    /// </summary>
    public EncoderDecoder(IRecurrentLayer<T> encoder, IRecurrentLayer<T> decoder, Dense<T> head,
        EncoderDecoderOptions? options = null, Embedding<T>? targetEmbedding = null)
    {
        Encoder = encoder ?? throw new ArgumentNullException(nameof(encoder));
        Decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
        Head = new TimeDistributed<T>(head ?? throw new ArgumentNullException(nameof(head)));
        Options = options ?? new EncoderDecoderOptions();
        TargetEmbedding = targetEmbedding;
        _enc = new StatefulRecurrent<T>(encoder);
        _dec = new StatefulRecurrent<T>(decoder);
        int C = head.OutputSize;
        if (!decoder.ReturnSequences) throw new ArgumentException("decoder: expected ReturnSequences = true (one output per target step), got false.", nameof(decoder));
        if (_enc.TakesInitialState) throw new ArgumentException("encoder: expected InitialState Zero or Learned, got Given.", nameof(encoder));
        if (head.InputSize != decoder.HiddenSize) throw new ArgumentException($"head: expected InputSize = decoder.HiddenSize = {decoder.HiddenSize}, got {head.InputSize}.", nameof(head));
        if (Options.PassState)
        {
            if (!_dec.TakesInitialState) throw new ArgumentException("decoder: expected InitialState Given when the encoder's state is passed (PassState).", nameof(decoder));
            if (_dec.StateCount != _enc.StateCount || decoder.HiddenSize != encoder.HiddenSize)
                throw new ArgumentException($"decoder: expected the encoder's state shape ({_enc.StateCount} x H={encoder.HiddenSize}) to pass the state, got ({_dec.StateCount} x H={decoder.HiddenSize}).", nameof(decoder));
        }
        else
        {
            if (Options.Feed == DecoderFeed.TeacherForcing) throw new ArgumentException("options.PassState: expected true with teacher forcing (the state is the only path from the source), got false.", nameof(options));
            if (_dec.TakesInitialState) throw new ArgumentException("decoder: expected InitialState Zero or Learned when the state is not passed, got Given.", nameof(decoder));
        }
        int want = Options.Feed == DecoderFeed.RepeatVector ? encoder.HiddenSize : targetEmbedding?.Dim ?? C;
        if (decoder.InputSize != want)
            throw new ArgumentException($"decoder: expected InputSize {want} ({(Options.Feed == DecoderFeed.RepeatVector ? "the encoder's hidden size" : targetEmbedding != null ? "the embedding dim" : "one-hot over the classes")}), got {decoder.InputSize}.", nameof(decoder));
        if (Options.Feed == DecoderFeed.RepeatVector && targetEmbedding != null) throw new ArgumentException("targetEmbedding: expected null with RepeatVector feed.", nameof(targetEmbedding));
        if (targetEmbedding != null && targetEmbedding.VocabSize != C) throw new ArgumentException($"targetEmbedding: expected VocabSize = classes = {C}, got {targetEmbedding.VocabSize}.", nameof(targetEmbedding));
        if (Options.Feed == DecoderFeed.TeacherForcing && (uint)Options.StartToken >= (uint)C)
            throw new ArgumentException($"options.StartToken: expected an id in [0, {C}), got {Options.StartToken}.", nameof(options));
        var ps = new List<Parameter<T>>(encoder.Parameters);
        if (targetEmbedding != null) ps.AddRange(targetEmbedding.Parameters);
        ps.AddRange(decoder.Parameters);
        ps.AddRange(head.Parameters);
        Parameters = ps;
    }

    /// <summary>Training mode of every layer (dropout on). Decode switches it off for its duration.</summary>
    public bool Training
    {
        get => Head.Inner.Training;
        set { Encoder.Training = value; Decoder.Training = value; Head.Inner.Training = value; if (TargetEmbedding != null) TargetEmbedding.Training = value; }
    }

    /// <summary>Clears every parameter gradient.</summary>
    public void ZeroGrad() { foreach (var p in Parameters) p.ZeroGrad(); }

    private int DecoderInputSize => Decoder.InputSize;

    private void Ensure(int batch, int ss, int st)
    {
        if (batch == _b && ss == _ss && st == _st) return;
        _b = batch; _ss = ss; _st = st;
        int k = _enc.StateCount, H = Encoder.HiddenSize, Hd = Decoder.HiddenSize, C = Classes, D = DecoderInputSize;
        _encY = new T[batch * Encoder.OutputLength(ss)];
        _s0 = Options.PassState ? new T[k * batch * H] : [];
        _decIn = new T[batch * st * D]; _dDecIn = new T[_decIn.Length];
        _decY = new T[batch * st * Hd]; _dDecY = new T[_decY.Length];
        _logits = new T[batch * st * C];
        _ds0 = Options.PassState ? new T[k * batch * H] : [];
        _dsT = new T[k * batch * H];
        _dRep = Options.Feed == DecoderFeed.RepeatVector ? new T[batch * H] : [];
        _prev = new int[batch * st];
        _repeat = Options.Feed == DecoderFeed.RepeatVector ? new RepeatVector<T>(H, st) : null;
    }

    /// <summary>
    /// Training forward. source (batch, Ss, I), sourceMask (batch, Ss) or empty; targets (batch, St) are read only
    /// under teacher forcing (as the shifted decoder input; may be empty with RepeatVector); targetMask (batch, St)
    /// or empty masks the decoder (a masked step keeps its state). Returns the logits (batch, St, C), owned by the
    /// model, valid until the next call.
    /// </summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<T> source, ReadOnlySpan<T> sourceMask, ReadOnlySpan<int> targets, ReadOnlySpan<T> targetMask,
        int batch, int sourceLen, int targetLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(sourceLen, 1); Guard.AtLeast(targetLen, 1);
        Guard.Length(source.Length, batch * sourceLen * Encoder.InputSize, $"(batch={batch}, Ss={sourceLen}, I={Encoder.InputSize})");
        Guard.Mask(targetMask, batch, targetLen);
        Ensure(batch, sourceLen, targetLen);
        _enc.Forward(_encY, source, sourceMask, default, batch, sourceLen);
        if (Options.PassState) _enc.FinalState.CopyTo(_s0);
        if (Options.Feed == DecoderFeed.RepeatVector) _repeat!.Forward(_decIn, _enc.FinalState[..(batch * Encoder.HiddenSize)], batch);
        else
        {
            Guard.Length(targets.Length, batch * targetLen, $"(batch={batch}, St={targetLen})");
            // Decoder input at step t is the target at t−1; step 0 reads the start token.
            for (int b = 0; b < batch; b++)
            {
                _prev[b * targetLen] = Options.StartToken;
                for (int t = 1; t < targetLen; t++)
                {
                    int i = b * targetLen + t - 1; // a padded target may hold any id: feed the start token instead
                    _prev[i + 1] = !targetMask.IsEmpty && targetMask[i] == T.Zero ? Options.StartToken : targets[i];
                }
            }
            Embed(_decIn, _prev, batch, targetLen);
        }
        _dec.Forward(_decY, _decIn, targetMask, _s0, batch, targetLen);
        Head.Forward(_logits, _decY, batch, targetLen);
        return _logits;
    }

    private void Embed(Span<T> y, ReadOnlySpan<int> ids, int batch, int seq)
    {
        if (TargetEmbedding != null) TargetEmbedding.Forward(y, ids, batch, seq);
        else Tokens.OneHot(y, ids, Classes);
    }

    /// <summary>
    /// Backpropagates dLogits (batch, St, C) through the head, the decoder, the feed and the encoder (BPTT on
    /// every tape), accumulating every parameter gradient, and dSource (batch, Ss, I) when not empty.
    /// </summary>
    public void Backward(Span<T> dSource, ReadOnlySpan<T> dLogits, int batch, int sourceLen, int targetLen)
    {
        if (batch != _b || sourceLen != _ss || targetLen != _st)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_b}, Ss={_ss}, St={_st}), got (batch={batch}, Ss={sourceLen}, St={targetLen}).");
        Guard.Length(dLogits.Length, _logits.Length, $"(batch={batch}, St={targetLen}, C={Classes})");
        Array.Clear(_dDecY);
        Head.Backward(_dDecY, dLogits, batch, targetLen);
        bool needDIn = Options.Feed == DecoderFeed.RepeatVector || TargetEmbedding != null; // one-hot input has no gradient to keep
        if (needDIn) Array.Clear(_dDecIn);
        if (Options.PassState) Array.Clear(_ds0);
        _dec.Backward(needDIn ? _dDecIn : default, _ds0, _dDecY, default, batch, targetLen);
        // Gradient at the encoder's final state: from the decoder's initial state and from the repeated h.
        Array.Clear(_dsT);
        if (Options.PassState) Vec.Add<T>(_dsT, _ds0);
        if (Options.Feed == DecoderFeed.RepeatVector)
        {
            Array.Clear(_dRep);
            _repeat!.Backward(_dRep, _dDecIn, batch);
            Vec.Add<T>(_dsT.AsSpan(0, _dRep.Length), _dRep);
        }
        else TargetEmbedding?.Backward(_dDecIn, batch, targetLen);
        _enc.Backward(dSource, default, default, _dsT, batch, sourceLen);
    }

    /// <summary>
    /// Training step helper: Forward, the masked per-step cross-entropy against targets (batch, St), and Backward
    /// of that loss. Returns the loss (mean over unmasked target steps). Gradients accumulate; the caller zeroes
    /// them and steps the optimizer.
    /// </summary>
    public T TrainLoss(ReadOnlySpan<T> source, ReadOnlySpan<T> sourceMask, ReadOnlySpan<int> targets, ReadOnlySpan<T> targetMask,
        int batch, int sourceLen, int targetLen)
    {
        Guard.Length(targets.Length, batch * targetLen, $"(batch={batch}, St={targetLen})");
        var logits = Forward(source, sourceMask, targets, targetMask, batch, sourceLen, targetLen);
        T loss = TimeDistributed<T>.Loss(logits, targets, targetMask, batch, targetLen, Classes);
        if (_dLogits.Length != logits.Length) _dLogits = new T[logits.Length];
        Array.Clear(_dLogits);
        TimeDistributed<T>.LossBackward(_dLogits, logits, targets, targetMask, T.One, batch, targetLen, Classes);
        Backward(default, _dLogits, batch, sourceLen, targetLen);
        return loss;
    }

    /// <summary>
    /// Inference: writes targetLen tokens per sequence into output (batch, St). Greedy (argmax) when
    /// <paramref name="rng"/> is null, else sampled from softmax(logits / temperature). With teacher forcing the
    /// decoder runs one step at a time, reading its own previous choice; with RepeatVector it runs once.
    /// Layers are in evaluation mode for the call (dropout off) and restored after.
    /// </summary>
    public void Decode(Span<int> output, ReadOnlySpan<T> source, ReadOnlySpan<T> sourceMask, int batch, int sourceLen, int targetLen,
        Rng? rng = null, double temperature = 1.0)
    {
        Guard.Length(output.Length, batch * targetLen, $"(batch={batch}, St={targetLen})");
        bool training = Training;
        Training = false;
        try
        {
            int C = Classes;
            if (Options.Feed == DecoderFeed.RepeatVector)
            {
                var logits = Forward(source, sourceMask, default, default, batch, sourceLen, targetLen);
                for (int i = 0; i < output.Length; i++) output[i] = Choose(logits.Slice(i * C, C), rng, temperature);
                return;
            }
            Ensure(batch, sourceLen, targetLen);
            Guard.Length(source.Length, batch * sourceLen * Encoder.InputSize, $"(batch={batch}, Ss={sourceLen}, I={Encoder.InputSize})");
            _enc.Forward(_encY, source, sourceMask, default, batch, sourceLen);
            int Hd = Decoder.HiddenSize;
            if (_stepTok.Length != batch)
            {
                _stepTok = new int[batch]; _stepIn = new T[batch * DecoderInputSize]; _stepY = new T[batch * Hd];
                _stepState = new T[_dec.StateLength(batch)]; _stepLogits = new T[batch * C];
            }
            _enc.FinalState.CopyTo(_stepState);
            Array.Fill(_stepTok, Options.StartToken);
            for (int t = 0; t < targetLen; t++)
            {
                Embed(_stepIn, _stepTok, batch, 1);
                _dec.Forward(_stepY, _stepIn, default, _stepState, batch, 1);
                _dec.FinalState.CopyTo(_stepState);
                Head.Inner.Forward(_stepLogits, _stepY, batch);
                for (int b = 0; b < batch; b++)
                {
                    _stepTok[b] = Choose(_stepLogits.AsSpan(b * C, C), rng, temperature);
                    output[b * targetLen + t] = _stepTok[b];
                }
            }
        }
        finally { Training = training; }
    }

    private static int Choose(ReadOnlySpan<T> logits, Rng? rng, double temperature)
        => rng is null ? Tokens.Argmax(logits) : Tokens.Sample(logits, rng, temperature);

    /// <summary>Disposes the encoder, decoder, head and embedding.</summary>
    public void Dispose()
    {
        Encoder.Dispose(); Decoder.Dispose(); Head.Dispose(); TargetEmbedding?.Dispose();
    }
}
