using System.Numerics;

namespace Rnn.Losses;

/// <summary>
/// Softmax cross-entropy over C classes: logits (n, C), integer targets (n), L = Σ wᵢ·(−log softmax(zᵢ)[yᵢ]) / Σ wᵢ
/// with a stable log-softmax (the max is subtracted). Without weights every wᵢ = 1 and L is the plain mean
/// (PyTorch's CrossEntropyLoss). With a 0/1 row mask as weights — e.g. a (batch, seq) sequence mask for
/// per-step outputs — masked rows contribute nothing and the mean is over the unmasked rows; their targets
/// are not read, so padding may carry any id. If every weight is 0 the loss and its gradient are 0.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>The mean loss over all n rows.</summary>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, int classes) where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(logits, targets, default, classes);

    /// <summary>The weighted mean loss. logits (n, C), targets (n) in [0, C), weights (n) finite and ≥ 0, or empty for all 1.</summary>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double wsum = Check(logits, targets, weights, classes);
        if (wsum == 0) return T.Zero;
        double s = 0; // accumulated in double, in row order
        for (int i = 0; i < targets.Length; i++)
        {
            T w = weights.IsEmpty ? T.One : weights[i];
            if (w == T.Zero) continue;
            var z = logits.Slice(i * classes, classes);
            s += double.CreateTruncating(w * (LogSumExp(z) - z[targets[i]]));
        }
        return T.CreateTruncating(s / wsum);
    }

    /// <summary>Writes dL/dz = (softmax(z) − onehot(y))/n · scale into dlogits (n, C), overwriting it.</summary>
    public static void Backward<T>(Span<T> dlogits, ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, T scale, int classes) where T : unmanaged, IFloatingPointIeee754<T>
        => Backward(dlogits, logits, targets, default, scale, classes);

    /// <summary>
    /// Writes dL/dzᵢ = wᵢ/Σw · (softmax(zᵢ) − onehot(yᵢ)) · scale into dlogits (n, C), overwriting it (rows with wᵢ = 0,
    /// and every row when Σw = 0, get 0): a reused buffer needs no clearing. (It used to accumulate.)
    /// </summary>
    public static void Backward<T>(Span<T> dlogits, ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, T scale, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double wsum = Check(logits, targets, weights, classes);
        Guard.Length(dlogits.Length, logits.Length, $"(n={targets.Length}, C={classes})");
        dlogits.Clear(); // then accumulated as before: the same bits
        if (wsum == 0) return;
        T k = scale / T.CreateTruncating(wsum);
        for (int i = 0; i < targets.Length; i++)
        {
            T w = weights.IsEmpty ? T.One : weights[i];
            if (w == T.Zero) continue;
            var z = logits.Slice(i * classes, classes);
            var dz = dlogits.Slice(i * classes, classes);
            T lse = LogSumExp(z), kw = k * w;
            for (int c = 0; c < classes; c++) dz[c] += kw * T.Exp(z[c] - lse);
            dz[targets[i]] -= kw;
        }
    }

    /// <summary>p (n, C) = softmax of each row of logits (n, C). p may alias logits.</summary>
    public static void Probabilities<T>(Span<T> p, ReadOnlySpan<T> logits, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.AtLeast(classes, 1);
        if (logits.Length % classes != 0) throw new ArgumentException($"logits: expected a multiple of classes={classes} elements, got {logits.Length}.", nameof(logits));
        Guard.Length(p.Length, logits.Length, $"logits' ({logits.Length})");
        for (int i = 0; i < logits.Length; i += classes)
        {
            T lse = LogSumExp(logits.Slice(i, classes));
            for (int c = 0; c < classes; c++) p[i + c] = T.Exp(logits[i + c] - lse);
        }
    }

    /// <summary>Rows with weight ≠ 0 (all rows if weights is empty) whose argmax (first on ties) equals the target.</summary>
    public static int Correct<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(logits, targets, weights, classes);
        int n = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            if (!weights.IsEmpty && weights[i] == T.Zero) continue;
            var z = logits.Slice(i * classes, classes);
            int best = 0;
            for (int c = 1; c < classes; c++) if (z[c] > z[best]) best = c;
            if (best == targets[i]) n++;
        }
        return n;
    }

    /// <summary>log Σ exp(z), shifted by the max so no exp overflows.</summary>
    private static T LogSumExp<T>(ReadOnlySpan<T> z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = z[0];
        for (int c = 1; c < z.Length; c++) m = T.Max(m, z[c]);
        T s = T.Zero;
        for (int c = 0; c < z.Length; c++) s += T.Exp(z[c] - m);
        return m + T.Log(s);
    }

    /// <summary>Validates shapes and values; returns Σw (n when weights is empty).</summary>
    private static double Check<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.AtLeast(classes, 1);
        int n = targets.Length;
        if (n == 0) throw new ArgumentException("targets: expected at least one row, got 0.", nameof(targets));
        Guard.Length(logits.Length, n * classes, $"(n={n}, C={classes})");
        Guard.Finite(logits);
        if (!weights.IsEmpty) Guard.Length(weights.Length, n, $"(n={n})");
        double wsum = 0;
        for (int i = 0; i < n; i++)
        {
            T w = weights.IsEmpty ? T.One : weights[i];
            if (!(T.IsFinite(w) && w >= T.Zero))
                throw new ArgumentOutOfRangeException(nameof(weights), w, $"weights: expected finite values >= 0, got {w} at row {i}.");
            if (w == T.Zero) continue;
            if ((uint)targets[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(targets), targets[i], $"targets: expected class ids in [0, {classes}), got {targets[i]} at row {i}.");
            wsum += double.CreateTruncating(w);
        }
        return wsum;
    }
}
