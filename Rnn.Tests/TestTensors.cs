namespace Rnn.Tests;

/// <summary>Small tensor helpers shared by the layer tests.</summary>
internal static class TestTensors
{
    /// <summary>Steps [t0, t0+n) of a (batch, seq, f) tensor and of its (batch, seq) mask (empty stays empty).</summary>
    public static (double[], double[]) TimeSlice(double[] x, double[] mask, int batch, int seq, int t0, int n, int f)
    {
        var xs = new double[batch * n * f]; var ms = mask.Length == 0 ? Array.Empty<double>() : new double[batch * n];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < n; t++)
            {
                Array.Copy(x, (b * seq + t0 + t) * f, xs, (b * n + t) * f, f);
                if (ms.Length > 0) ms[b * n + t] = mask[b * seq + t0 + t];
            }
        return (xs, ms);
    }

    /// <summary>Asserts element-wise |expected − actual| ≤ 1e-12 + 1e-10·|expected| (same arithmetic, different order).</summary>
    public static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 + 1e-10 * Math.Abs(expected[i]),
                $"index {i}: expected {expected[i]}, got {actual[i]}");
    }
}
