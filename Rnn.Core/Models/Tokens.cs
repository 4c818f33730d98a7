using System.Numerics;
using Rnn.Init;

namespace Rnn.Models;

/// <summary>
/// Token helpers for sequence models: one-hot encoding of ids, and choosing the next id from logits,
/// greedily (argmax) or by sampling softmax(logits / temperature). Nothing here allocates.
/// </summary>
public static class Tokens
{
    /// <summary>y (n, classes), overwritten, with y[i, ids[i]] = 1 and 0 elsewhere. ids (n) in [0, classes).</summary>
    public static void OneHot<T>(Span<T> y, ReadOnlySpan<int> ids, int classes) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.AtLeast(classes, 1);
        Guard.Length(y.Length, ids.Length * classes, $"(n={ids.Length}, classes={classes})");
        y.Clear();
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"ids: expected ids in [0, {classes}), got {ids[i]} at {i}.");
            y[i * classes + ids[i]] = T.One;
        }
    }

    /// <summary>The index of the largest logit (the first on ties).</summary>
    public static int Argmax<T>(ReadOnlySpan<T> logits) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (logits.IsEmpty) throw new ArgumentException("logits: expected at least one class, got 0.", nameof(logits));
        int best = 0;
        for (int c = 1; c < logits.Length; c++) if (logits[c] > logits[best]) best = c;
        return best;
    }

    /// <summary>
    /// Draws an index from softmax(logits / temperature) with one uniform number from <paramref name="rng"/>
    /// (inverse CDF, in double). Temperature 0 is greedy (<see cref="Argmax"/>); below 1 sharpens, above 1 flattens.
    /// </summary>
    public static int Sample<T>(ReadOnlySpan<T> logits, Rng rng, double temperature = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(temperature >= 0) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"temperature: expected a finite value >= 0, got {temperature}.");
        int best = Argmax(logits);
        if (temperature == 0) return best;
        double max = double.CreateTruncating(logits[best]), sum = 0;
        for (int c = 0; c < logits.Length; c++) sum += Math.Exp((double.CreateTruncating(logits[c]) - max) / temperature);
        double u = rng.NextDouble() * sum, acc = 0;
        for (int c = 0; c < logits.Length; c++)
        {
            acc += Math.Exp((double.CreateTruncating(logits[c]) - max) / temperature);
            if (u < acc) return c;
        }
        return best; // u landed in the rounding gap at the top
    }
}
