using System.Numerics;

namespace Rnn.Losses;

/// <summary>Mean squared error over all elements, L = mean((p − y)²), as Lasagne's adding example computes it.</summary>
public static class Mse
{
    /// <summary>The loss. pred and target have the same length n (any shape, flattened).</summary>
    public static T Forward<T>(ReadOnlySpan<T> pred, ReadOnlySpan<T> target) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.Length(target.Length, pred.Length, $"pred's ({pred.Length})");
        if (pred.Length == 0) throw new ArgumentException("pred: expected at least one element, got 0.", nameof(pred));
        T s = T.Zero;
        for (int i = 0; i < pred.Length; i++) { T d = pred[i] - target[i]; s += d * d; }
        return s / T.CreateTruncating(pred.Length);
    }

    /// <summary>Writes dL/dpred = 2(p − y)/n · scale into dpred, overwriting it (no clearing needed; it used to accumulate).</summary>
    public static void Backward<T>(Span<T> dpred, ReadOnlySpan<T> pred, ReadOnlySpan<T> target, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.Length(target.Length, pred.Length, $"pred's ({pred.Length})");
        Guard.Length(dpred.Length, pred.Length, $"pred's ({pred.Length})");
        T k = scale * T.CreateTruncating(2.0 / pred.Length);
        for (int i = 0; i < pred.Length; i++) dpred[i] = T.Zero + k * (pred[i] - target[i]); // +0 + g: a cleared buffer's bits
    }
}
