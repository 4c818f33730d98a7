using System.Numerics;

namespace Rnn.Losses;

/// <summary>
/// Binary cross-entropy on logits, mean over the n rows: L = mean(max(z,0) − z·y + log(1 + e^−|z|)), the
/// numerically stable form of −y·log σ(z) − (1−y)·log(1−σ(z)) (Keras's from_logits=True, PyTorch's
/// BCEWithLogitsLoss). Targets are in [0, 1] (labels 0/1, or soft targets).
/// </summary>
public static class BinaryCrossEntropy
{
    /// <summary>The loss. logits (n) and targets (n); logits must be finite, targets in [0, 1].</summary>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(logits, targets);
        double s = 0; // accumulated in double: a float sum over a large batch loses digits
        for (int i = 0; i < logits.Length; i++)
        {
            T z = logits[i];
            s += double.CreateTruncating(T.Max(z, T.Zero) - z * targets[i] + T.LogP1(T.Exp(-T.Abs(z))));
        }
        return T.CreateTruncating(s / logits.Length);
    }

    /// <summary>
    /// Writes dL/dz = (σ(z) − y)/n · scale into dlogits (n), overwriting it: a reused buffer needs no clearing, so a
    /// forgotten Clear cannot double the gradient. (It used to accumulate.)
    /// </summary>
    public static void Backward<T>(Span<T> dlogits, ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(logits, targets);
        Guard.Length(dlogits.Length, logits.Length, $"logits' ({logits.Length})");
        T k = scale / T.CreateTruncating(logits.Length);
        // +0 + g: the bits a cleared buffer accumulating g held (−0 becomes +0), so results match the accumulating form.
        for (int i = 0; i < logits.Length; i++) dlogits[i] = T.Zero + k * (Sigmoid(logits[i]) - targets[i]);
    }

    /// <summary>p (n) = σ(logits (n)), the probability of label 1. p may alias logits.</summary>
    public static void Probabilities<T>(Span<T> p, ReadOnlySpan<T> logits) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.Length(p.Length, logits.Length, $"logits' ({logits.Length})");
        for (int i = 0; i < logits.Length; i++) p[i] = Sigmoid(logits[i]);
    }

    /// <summary>Rows whose prediction (z &gt; 0, i.e. σ(z) &gt; ½) matches the target rounded at ½.</summary>
    public static int Correct<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(logits, targets);
        T half = T.CreateTruncating(0.5);
        int c = 0;
        for (int i = 0; i < logits.Length; i++) if ((logits[i] > T.Zero) == (targets[i] >= half)) c++;
        return c;
    }

    /// <summary>Fraction of rows classified correctly, see <see cref="Correct{T}"/>.</summary>
    public static double Accuracy<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
        => (double)Correct(logits, targets) / logits.Length;

    /// <summary>σ(z) without overflow: e^z/(1+e^z) for z &lt; 0.</summary>
    internal static T Sigmoid<T>(T z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (z >= T.Zero) return T.One / (T.One + T.Exp(-z));
        T e = T.Exp(z);
        return e / (T.One + e);
    }

    private static void Check<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (logits.Length == 0) throw new ArgumentException("logits: expected at least one element, got 0.", nameof(logits));
        Guard.Length(targets.Length, logits.Length, $"logits' ({logits.Length})");
        Guard.Finite(logits);
        for (int i = 0; i < targets.Length; i++)
            if (!(targets[i] >= T.Zero && targets[i] <= T.One))
                throw new ArgumentOutOfRangeException(nameof(targets), targets[i], $"targets: expected values in [0, 1], got {targets[i]} at index {i}.");
    }
}
