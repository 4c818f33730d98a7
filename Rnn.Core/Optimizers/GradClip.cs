using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Optimizers;

/// <summary>Gradient clipping over a parameter registry.</summary>
public static class GradClip
{
    /// <summary>Global L2 norm of all gradients (row-sparse parameters: touched rows only), in double, fixed order.</summary>
    public static double GlobalNorm<T>(IReadOnlyList<Parameter<T>> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < parameters.Count; i++) // no boxed enumerator: runs every optimizer step
        {
            var p = parameters[i];
            if (p.TouchedRows is null) s += Vec.SumSquares<T>(p.Grad);
            else
            {
                int row = p.Length / p.Shape[0];
                foreach (int r in p.TouchedRows.Rows) s += Vec.SumSquares<T>(p.Grad.AsSpan(r * row, row));
            }
        }
        return Math.Sqrt(s);
    }

    /// <summary>Rescales all gradients so their global norm is at most maxNorm; returns the norm before.</summary>
    public static double ClipGlobalNorm<T>(IReadOnlyList<Parameter<T>> parameters, double maxNorm) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(maxNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"maxNorm: expected >= 0, got {maxNorm}.");
        double n = GlobalNorm(parameters);
        if (n > maxNorm)
        {
            T k = T.CreateTruncating(maxNorm / (n + 1e-6));
            for (int i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                if (p.TouchedRows is null) { Vec.Scale<T>(p.Grad, k); continue; }
                int row = p.Length / p.Shape[0]; // only touched rows are non-zero
                foreach (int r in p.TouchedRows.Rows) Vec.Scale<T>(p.Grad.AsSpan(r * row, row), k);
            }
        }
        return n;
    }

    /// <summary>Clamps every gradient element to [−limit, limit] (min-char-rnn's np.clip).</summary>
    public static void ClipValue<T>(IReadOnlyList<Parameter<T>> parameters, double limit) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!(limit >= 0)) throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit: expected >= 0, got {limit}.");
        foreach (var p in parameters) Vec.Clip<T>(p.Grad, T.CreateTruncating(limit));
    }
}
