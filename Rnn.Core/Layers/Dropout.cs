using System.Numerics;
using Rnn.Init;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Inverted dropout over n elements (any shape, flattened): in training each element is zeroed with
/// probability p and the survivors are scaled by 1/(1−p), so evaluation is the identity (Keras's Dropout,
/// PyTorch's nn.Dropout). The mask, holding 0 or 1/(1−p) per element, lives on the layer's tape.
/// </summary>
public sealed class Dropout<T> : Layer<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Drop probability p in [0, 1).</summary>
    public double P { get; }

    private readonly Rng _rng;
    private readonly Tape<T> _tape = new();
    private Slot _mask;
    private bool _identity; // the last Forward did not drop (eval mode or p = 0)

    /// <summary>Creates the layer; <paramref name="rng"/> draws the masks (the layer keeps the reference).</summary>
    public Dropout(double p, Rng rng)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, $"p: expected a value in [0, 1), got {p}.");
        P = p; _rng = rng;
    }

    /// <summary>The mask of the last training Forward, (n) of 0 or 1/(1−p); empty if it was the identity. Owned by the layer.</summary>
    public ReadOnlySpan<T> Mask => _identity || _tape.Batch < 0 ? default : _tape[_mask];

    /// <summary>y (n) = x (n) ⊙ mask with a fresh mask when <see cref="Layer{T}.Training"/>, else y = x. y may alias x.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, int n)
    {
        Guard.AtLeast(n, 1);
        Guard.Length(x.Length, n, $"(n={n})");
        Guard.Length(y.Length, n, $"(n={n})");
        if (_tape.Begin(n, 1))
        {
            _mask = _tape.Add("mask", 1, n); // (n) 0 or 1/(1−p)
            _tape.Commit();
        }
        _identity = !Training || P == 0;
        if (_identity) { x.CopyTo(y); return; }
        var m = _tape[_mask];
        T keep = T.CreateTruncating(1 / (1 - P));
        for (int i = 0; i < n; i++)
        {
            m[i] = _rng.NextDouble() < P ? T.Zero : keep;
            y[i] = x[i] * m[i];
        }
    }

    /// <summary>Accumulates dx (n) += dy (n) ⊙ mask of the last Forward (dx += dy when it was the identity).</summary>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int n)
    {
        if (_tape.Batch != n) throw new InvalidOperationException($"Backward: expected n={_tape.Batch} from the last Forward, got {n}.");
        Guard.Length(dy.Length, n, $"(n={n})");
        Guard.Length(dx.Length, n, $"(n={n})");
        if (_identity) { Kernels.Vec.Add<T>(dx, dy); return; }
        var m = _tape[_mask];
        for (int i = 0; i < n; i++) dx[i] += dy[i] * m[i];
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
