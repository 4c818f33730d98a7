using System.Numerics;
using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// Karpathy's min-char-rnn.py on the engine's layers: one-hot input → SimpleRnn(H, tanh) with a Given initial
/// state → TimeDistributed(Dense(V)) → softmax. Weights N(0, 0.01²) (randn·0.01), biases 0. Each
/// <see cref="TrainChunk"/> is one min-char-rnn iteration: the loss is the SUM of the per-step cross-entropies
/// over the chunk, BPTT runs over the chunk only (truncated) from the carried h, every gradient is clipped to
/// [−5, 5] elementwise, and Adagrad (lr 0.1) takes a step with mem += g²; p −= lr·g/√(mem + 1e-8).
/// </summary>
public sealed class MinCharRnn<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Vocabulary size V.</summary>
    public int V { get; }
    /// <summary>Hidden units H.</summary>
    public int Hidden { get; }
    /// <summary>Wxh (H, V), Whh (H, H), bh (H) in PyTorch layout and names.</summary>
    public SimpleRnn<T> Rnn { get; }
    /// <summary>Why (V, H), by (V).</summary>
    public TimeDistributed<T> Head { get; }
    /// <summary>Every parameter.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }
    /// <summary>The optimizer.</summary>
    public Adagrad<T> Optimizer { get; }
    /// <summary>The carried hidden state hprev (1, H). Owned by the model.</summary>
    public T[] State { get; }
    /// <summary>Elementwise gradient clip (min-char-rnn: 5).</summary>
    public double Clip { get; }

    private int _seq = -1;
    private T[] _x = [], _hs = [], _dhs = [], _logits = [], _dlogits = [];
    private readonly T[] _stepX, _stepLogits; // sampling, one step
    private RecurrentState<T>? _stream;

    /// <summary>Builds the model with min-char-rnn's initialisation from <paramref name="rng"/>.</summary>
    public MinCharRnn(int vocab, int hidden, Rng rng, double learningRate = 0.1, double clip = 5)
    {
        V = vocab; Hidden = hidden; Clip = clip;
        Rnn = new SimpleRnn<T>(vocab, hidden, rng, new SimpleRnnOptions { InitialState = InitialState.Given });
        Head = new TimeDistributed<T>(new Dense<T>(hidden, vocab, rng, name: "fc"));
        Initializers.Normal<T>(Rnn.WeightIh.Value, rng, 0.01);
        Initializers.Normal<T>(Rnn.WeightHh.Value, rng, 0.01);
        Initializers.Normal<T>(Head.Inner.Weight.Value, rng, 0.01);
        Parameters = Rnn.Parameters.Concat(Head.Parameters).ToArray();
        Optimizer = new Adagrad<T>(Parameters, learningRate, epsilon: 1e-8, epsilonInsideSqrt: true);
        State = new T[hidden];
        _stepX = new T[vocab]; _stepLogits = new T[vocab];
    }

    /// <summary>hprev = 0 (min-char-rnn does this at the start of the data).</summary>
    public void ResetState() => Array.Clear(State);

    private void Ensure(int seq)
    {
        if (seq == _seq) return;
        _seq = seq;
        _x = new T[seq * V]; _hs = new T[seq * Hidden]; _dhs = new T[_hs.Length];   // (1,S,V) (1,S,H)
        _logits = new T[seq * V]; _dlogits = new T[_logits.Length];                  // (1,S,V)
    }

    /// <summary>
    /// One iteration on inputs (S) and targets (S) ids: forward from <see cref="State"/>, summed loss, BPTT,
    /// clip, Adagrad step; <see cref="State"/> becomes the last hidden state. Returns the summed loss.
    /// </summary>
    public double TrainChunk(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets)
    {
        int S = inputs.Length;
        if (targets.Length != S) throw new ArgumentException($"targets: expected {S} ids (one per input), got {targets.Length}.", nameof(targets));
        Ensure(S);
        Tokens.OneHot<T>(_x, inputs, V);
        Rnn.Forward(_hs, _x, default, State, 1, S);
        Head.Forward(_logits, _hs, 1, S);
        // min-char-rnn sums the per-step losses: mean × S, and the gradient scaled by S.
        double loss = double.CreateTruncating(TimeDistributed<T>.Loss(_logits, targets, default, 1, S, V)) * S;
        Optimizer.ZeroGrad();
        Array.Clear(_dlogits); Array.Clear(_dhs);
        TimeDistributed<T>.LossBackward(_dlogits, _logits, targets, default, T.CreateTruncating(S), 1, S, V);
        Head.Backward(_dhs, _dlogits, 1, S);
        Rnn.Backward(default, default, _dhs, 1, S);
        if (Clip > 0) GradClip.ClipValue(Parameters, Clip);
        Optimizer.Step();
        _hs.AsSpan((S - 1) * Hidden, Hidden).CopyTo(State);
        return loss;
    }

    /// <summary>
    /// min-char-rnn's sample(h, seed_ix, n): n ids drawn one at a time from softmax(logits / temperature),
    /// starting from a copy of <see cref="State"/> and the seed character. The carried state is not changed.
    /// </summary>
    public int[] Sample(int seedId, int n, Rng rng, double temperature = 1.0)
    {
        var ids = new int[n];
        _stream ??= Rnn.NewStream(1);
        _stream.Reset(); // the weights as trained so far
        State.CopyTo(_stream.H);
        int id = seedId;
        for (int i = 0; i < n; i++)
        {
            Array.Clear(_stepX); _stepX[id] = T.One;
            Rnn.Step(_stream, _stepX);
            Head.Inner.Forward(_stepLogits, _stream.H, 1);
            id = Tokens.Sample<T>(_stepLogits, rng, temperature);
            ids[i] = id;
        }
        return ids;
    }

    /// <summary>Returns the layers' pooled memory.</summary>
    public void Dispose() { Rnn.Dispose(); Head.Dispose(); }
}
