using System.Numerics;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Recurrent layers stacked (PyTorch's num_layers): each layer's output is the next one's input. Its states use
/// PyTorch's layout, (layers·dirs, batch, H) for h and c, where layer l's block (dirs, batch, H) is what that layer's
/// own state API takes (a <see cref="Bidirectional{T}"/> has dirs = 2). Every layer but the last must return sequences.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "A stack of layers (PyTorch's num_layers), not a Stack<T>-like collection.")]
public sealed class RecurrentStack<T> : IRecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly IRecurrentLayer<T>[] _layers;
    private readonly Tape<T> _tape = new();
    private Slot _ys, _dys, _hT, _cT; // shapes in Forward
    private int[] _yOff = [], _hOff = [], _cOff = [];

    /// <summary>The layers, bottom first (owned).</summary>
    public IReadOnlyList<IRecurrentLayer<T>> Layers => _layers;

    /// <summary>Stacks the layers (takes ownership). Sizes, state kinds and output modes must chain.</summary>
    public RecurrentStack(params IRecurrentLayer<T>[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Length == 0) throw new ArgumentException("layers: expected at least one layer, got none.", nameof(layers));
        for (int k = 0; k < layers.Length; k++)
        {
            var l = layers[k] ?? throw new ArgumentNullException($"layers[{k}]");
            if (k > 0 && l.InputSize != layers[k - 1].HiddenSize)
                throw new ArgumentException($"layers[{k}]: expected InputSize {layers[k - 1].HiddenSize} (the output of layers[{k - 1}]), got {l.InputSize}.", nameof(layers));
            if (k < layers.Length - 1 && !l.ReturnSequences)
                throw new ArgumentException($"layers[{k}]: expected ReturnSequences = true below the top layer, got false.", nameof(layers));
            if (l.StateCount != layers[0].StateCount || l.InitialState != layers[0].InitialState)
                throw new ArgumentException($"layers[{k}]: expected the state kind of layers[0] ({layers[0].StateCount} state(s), InitialState.{layers[0].InitialState}), got {l.StateCount}, InitialState.{l.InitialState}.", nameof(layers));
        }
        _layers = layers;
        Parameters = layers.SelectMany(l => l.Parameters).ToArray();
    }

    /// <inheritdoc/>
    public int InputSize => _layers[0].InputSize;
    /// <inheritdoc/>
    public int HiddenSize => _layers[^1].HiddenSize;
    /// <summary>Always false: a stack reads time forwards as a whole.</summary>
    public bool Backwards => false;
    /// <inheritdoc/>
    public bool ReturnSequences => _layers[^1].ReturnSequences;
    /// <inheritdoc/>
    public IReadOnlyList<Parameter<T>> Parameters { get; }
    /// <inheritdoc/>
    public bool Training
    {
        get => _layers[0].Training;
        set { foreach (var l in _layers) l.Training = value; }
    }
    /// <inheritdoc/>
    public int OutputLength(int seqLen) => _layers[^1].OutputLength(seqLen);
    /// <inheritdoc/>
    public int StateCount => _layers[0].StateCount;
    /// <inheritdoc/>
    public InitialState InitialState => _layers[0].InitialState;
    /// <summary>Elements of state k: the layers' blocks one after another, PyTorch's (layers·dirs, batch, H).</summary>
    public int StateLength(int batch, int k) => _layers.Sum(l => l.StateLength(batch, k));

    /// <inheritdoc/>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Forward(y, x, mask, default, default, batch, seqLen);
    /// <inheritdoc/>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, default, default, dy, default, default, batch, seqLen);

    /// <summary>Runs the layers bottom up. h0, c0: (layers·dirs, batch, H) when InitialState is Given, else empty.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, mask, default, false, h0, c0, batch, seqLen);

    /// <inheritdoc/>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, int batch, int seqLen)
        => Run(y, x, default, lengths, true, default, default, batch, seqLen);

    /// <summary>Runs the layers bottom up over a packed batch (lengths (batch), each in 1..seq, any order); h0, c0 as in Forward.</summary>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, default, lengths, true, h0, c0, batch, seqLen);

    /// <inheritdoc/>
    public BatchPadding Padding => _layers[0].Padding;

    private void Run(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        Guard.Length(y.Length, batch * OutputLength(seqLen), $"(batch={batch}{(ReturnSequences ? $", seq={seqLen}" : "")}, {HiddenSize})");
        if (!h0.IsEmpty) Guard.Length(h0.Length, StateLength(batch, 0), $"(layers·dirs, batch={batch}, H)");
        if (!c0.IsEmpty) Guard.Length(c0.Length, StateCount == 2 ? StateLength(batch, 1) : 0, $"(layers·dirs, batch={batch}, H)");
        if (_tape.Begin(batch, seqLen))
        {
            int n = _layers.Length;
            _yOff = new int[n]; _hOff = new int[n + 1]; _cOff = new int[n + 1];
            int ys = 0;
            for (int k = 0; k < n; k++)
            {
                _yOff[k] = ys;
                if (k < n - 1) ys += batch * _layers[k].OutputLength(seqLen);
                _hOff[k + 1] = _hOff[k] + _layers[k].StateLength(batch, 0);
                _cOff[k + 1] = _cOff[k] + (StateCount == 2 ? _layers[k].StateLength(batch, 1) : 0);
            }
            _ys = _tape.Add("ys", 1, ys);        // the outputs of every layer below the top, one after another
            _dys = _tape.Add("dys", 1, ys);      // their gradients
            _hT = _tape.Add("hT", 1, _hOff[n]);  // (layers·dirs, B, H) final h
            _cT = _tape.Add("cT", 1, _cOff[n]);  // (layers·dirs, B, H) final c
            _tape.Commit();
        }
        ReadOnlySpan<T> input = x;
        for (int k = 0; k < _layers.Length; k++)
        {
            var l = _layers[k];
            var out_ = k == _layers.Length - 1 ? y : _tape[_ys].Slice(_yOff[k], batch * l.OutputLength(seqLen));
            if (packed) l.ForwardPacked(out_, input, lengths, Block(h0, _hOff, k), Block(c0, _cOff, k), batch, seqLen);
            else l.Forward(out_, input, mask, Block(h0, _hOff, k), Block(c0, _cOff, k), batch, seqLen);
            l.FinalH.CopyTo(_tape[_hT][_hOff[k]..]);
            if (StateCount == 2) l.FinalC.CopyTo(_tape[_cT][_cOff[k]..]);
            input = out_;
        }
    }

    private static ReadOnlySpan<T> Block(ReadOnlySpan<T> s, int[] off, int k) => s.IsEmpty ? default : s[off[k]..off[k + 1]];
    private static Span<T> Block(Span<T> s, int[] off, int k) => s.IsEmpty ? default : s[off[k]..off[k + 1]];

    /// <summary>(layers·dirs, batch, H): every layer's final h, PyTorch's h_n.</summary>
    public ReadOnlySpan<T> FinalH => _tape.Batch < 0 ? throw new InvalidOperationException("FinalH: no Forward has run yet.") : _tape[_hT];
    /// <summary>(layers·dirs, batch, H): PyTorch's c_n, or empty.</summary>
    public ReadOnlySpan<T> FinalC => _tape.Batch < 0 ? throw new InvalidOperationException("FinalC: no Forward has run yet.") : _tape[_cT];

    /// <summary>Backward top down; dhT, dcT (layers·dirs, batch, H) or empty; dh0, dc0 likewise out.</summary>
    public void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
    {
        if (_tape.Batch != batch || _tape.SeqLen != seqLen)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={_tape.SeqLen}), got (batch={batch}, seq={seqLen}).");
        Guard.Length(dy.Length, batch * OutputLength(seqLen), $"y's shape");
        if (!dhT.IsEmpty) Guard.Length(dhT.Length, _hOff[^1], $"(layers·dirs, batch={batch}, H)");
        if (!dh0.IsEmpty) Guard.Length(dh0.Length, _hOff[^1], $"(layers·dirs, batch={batch}, H)");
        if (!dcT.IsEmpty) Guard.Length(dcT.Length, _cOff[^1], $"(layers·dirs, batch={batch}, H)");
        if (!dc0.IsEmpty) Guard.Length(dc0.Length, _cOff[^1], $"(layers·dirs, batch={batch}, H)");
        var dys = _tape[_dys];
        dys.Clear(); // each layer's Backward adds into its dx
        ReadOnlySpan<T> d = dy;
        for (int k = _layers.Length - 1; k >= 0; k--)
        {
            var l = _layers[k];
            var dIn = k == 0 ? dx : dys.Slice(_yOff[k - 1], batch * _layers[k - 1].OutputLength(seqLen));
            l.Backward(dIn, Block(dh0, _hOff, k), Block(dc0, _cOff, k), d, Block(dhT, _hOff, k), Block(dcT, _cOff, k), batch, seqLen);
            d = dIn;
        }
    }

    /// <inheritdoc/>
    public void ZeroGrad() { foreach (var l in _layers) l.ZeroGrad(); }

    /// <summary>Disposes every layer and the tape.</summary>
    public void Dispose() { foreach (var l in _layers) l.Dispose(); _tape.Dispose(); }
}
