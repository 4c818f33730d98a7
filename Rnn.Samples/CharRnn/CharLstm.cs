using System.Numerics;
using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// char-rnn's model (Karpathy's Lua char-rnn, model/LSTM.lua): one-hot input → N LSTM layers → Dense(V), with
/// dropout on the input of every layer above the first and on the top h (char-rnn's placement), every parameter
/// U(±0.08) and the forget-gate block of the input bias set to 1 (train.lua). The state (h, c) of every layer
/// is carried from batch to batch, as char-rnn's init_state_global, so BPTT is truncated at the batch edge.
/// </summary>
public sealed class CharLstm<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Vocabulary size V.</summary>
    public int V { get; }
    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; }
    /// <summary>The LSTM layers, bottom first (InitialState Given).</summary>
    public IReadOnlyList<Lstm<T>> Layers { get; }
    /// <summary>The per-step output layer.</summary>
    public TimeDistributed<T> Head { get; }
    /// <summary>Every parameter with its checkpoint name.</summary>
    public IReadOnlyList<(string Name, Parameter<T> Parameter)> NamedParameters { get; }
    /// <summary>Every parameter.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    private readonly StatefulRecurrent<T>[] _state;
    private readonly Dropout<T>[] _drop; // before layer k ≥ 1, and before the head (index N−1)
    private readonly double _p;
    private int _b = -1, _s = -1;
    private T[] _x = [], _logits = [], _dlogits = [];
    private T[][] _ys = [], _dys = [], _ins = [], _dins = [], _carry = [];

    /// <summary>Builds the model from <paramref name="rng"/>.</summary>
    public CharLstm(int vocab, int hidden, int layers, double dropout, Rng rng)
    {
        V = vocab; Hidden = hidden; _p = dropout;
        var ls = new List<Lstm<T>>();
        var named = new List<(string, Parameter<T>)>();
        for (int k = 0; k < layers; k++)
        {
            var l = new Lstm<T>(k == 0 ? vocab : hidden, hidden, rng,
                new LstmOptions { InitialState = InitialState.Given, TwoBiases = true, UnitForgetBias = false }, $"_l{k}");
            foreach (var p in l.Parameters) { Initializers.Uniform<T>(p.Value, rng, -0.08, 0.08); named.Add(("rnn." + p.Name, p)); }
            l.BiasIh.Value.AsSpan(hidden, hidden).Fill(T.One); // char-rnn: i2h forget-gate bias 1
            ls.Add(l);
        }
        Layers = ls;
        Head = new TimeDistributed<T>(new Dense<T>(hidden, vocab, rng, name: "fc"));
        foreach (var p in Head.Parameters) { Initializers.Uniform<T>(p.Value, rng, -0.08, 0.08); named.Add((p.Name, p)); }
        NamedParameters = named;
        Parameters = named.Select(n => n.Item2).ToArray();
        _state = ls.Select(l => new StatefulRecurrent<T>(l)).ToArray();
        var dropRng = new Rng(rng.NextUInt64());
        _drop = Enumerable.Range(0, layers).Select(_ => new Dropout<T>(dropout, dropRng)).ToArray();
    }

    /// <summary>Dropout on (training) or off.</summary>
    public bool Training
    {
        set { foreach (var l in Layers) l.Training = value; foreach (var d in _drop) d.Training = value; Head.Inner.Training = value; }
    }

    /// <summary>Elements of the carried state of one layer: 2·batch·H (h then c).</summary>
    public int StateLength(int batch) => 2 * batch * Hidden;

    /// <summary>A zero state for every layer at this batch size, to pass to <see cref="Forward"/>.</summary>
    public T[][] NewState(int batch) => Layers.Select(_ => new T[StateLength(batch)]).ToArray();

    private void Ensure(int batch, int seq)
    {
        if (batch == _b && seq == _s) return;
        _b = batch; _s = seq;
        int n = batch * seq, L = Layers.Count;
        _x = new T[n * V]; _logits = new T[n * V]; _dlogits = new T[n * V];             // (B, S, V)
        _ys = new T[L][]; _dys = new T[L][]; _ins = new T[L][]; _dins = new T[L][];        // (B, S, H)
        for (int k = 0; k < L; k++) { _ys[k] = new T[n * Hidden]; _dys[k] = new T[n * Hidden]; _ins[k] = new T[n * Hidden]; _dins[k] = new T[n * Hidden]; }
    }

    /// <summary>
    /// Forward on ids (batch, seq) from the states (one (2, batch, H) array per layer), which are then overwritten
    /// with the final states. Returns the logits (batch, seq, V), owned by the model, valid until the next call.
    /// </summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<int> ids, T[][] state, int batch, int seq)
    {
        Ensure(batch, seq);
        Tokens.OneHot<T>(_x, ids, V);
        ReadOnlySpan<T> cur = _x;
        for (int k = 0; k < Layers.Count; k++)
        {
            if (k > 0) { _drop[k - 1].Forward(_ins[k], cur, cur.Length); cur = _ins[k]; }
            _state[k].Forward(_ys[k], cur, default, state[k], batch, seq);
            _state[k].FinalState.CopyTo(state[k]);
            cur = _ys[k];
        }
        var top = _ins[0]; // layer 0's input is the one-hot, so this slot holds the head's dropped-out input
        _drop[^1].Forward(top, cur, cur.Length);
        Head.Forward(_logits, top, batch, seq);
        return _logits;
    }

    /// <summary>Mean cross-entropy of the last Forward against targets (batch, seq), and its gradient backpropagated through every tape.</summary>
    public T Backward(ReadOnlySpan<int> targets, int batch, int seq)
    {
        T loss = TimeDistributed<T>.Loss(_logits, targets, default, batch, seq, V);
        Array.Clear(_dlogits);
        TimeDistributed<T>.LossBackward(_dlogits, _logits, targets, default, T.One, batch, seq, V);
        int L = Layers.Count;
        Array.Clear(_dins[0]);
        Head.Backward(_dins[0], _dlogits, batch, seq);
        Array.Clear(_dys[L - 1]);
        _drop[^1].Backward(_dys[L - 1], _dins[0], _dins[0].Length);
        for (int k = L - 1; k >= 0; k--)
        {
            if (k == 0) { _state[0].Backward(default, default, _dys[0], default, batch, seq); break; }
            Array.Clear(_dins[k]);
            _state[k].Backward(_dins[k], default, _dys[k], default, batch, seq);
            Array.Clear(_dys[k - 1]);
            _drop[k - 1].Backward(_dys[k - 1], _dins[k], _dins[k].Length);
        }
        return loss;
    }

    /// <summary>
    /// n ids sampled one at a time (dropout off), primed with <paramref name="prime"/> (its last id seeds the first draw).
    /// </summary>
    public int[] Sample(ReadOnlySpan<int> prime, int n, Rng rng, double temperature)
    {
        Training = false;
        var state = NewState(1);
        var one = new int[1];
        var outp = new int[n];
        try
        {
            ReadOnlySpan<T> logits = default;
            foreach (int id in prime) { one[0] = id; logits = Forward(one, state, 1, 1); }
            for (int i = 0; i < n; i++)
            {
                one[0] = outp[i] = Tokens.Sample(logits, rng, temperature);
                logits = Forward(one, state, 1, 1);
            }
        }
        finally { Training = true; }
        return outp;
    }

    /// <summary>Returns the layers' pooled memory.</summary>
    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
        foreach (var d in _drop) d.Dispose();
        Head.Dispose();
    }
}
