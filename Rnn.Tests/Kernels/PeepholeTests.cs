using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// The peephole LSTM step: a double-precision finite-difference check of one step through ForwardPeephole and
/// BackwardPeephole (every input: pre-activations, bias, c_{t−1}, peepholes; a masked row), then the kernels
/// against their scalar references over odd hidden sizes (float forward within the operators' error, every
/// backward and every double path to 1e-14 or exact), with padded rows and dGates written over gates.
/// </summary>
public class PeepholeTests
{
    private const int Batch = 3; // row 1 is masked

    private static T[] Data<T>(int n, double scale, double phase) where T : unmanaged, IFloatingPointIeee754<T>
        => GradCheck.Det(n, scale, phase).Select(v => T.CreateTruncating(v)).ToArray();

    [Fact]
    public void OneStepGradientsMatchFiniteDifferences()
    {
        const int H = 5, bh = Batch * H;
        double[] pre = Data<double>(4 * bh, 1.5, 0.1), bias = Data<double>(4 * H, 0.5, 0.2), cPrev = Data<double>(bh, 1.2, 0.3);
        double[] hPrev = Data<double>(bh, 0.8, 0.4), peep = Data<double>(3 * H, 0.9, 0.5), mask = [1, 0, 1];
        double[] wh = Data<double>(bh, 1.0, 0.6), wc = Data<double>(bh, 0.7, 0.7); // L = Σ wh⊙h + Σ wc⊙c
        double[] gPre = new double[pre.Length], gBias = new double[bias.Length], gC = new double[bh], gPeep = new double[peep.Length], gH = new double[bh];

        double Loss()
        {
            double[] h = new double[bh], c = new double[bh], tc = new double[bh], gates = (double[])pre.Clone();
            LstmCell.ForwardPeephole<double>(h, c, tc, gates, hPrev, cPrev, bias, peep, mask, Batch, H);
            double l = 0;
            for (int k = 0; k < bh; k++) l += wh[k] * h[k] + wc[k] * c[k];
            return l;
        }

        void Analytic()
        {
            double[] h = new double[bh], c = new double[bh], tc = new double[bh], gates = (double[])pre.Clone();
            LstmCell.ForwardPeephole<double>(h, c, tc, gates, hPrev, cPrev, bias, peep, mask, Batch, H);
            double[] dc = (double[])wc.Clone(), dBias = new double[4 * bh], dPeep = new double[3 * bh];
            LstmCell.BackwardPeephole<double>(gPre, gH, dc, dBias, dPeep, wh, gates, cPrev, c, tc, peep, mask, Batch, H);
            dc.CopyTo(gC, 0);
            Array.Clear(gBias); Array.Clear(gPeep);
            for (int b = 0; b < Batch; b++)
            {
                for (int j = 0; j < 4 * H; j++) gBias[j] += dBias[b * 4 * H + j];
                for (int j = 0; j < 3 * H; j++) gPeep[j] += dPeep[b * 3 * H + j];
            }
        }

        var worst = GradCheck.Run(Loss, Analytic,
            new GradCheck.Target("pre", pre, gPre), new GradCheck.Target("bias", bias, gBias),
            new GradCheck.Target("cPrev", cPrev, gC), new GradCheck.Target("peep", peep, gPeep), new GradCheck.Target("hPrev", hPrev, gH));
        foreach (var (name, err) in worst) Assert.True(err <= 1e-7, $"{name}: max relative error {err:E2} (all: {string.Join(", ", worst.Select(kv => $"{kv.Key} {kv.Value:E2}"))})");
        foreach (var g in new[] { gPre, gBias, gC, gPeep, gH }) Assert.Contains(g, v => v != 0);
        Assert.All(gPre.AsSpan(4 * H, 4 * H).ToArray(), v => Assert.Equal(0.0, v)); // the masked row
    }

    public static TheoryData<int> Sizes => new() { 1, 3, 4, 7, 17, 33, 100, 129 };

    [Theory, MemberData(nameof(Sizes))] public void FloatMatchesReference(int h) => Run<float>(h);
    [Theory, MemberData(nameof(Sizes))] public void DoubleMatchesReference(int h) => Run<double>(h);

