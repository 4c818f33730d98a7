using Rnn;

namespace Rnn.Tests;

/// <summary>
/// Central finite differences in double precision, the PyTorch gradcheck way, with the fourth-order stencil
/// n = (L(w−2h) − 8L(w−h) + 8L(w+h) − L(w+2h)) / 12h, h = 1e-3: its truncation error is O(h⁴) ≈ 1e-12 and its
/// rounding error ≈ 1e-16·|L|/h ≈ 1e-13, both far below the tolerance (the two-point formula cannot get both
/// under 1e-11 at once). Compared with the analytic gradient a for every element w of every checked buffer.
/// The error of one element is |a − n| / max(|a|, |n|, Floor): relative, except that gradients below
/// Floor (1e-5) are compared absolutely, since their finite difference is all rounding noise.
/// </summary>
public static class GradCheck
{
    public const double Eps = 1e-3;
    public const double Floor = 1e-5;
    public const double Tolerance = 1e-6;

    /// <summary>A buffer to check: its values (perturbed in place) and the analytic gradient computed for it.</summary>
    public sealed record Target(string Name, double[] Values, double[] Grad);

    public static Target Of(Parameter<double> p) => new(p.Name, p.Value, p.Grad);

    /// <summary>
    /// Runs <paramref name="analytic"/> once (it must zero and fill every Target.Grad), then perturbs every
    /// element of every target and evaluates <paramref name="loss"/>. Returns the worst error per target.
    /// </summary>
    public static Dictionary<string, double> Run(Func<double> loss, Action analytic, params Target[] targets)
    {
        analytic();
        var grads = targets.Select(t => (double[])t.Grad.Clone()).ToArray();
        var worst = new Dictionary<string, double>();
        for (int k = 0; k < targets.Length; k++)
        {
            var t = targets[k];
            double max = 0;
            for (int i = 0; i < t.Values.Length; i++)
            {
                double w = t.Values[i];
                t.Values[i] = w + Eps; double lp = loss();
                t.Values[i] = w - Eps; double lm = loss();
                t.Values[i] = w + 2 * Eps; double lp2 = loss();
                t.Values[i] = w - 2 * Eps; double lm2 = loss();
                t.Values[i] = w;
                double n = (lm2 - 8 * lm + 8 * lp - lp2) / (12 * Eps), a = grads[k][i];
                double err = Math.Abs(a - n) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(n)), Floor);
                if (double.IsNaN(err)) err = double.PositiveInfinity;
                max = Math.Max(max, err);
            }
            worst[t.Name] = max;
        }
        return worst;
    }

    /// <summary>Asserts every target's worst error is within <see cref="Tolerance"/> and that some gradient is non-zero.</summary>
    public static void Assert(Func<double> loss, Action analytic, params Target[] targets)
    {
        var worst = Run(loss, analytic, targets);
        foreach (var t in targets)
            Xunit.Assert.True(t.Grad.Any(g => g != 0), $"{t.Name}: the analytic gradient is all zeros; the check would prove nothing.");
        var bad = worst.Where(kv => !(kv.Value <= Tolerance)).ToList();
        Xunit.Assert.True(bad.Count == 0,
            "gradient check failed: " + string.Join(", ", bad.Select(kv => $"{kv.Key} max rel err {kv.Value:E2}")) +
            " | all: " + string.Join(", ", worst.Select(kv => $"{kv.Key} {kv.Value:E2}")));
    }

    /// <summary>Deterministic values in [-scale, scale], candle-style (no generator to match).</summary>
    public static double[] Det(int n, double scale = 1.0, double phase = 0.0)
    {
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = scale * Math.Sin(1.3 * i + 0.7 + phase);
        return a;
    }

    /// <summary>A loss that weights every output element differently: L = Σ c_i·y_i + ½Σ y_i², with dL/dy_i = c_i + y_i.</summary>
    public static double WeightedLoss(ReadOnlySpan<double> y, ReadOnlySpan<double> c, Span<double> dy)
    {
        double l = 0;
        for (int i = 0; i < y.Length; i++) { l += c[i] * y[i] + 0.5 * y[i] * y[i]; if (!dy.IsEmpty) dy[i] = c[i] + y[i]; }
        return l;
    }
}
