using System.Runtime.Intrinsics;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// The one float tanh, sigmoid and relu: every lane width (Vector512, Vector256, Vector128, scalar) gives the same
/// bits for the same input, and so does every kernel that applies them (Activations, CellMath's span loop, the
/// LSTM, GRU and RNN cells), wherever an element lands in the row.
/// </summary>
public class OperatorTests
{
    /// <summary>±0, subnormals, tiny, around the clamps, large, ±Inf, NaNs, a dense range and random bit patterns; a multiple of 16 long.</summary>
    private static float[] Sweep()
    {
        var x = new List<float>
        {
            0f, -0f, float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, float.MinValue, float.MaxValue, 1e-38f, -1e-38f,
            1e-30f, -1e-20f, 1e-10f, -1e-7f, 9f, -9f, 8.999999f, -9.000001f, 18f, -18f, 88f, -88f, 89f, -104f, 1e30f, -1e30f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN, BitConverter.Int32BitsToSingle(0x7fc12345),
        };
        for (int e = -45; e <= 40; e++)
            foreach (double m in new[] { 1.0, 1.3, 1.7, 1.99 }) { x.Add((float)(m * Math.Pow(2, e))); x.Add((float)(-m * Math.Pow(2, e))); }
        for (int i = 0; i <= 20_000; i++) x.Add(-20f + i * 2e-3f);
        var rng = new Random(15);
        for (int i = 0; i < 40_000; i++) x.Add(BitConverter.Int32BitsToSingle(rng.Next() ^ (rng.Next(2) << 31)));
        while (x.Count % 16 != 0) x.Add(0.5f);
        return x.ToArray();
    }

    private static void SameBits(float expected, float actual, float x, string what)
    {
        int e = BitConverter.SingleToInt32Bits(expected), a = BitConverter.SingleToInt32Bits(actual);
        Assert.True(e == a, $"{what}({x:R} = 0x{BitConverter.SingleToInt32Bits(x):x8}): scalar 0x{e:x8} ({expected:R}), got 0x{a:x8} ({actual:R})");
    }