    private static void Close<T>(T[] expected, T[] actual, double tol, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            Assert.True(Math.Abs(e - a) <= tol + 10 * tol * Math.Abs(e), $"{what}[{i}]: expected {e}, got {a}");
        }
    }

    private static void Run<T>(int H) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool isFloat = typeof(T) == typeof(float);
        double fwdTol = isFloat ? 1e-6 : 0, backTol = isFloat ? 1e-6 : 1e-14;
        int bh = Batch * H;
        var gates = Data<T>(4 * bh, 4.0, 0.1); var hp = Data<T>(bh, 0.9, 0.2); var cp = Data<T>(bh, 2.0, 0.3);
        var bias = Data<T>(4 * H, 1.5, 0.6); var peep = Data<T>(3 * H, 0.8, 0.7);
        T[] mask = [T.One, T.Zero, T.One];
        T[] h1 = new T[bh], c1 = new T[bh], t1 = new T[bh], g1 = (T[])gates.Clone();
        T[] h2 = new T[bh], c2 = new T[bh], t2 = new T[bh], g2 = (T[])gates.Clone();
        LstmCell.ForwardPeephole<T>(h1, c1, t1, g1, hp, cp, bias, peep, mask, Batch, H);
        LstmCell.ForwardPeepholeReference<T>(h2, c2, t2, g2, hp, cp, bias, peep, mask, Batch, H);
        Close(h2, h1, fwdTol, "h"); Close(c2, c1, 4 * fwdTol, "c"); Close(g2, g1, fwdTol, "gates");
        Assert.Equal(hp.AsSpan(H, H).ToArray(), h1.AsSpan(H, H).ToArray()); Assert.Equal(cp.AsSpan(H, H).ToArray(), c1.AsSpan(H, H).ToArray());
        // Zero peepholes: exactly the plain cell (a + 0·c = a except for −0).
        T[] h0 = new T[bh], c0 = new T[bh], t0 = new T[bh], g0 = (T[])gates.Clone(), h3 = new T[bh], c3 = new T[bh], t3 = new T[bh], g3 = (T[])gates.Clone();
        LstmCell.ForwardPeephole<T>(h0, c0, t0, g0, hp, cp, bias, new T[3 * H], mask, Batch, H);
        LstmCell.Forward<T>(h3, c3, t3, g3, hp, cp, bias, mask, Batch, H);
        Assert.Equal(h3, h0); Assert.Equal(c3, c0); Assert.Equal(g3, g0);

        // Backward on the reference's tape, so both see the same inputs.
        var dh = Data<T>(bh, 1.0, 0.4); var dc = Data<T>(bh, 0.7, 0.5);
        var sb = Data<T>(4 * bh, 0.3, 0.8); var sp = Data<T>(3 * bh, 0.2, 0.9);
        T[] dg1 = new T[4 * bh], dhp1 = new T[bh], dc1 = (T[])dc.Clone(), db1 = (T[])sb.Clone(), dp1 = (T[])sp.Clone();
        T[] dg2 = new T[4 * bh], dhp2 = new T[bh], dc2 = (T[])dc.Clone(), db2 = (T[])sb.Clone(), dp2 = (T[])sp.Clone();
        LstmCell.BackwardPeephole<T>(dg1, dhp1, dc1, db1, dp1, dh, g2, cp, c2, t2, peep, mask, Batch, H);
        LstmCell.BackwardPeepholeReference<T>(dg2, dhp2, dc2, db2, dp2, dh, g2, cp, c2, t2, peep, mask, Batch, H);
        Close(dg2, dg1, backTol, "dGates"); Close(dhp2, dhp1, 0, "dhPrev"); Close(dc2, dc1, backTol, "dc");
        Close(db2, db1, backTol, "dBias"); Close(dp2, dp1, backTol, "dPeep");
        Assert.Equal(dh.AsSpan(H, H).ToArray(), dhp1.AsSpan(H, H).ToArray());
        Assert.Equal(dc.AsSpan(H, H).ToArray(), dc1.AsSpan(H, H).ToArray());
        Assert.Equal(sp.AsSpan(3 * H, 3 * H).ToArray(), dp1.AsSpan(3 * H, 3 * H).ToArray()); // nothing added for the masked row
        Assert.Contains(dp1, v => v != T.Zero);
        // Without sums: the same gradients. Padded rows with dGates over gates: the dense results.
        T[] dg4 = new T[4 * bh], dhp4 = new T[bh], dc4 = (T[])dc.Clone();
        LstmCell.BackwardPeephole<T>(dg4, dhp4, dc4, default, default, dh, g2, cp, c2, t2, peep, mask, Batch, H);
        Assert.Equal(dg1, dg4); Assert.Equal(dc1, dc4);
        int gs = 4 * H + 3;
        T[] Pad(T[] dense) { var p = new T[(Batch - 1) * gs + 4 * H]; for (int b = 0; b < Batch; b++) Array.Copy(dense, b * 4 * H, p, b * gs, 4 * H); return p; }
        T[] h5 = new T[bh], c5 = new T[bh], t5 = new T[bh], g5 = Pad(gates);
        LstmCell.ForwardPeephole<T>(h5, c5, t5, g5, hp, cp, bias, peep, mask, Batch, H, gs);
        Assert.Equal(h1, h5); Assert.Equal(c1, c5);
        T[] g6 = Pad(g2), dhp6 = new T[bh], dc6 = (T[])dc.Clone();
        LstmCell.BackwardPeephole<T>(g6, dhp6, dc6, default, default, dh, g6, cp, c2, t2, peep, mask, Batch, H, gs);
        Assert.Equal(Pad(dg1), g6.Select((v, i) => i % gs < 4 * H ? v : T.Zero).ToArray());
        Assert.Equal(dc1, dc6);
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        const int H = 2, bh = 2 * H;
        var ex = Assert.Throws<ArgumentException>(() => LstmCell.ForwardPeephole<float>(new float[bh], new float[bh], new float[bh], new float[4 * bh],
            new float[bh], new float[bh], default, new float[2 * H], default, 2, H));
        Assert.Equal("peep", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => LstmCell.BackwardPeephole<float>(new float[4 * bh], new float[bh], new float[bh], default, new float[5],
            new float[bh], new float[4 * bh], new float[bh], new float[bh], new float[bh], new float[3 * H], default, 2, H));
        Assert.Equal("dPeep", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => LstmCell.BackwardPeephole<float>(new float[4 * bh], new float[bh], new float[bh], default, default,
            new float[bh], new float[4 * bh], new float[bh], new float[3], new float[bh], new float[3 * H], default, 2, H));
        Assert.Equal("c", ex.ParamName);
    }
}
