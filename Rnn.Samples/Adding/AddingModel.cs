using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;

namespace Rnn.Samples.Adding;

/// <summary>
/// Lasagne's adding network: a forward and a backward SimpleRnn(H, tanh) over the same masked input,
/// each returning only its final state, concatenated, then Dense(1, tanh), with the MSE loss.
/// Buffers are allocated once per batch size, so a steady-state step allocates nothing.
/// </summary>
public sealed class AddingModel<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The forward-scanning layer.</summary>
    public SimpleRnn<T> Forward1 { get; }
    /// <summary>The backward-scanning layer.</summary>
    public SimpleRnn<T> Backward1 { get; }
    /// <summary>The output layer.</summary>
    public Dense<T> Output { get; }
    /// <summary>Hidden units per direction.</summary>
    public int Hidden { get; }
    /// <summary>Every parameter, in a fixed order.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    private int _batch = -1;
    private T[] _h1 = [], _h2 = [], _cat = [], _out = [], _dout = [], _dcat = [], _dh1 = [], _dh2 = []; // (B,H) (B,H) (B,2H) (B,1) ...

    /// <summary>Builds the network; gradClipping 100 as in Lasagne's example.</summary>
    public AddingModel(Rng rng, int hidden = 100, double gradClipping = 100, int inputSize = 2)
    {
        Hidden = hidden;
        Forward1 = new SimpleRnn<T>(inputSize, hidden, rng, new SimpleRnnOptions { GradClipping = gradClipping, ReturnSequences = false });
        Backward1 = new SimpleRnn<T>(inputSize, hidden, rng, new SimpleRnnOptions { GradClipping = gradClipping, ReturnSequences = false, Backwards = true }, "_l0_reverse");
        Output = new Dense<T>(2 * hidden, 1, rng, Activation.Tanh, "fc");
        Parameters = Forward1.Parameters.Concat(Backward1.Parameters).Concat(Output.Parameters).ToArray();
    }

    private void Ensure(int batch)
    {
        if (batch == _batch) return;
        _batch = batch; int H = Hidden;
        _h1 = new T[batch * H]; _h2 = new T[batch * H]; _cat = new T[batch * 2 * H]; _out = new T[batch];
        _dout = new T[batch]; _dcat = new T[batch * 2 * H]; _dh1 = new T[batch * H]; _dh2 = new T[batch * H];
    }

    /// <summary>Predictions (batch), owned by the model, valid until the next call.</summary>
    public ReadOnlySpan<T> Predictions => _out;

    /// <summary>Forward pass: x (batch, seq, 2), mask (batch, seq); returns the MSE against y (batch).</summary>
    public T Loss(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> y, int batch, int seqLen)
    {
        Ensure(batch);
        int H = Hidden;
        Forward1.Forward(_h1, x, mask, default, batch, seqLen);
        Backward1.Forward(_h2, x, mask, default, batch, seqLen);
        Concat.Forward<T>(_cat, _h1, _h2, batch, H, H);
        Output.Forward(_out, _cat, batch);
        return Mse.Forward<T>(_out, y);
    }

    /// <summary>Backward pass after <see cref="Loss"/>: accumulates every parameter gradient (and dx if not empty).</summary>
    public void Backward(Span<T> dx, ReadOnlySpan<T> y, int batch, int seqLen)
    {
        int H = Hidden;
        Array.Clear(_dout); Array.Clear(_dcat); Array.Clear(_dh1); Array.Clear(_dh2);
        Mse.Backward<T>(_dout, _out, y, T.One);
        Output.Backward(_dcat, _dout, batch);
        Concat.Backward<T>(_dh1, _dh2, _dcat, batch, H, H);
        Forward1.Backward(dx, default, _dh1, batch, seqLen);
        Backward1.Backward(dx, default, _dh2, batch, seqLen);
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad() { foreach (var p in Parameters) p.ZeroGrad(); }

    /// <summary>Returns pooled memory.</summary>
    public void Dispose() { Forward1.Dispose(); Backward1.Dispose(); Output.Dispose(); }
}