    private static void EveryWidth<TOp>(string name) where TOp : struct, IUnaryOperator
    {
        var x = Sweep();
        float[] w16 = new float[x.Length], w8 = new float[x.Length], w4 = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16) TOp.Invoke(Vector512.Create(x.AsSpan(i, 16))).CopyTo(w16, i);
        for (int i = 0; i < x.Length; i += 8) TOp.Invoke(Vector256.Create(x.AsSpan(i, 8))).CopyTo(w8, i);
        for (int i = 0; i < x.Length; i += 4) TOp.Invoke(Vector128.Create(x.AsSpan(i, 4))).CopyTo(w4, i);
        for (int i = 0; i < x.Length; i++)
        {
            float s = TOp.Invoke(x[i]);
            SameBits(s, w16[i], x[i], name + " Vector512"); SameBits(s, w8[i], x[i], name + " Vector256"); SameBits(s, w4[i], x[i], name + " Vector128");
        }
    }

    [Fact] public void TanhSameBitsOnEveryWidth() => EveryWidth<TanhOperator>("tanh");
    [Fact] public void SigmoidSameBitsOnEveryWidth() => EveryWidth<SigmoidOperator>("sigmoid");
    [Fact] public void ReluSameBitsOnEveryWidth() => EveryWidth<ReluOperator>("relu");

    private static float[] Arr(Vector512<float> v) { var a = new float[16]; v.CopyTo(a); return a; }

    [Fact]
    public void LimitsAndNaNOnEveryWidth()
    {
        float[] x = [float.NegativeInfinity, -1e30f, -100f, 0f, -0f, 100f, 1e30f, float.PositiveInfinity, float.NaN, 1f, -1f, 0.5f, 20f, -20f, 3f, -3f];
        foreach (var t in new[] { Arr(TanhOperator.Invoke(Vector512.Create(x))), x.Select(TanhOperator.Invoke).ToArray() })
        {
            Assert.Equal([-1f, -1f, -1f, 0f, -0f, 1f, 1f, 1f], t[..8]);
            Assert.True(float.IsNaN(t[8]));
            Assert.True(float.IsNegative(t[4]), "tanh(-0) keeps its sign");
        }
        foreach (var s in new[] { Arr(SigmoidOperator.Invoke(Vector512.Create(x))), x.Select(SigmoidOperator.Invoke).ToArray() })
        {
            Assert.Equal([0f, 0f, 0f, 0.5f, 0.5f, 1f, 1f, 1f], s[..8]);
            Assert.True(float.IsNaN(s[8]));
        }
        var r = x.Select(ReluOperator.Invoke).ToArray();
        Assert.True(float.IsNaN(r[8])); Assert.Equal(0f, r[0]); Assert.Equal(100f, r[5]);
    }

    /// <summary>Pre-activations for one kernel row of H: values across the range, with specials mixed in.</summary>
    private static float[] Row(int n, int seed)
    {
        var rng = new Random(seed);
        float[] specials = [0f, -0f, 1e-30f, -1e-8f, 9f, -9.5f, 40f, -1e30f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 7 == 3 ? specials[(i / 7 + seed) % specials.Length] : (float)(rng.NextDouble() * 24 - 12);
        return x;
    }

    /// <summary>Every kernel's tanh and sigmoid against the scalar operator, element by element, for H = 1..70 (every mix of widths).</summary>
    [Fact]
    public void EveryKernelGivesTheScalarOperatorsBits()
    {
        const int B = 2;
        for (int H = 1; H <= 70; H++)
        {
            int bh = B * H;
            var x = Row(bh, H);
            float[] tanhWant = x.Select(TanhOperator.Invoke).ToArray(), sigWant = x.Select(SigmoidOperator.Invoke).ToArray();
            float[] reluWant = x.Select(ReluOperator.Invoke).ToArray();
            void Check(float[] want, float[] got, string what) { for (int i = 0; i < bh; i++) SameBits(want[i], got[i], x[i], $"{what} H={H} [{i}]"); }

            var y = new float[bh];
            Activations.Tanh<float>(y, x); Check(tanhWant, y, "Activations.Tanh");
            Activations.Sigmoid<float>(y, x); Check(sigWant, y, "Activations.Sigmoid");
            Activations.Relu<float>(y, x); Check(reluWant, y, "Activations.Relu");
            CellMath.Tanh(y, x); Check(tanhWant, y, "CellMath.Tanh");
            var hp = new float[bh];
            foreach (var (f, want) in new[] { (Activation.Tanh, tanhWant), (Activation.Sigmoid, sigWant), (Activation.Relu, reluWant) })
            {
                var h = (float[])x.Clone();
                RnnCell.Forward<float>(h, hp, default, f, B, H); Check(want, h, $"RnnCell {f}");
            }

            // LSTM: x as the i and g blocks of every row (f, o arbitrary); the cell stores the post-activation gates.
            var gates = new float[4 * bh];
            for (int b = 0; b < B; b++)
            {
                x.AsSpan(b * H, H).CopyTo(gates.AsSpan(b * 4 * H, H));
                x.AsSpan(b * H, H).CopyTo(gates.AsSpan(b * 4 * H + 2 * H, H));
            }
            var peepGates = (float[])gates.Clone();
            float[] lh = new float[bh], lc = new float[bh], lt = new float[bh];
            LstmCell.Forward<float>(lh, lc, lt, gates, hp, new float[bh], default, default, B, H);
            // Peepholes with p = 0 and cPrev = 0: i = σ(a_i + 0·0); a + 0 changes only −0 (σ(−0) = σ(+0)).
            LstmCell.ForwardPeephole<float>(lh, lc, lt, peepGates, hp, new float[bh], default, new float[3 * H], default, B, H);
            var gi = new float[bh]; var gg = new float[bh]; var pi = new float[bh]; var pg = new float[bh];
            for (int b = 0; b < B; b++)
            {
                gates.AsSpan(b * 4 * H, H).CopyTo(gi.AsSpan(b * H)); gates.AsSpan(b * 4 * H + 2 * H, H).CopyTo(gg.AsSpan(b * H));
                peepGates.AsSpan(b * 4 * H, H).CopyTo(pi.AsSpan(b * H)); peepGates.AsSpan(b * 4 * H + 2 * H, H).CopyTo(pg.AsSpan(b * H));
            }
            Check(sigWant, gi, "LSTM i"); Check(tanhWant, gg, "LSTM g"); Check(sigWant, pi, "LSTM peephole i"); Check(tanhWant, pg, "LSTM peephole g");

            // GRU reset-after with gh = 0: r = σ(x + 0), z = σ(x + 0).
            var gx = new float[3 * bh];
            for (int b = 0; b < B; b++) { x.AsSpan(b * H, H).CopyTo(gx.AsSpan(b * 3 * H, H)); x.AsSpan(b * H, H).CopyTo(gx.AsSpan(b * 3 * H + H, H)); }
            var gxb = (float[])gx.Clone();
            GruCell.Forward<float>(new float[bh], gx, new float[3 * bh], hp, new float[H], default, default, B, H);
            var gr = new float[bh]; var gz = new float[bh];
            for (int b = 0; b < B; b++) { gx.AsSpan(b * 3 * H, H).CopyTo(gr.AsSpan(b * H)); gx.AsSpan(b * 3 * H + H, H).CopyTo(gz.AsSpan(b * H)); }
            Check(sigWant, gr, "GRU r"); Check(sigWant, gz, "GRU z");
            // GRU reset-before: ForwardGates, then the candidate's n = tanh(x + 0).
            GruCell.ForwardGates<float>(new float[bh], gxb, new float[2 * bh], hp, B, H);
            for (int b = 0; b < B; b++) gxb.AsSpan(b * 3 * H, H).CopyTo(gr.AsSpan(b * H));
            Check(sigWant, gr, "GRU reset-before r");
            for (int b = 0; b < B; b++) x.AsSpan(b * H, H).CopyTo(gxb.AsSpan(b * 3 * H + 2 * H, H));
            GruCell.ForwardCandidate<float>(new float[bh], gxb, new float[bh], hp, default, B, H);
            for (int b = 0; b < B; b++) gxb.AsSpan(b * 3 * H + 2 * H, H).CopyTo(gg.AsSpan(b * H));
            Check(x.Select(v => TanhOperator.Invoke(v + 0f)).ToArray(), gg, "GRU reset-before n"); // −0 + 0 = +0
        }
    }
}
