using System.Runtime.Intrinsics;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>The cells' float sigmoid and tanh against double precision, the same bar as the Activations tests.</summary>
public class CellMathTests
{
    [Fact]
    public void SigmoidTanhMatchDoublePrecision()
    {
        // 600 001 points over [-30, 30] (step 1e-4), every lane width the machine runs.
        var x = Enumerable.Range(0, 600_001).Select(i => (float)(-30 + i * 1e-4)).ToArray();
        var t = new float[x.Length];
        CellMath.Tanh(t, x);
        double et = 0, es = 0, et8 = 0;
        for (int i = 0; i < x.Length; i++) et = Math.Max(et, Math.Abs(t[i] - Math.Tanh(x[i])));
        static double Sig(double v) => 1 / (1 + Math.Exp(-v));
        if (Vector512.IsHardwareAccelerated)
            for (int i = 0; i + 16 <= x.Length; i += 16)
            {
                var s = CellMath.Sigmoid(Vector512.Create(x.AsSpan(i)));
                for (int l = 0; l < 16; l++) es = Math.Max(es, Math.Abs(s[l] - Sig(x[i + l])));
            }
        if (Vector256.IsHardwareAccelerated)
            for (int i = 0; i + 8 <= x.Length; i += 8)
            {
                var s = CellMath.Sigmoid(Vector256.Create(x, i));
                var th = CellMath.Tanh(Vector256.Create(x, i));
                for (int l = 0; l < 8; l++)
                {
                    es = Math.Max(es, Math.Abs(s[l] - Sig(x[i + l])));
                    et8 = Math.Max(et8, Math.Abs(th[l] - Math.Tanh(x[i + l])));
                }
            }
        Assert.True(et <= 1e-6, $"tanh max abs error {et:E2}");
        Assert.True(et8 <= 1e-6, $"tanh (8 lanes) max abs error {et8:E2}");
        Assert.True(es <= 1e-6, $"sigmoid max abs error {es:E2}");
    }

    [Fact]
    public void LimitsAndNaN()
    {
        float[] x = [-1e30f, -100f, -88f, 0f, 88f, 100f, 1e30f, float.NegativeInfinity, float.PositiveInfinity, float.NaN, 3f, -3f, 0.5f, -0.5f, 1e-3f, -1e-3f, 7f];
        var t = new float[x.Length];
        CellMath.Tanh(t, x);
        float[] expect = [-1, -1, -1, 0, 1, 1, 1, -1, 1, float.NaN];
        for (int i = 0; i < expect.Length; i++)
        {
            if (float.IsNaN(expect[i])) Assert.True(float.IsNaN(t[i]), $"tanh({x[i]}) = {t[i]}, expected NaN");
            else Assert.Equal(expect[i], t[i]);
        }
        if (Vector512.IsHardwareAccelerated)
        {
            var s16 = CellMath.Sigmoid(Vector512.Create([-1e30f, -200f, 0f, 200f, 1e30f, float.NaN, float.NegativeInfinity, float.PositiveInfinity, 0, 0, 0, 0, 0, 0, 0, 0]));
            Assert.True(s16[0] >= 0 && s16[0] < 1e-37f); Assert.Equal(0.5f, s16[2]); Assert.Equal(1f, s16[3]); Assert.True(float.IsNaN(s16[5]));
            Assert.True(s16[6] >= 0 && s16[6] < 1e-37f); Assert.Equal(1f, s16[7]);
        }
        if (!Vector256.IsHardwareAccelerated) return;
        var s = CellMath.Sigmoid(Vector256.Create(-1e30f, -200f, 0f, 200f, 1e30f, float.NaN, float.NegativeInfinity, float.PositiveInfinity));
        Assert.True(s[0] >= 0 && s[0] < 1e-37f, $"sigmoid(-1e30) = {s[0]}");
        Assert.True(s[1] >= 0 && s[1] < 1e-37f, $"sigmoid(-200) = {s[1]}");
        Assert.Equal(0.5f, s[2]); Assert.Equal(1f, s[3]); Assert.Equal(1f, s[4]); Assert.True(float.IsNaN(s[5]));
        Assert.True(s[6] < 1e-37f); Assert.Equal(1f, s[7]);
    }
}
