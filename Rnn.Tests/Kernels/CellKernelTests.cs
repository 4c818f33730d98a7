using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// The fused LSTM and GRU cell kernels against their scalar references, over odd hidden sizes so that every
/// vector width and the scalar tail run, with a masked row in the batch. float exercises the vectorised forward
/// paths (the rational sigmoid/tanh, tolerance 1e-6 absolute + 1e-5 relative); double exercises the Vector&lt;T&gt;
/// backward paths, whose arithmetic matches the reference's order (tolerance 1e-14; the LSTM's backward, bit for bit).
/// </summary>
public class CellKernelTests
{
    public static TheoryData<int> Sizes => new() { 1, 3, 7, 17, 25, 33, 100, 129 }; // 25 = 16 + 8 + 1: every width and the tail
    private const int Batch = 3; // row 1 is masked

    private static T[] Data<T>(int n, double scale, double phase) where T : unmanaged, IFloatingPointIeee754<T>
        => GradCheck.Det(n, scale, phase).Select(v => T.CreateTruncating(v)).ToArray();

    private static T[] Mask<T>() where T : unmanaged, IFloatingPointIeee754<T> => [T.One, T.Zero, T.One];

    private static void Close<T>(T[] expected, T[] actual, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool isFloat = typeof(T) == typeof(float);
        double atol = isFloat ? 1e-6 : 1e-14, rtol = isFloat ? 1e-5 : 1e-14;
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            Assert.True(Math.Abs(e - a) <= atol + rtol * Math.Abs(e), $"{what}[{i}]: expected {e}, got {a}");
        }
    }

    private static T[] C<T>(T[] a) => (T[])a.Clone();

    [Theory, MemberData(nameof(Sizes))] public void LstmFloat(int h) => Lstm<float>(h);
    [Theory, MemberData(nameof(Sizes))] public void LstmDouble(int h) => Lstm<double>(h);
    [Theory, MemberData(nameof(Sizes))] public void GruAfterFloat(int h) => GruAfter<float>(h);
    [Theory, MemberData(nameof(Sizes))] public void GruAfterDouble(int h) => GruAfter<double>(h);
    [Theory, MemberData(nameof(Sizes))] public void GruBeforeFloat(int h) => GruBefore<float>(h);
    [Theory, MemberData(nameof(Sizes))] public void GruBeforeDouble(int h) => GruBefore<double>(h);

    private static void Lstm<T>(int H) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bh = Batch * H;
        var gates = Data<T>(4 * bh, 4.0, 0.1); var hp = Data<T>(bh, 0.9, 0.2); var cp = Data<T>(bh, 2.0, 0.3);
        var mask = Mask<T>();
        T[] h1 = new T[bh], c1 = new T[bh], t1 = new T[bh], g1 = C(gates);
        T[] h2 = new T[bh], c2 = new T[bh], t2 = new T[bh], g2 = C(gates);
        LstmCell.Forward<T>(h1, c1, t1, g1, hp, cp, default, mask, Batch, H);
        LstmCell.ForwardReference<T>(h2, c2, t2, g2, hp, cp, default, mask, Batch, H);
        Close(h2, h1, "h"); Close(c2, c1, "c"); Close(g2, g1, "gates");
        // With the bias added by the cell: the same as gates that already held it.
        var bias = Data<T>(4 * H, 1.5, 0.6);
        var gb = C(gates);
        for (int i = 0; i < gb.Length; i++) gb[i] += bias[i % (4 * H)];
        T[] h3 = new T[bh], c3 = new T[bh], t3 = new T[bh], g3 = C(gates), h4 = new T[bh], c4 = new T[bh], t4 = new T[bh], g4 = C(gates);
        T[] h5 = new T[bh], c5 = new T[bh], t5 = new T[bh];
        LstmCell.Forward<T>(h3, c3, t3, g3, hp, cp, bias, mask, Batch, H);
        LstmCell.ForwardReference<T>(h4, c4, t4, g4, hp, cp, bias, mask, Batch, H);
        LstmCell.Forward<T>(h5, c5, t5, gb, hp, cp, default, mask, Batch, H);
        Close(h4, h3, "h (bias)"); Close(c4, c3, "c (bias)");
        Assert.Equal(h5, h3); Assert.Equal(c5, c3); // the same additions, rounded the same way
        // tc of the masked row is not written; compare the live rows.
        Close(t2.Where((_, i) => i / H != 1).ToArray(), t1.Where((_, i) => i / H != 1).ToArray(), "tc");
        Assert.Equal(hp.AsSpan(H, H).ToArray(), h1.AsSpan(H, H).ToArray());

        var dh = Data<T>(bh, 1.0, 0.4); var dc = Data<T>(bh, 0.7, 0.5);
        T[] dg1 = new T[4 * bh], dhp1 = new T[bh], dc1 = C(dc);
        T[] dg2 = new T[4 * bh], dhp2 = new T[bh], dc2 = C(dc);
        LstmCell.Backward<T>(dg1, dhp1, dc1, default, dh, g2, cp, t2, mask, Batch, H);
        LstmCell.BackwardReference<T>(dg2, dhp2, dc2, default, dh, g2, cp, t2, mask, Batch, H);
        Close(dg2, dg1, "dGates"); Close(dhp2, dhp1, "dhPrev"); Close(dc2, dc1, "dc");
        // Backward is products and sums in the reference's order at every width and in the tail: the same bits.
        Assert.Equal(dg2, dg1); Assert.Equal(dc2, dc1);
        Assert.Equal(dh.AsSpan(H, H).ToArray(), dhp1.AsSpan(H, H).ToArray());
        Assert.Contains(dg1, v => v != T.Zero);
        // With per-row bias sums: the same outputs, and dGates added to the sums (masked rows add zeros).
        var sums0 = Data<T>(4 * bh, 0.8, 0.9);
        T[] dg3 = new T[4 * bh], dhp3 = new T[bh], dc3 = C(dc), s3 = C(sums0), dg4 = new T[4 * bh], dhp4 = new T[bh], dc4 = C(dc), s4 = C(sums0);
        LstmCell.Backward<T>(dg3, dhp3, dc3, s3, dh, g2, cp, t2, mask, Batch, H);
        LstmCell.BackwardReference<T>(dg4, dhp4, dc4, s4, dh, g2, cp, t2, mask, Batch, H);
        Assert.Equal(dg1, dg3); Assert.Equal(dc1, dc3); Assert.Equal(dhp1, dhp3);
        Assert.Equal(sums0.Zip(dg3, (a, d) => a + d).ToArray(), s3);
        Assert.Equal(sums0.Zip(dg4, (a, d) => a + d).ToArray(), s4);

        // Rows gs apart (padded), and Backward writing dGates over gates: the dense results, row by row.
        int gs = 4 * H + 3;
        T[] Pad(T[] dense) { var p = new T[(Batch - 1) * gs + 4 * H]; for (int b = 0; b < Batch; b++) Array.Copy(dense, b * 4 * H, p, b * gs, 4 * H); return p; }
        T[] h6 = new T[bh], c6 = new T[bh], t6 = new T[bh], g6 = Pad(gates);
        LstmCell.Forward<T>(h6, c6, t6, g6, hp, cp, default, mask, Batch, H, gs);
        Assert.Equal(h1, h6); Assert.Equal(c1, c6);
        foreach (bool reference in new[] { false, true })
        {
            T[] g7 = Pad(g2), dhp7 = new T[bh], dc7 = C(dc);
            if (reference) LstmCell.BackwardReference<T>(g7, dhp7, dc7, default, dh, g7, cp, t2, mask, Batch, H, gs);
            else LstmCell.Backward<T>(g7, dhp7, dc7, default, dh, g7, cp, t2, mask, Batch, H, gs);
            Assert.Equal(Pad(reference ? dg2 : dg1), g7.Select((v, i) => i % gs < 4 * H ? v : T.Zero).ToArray());
            Assert.Equal(reference ? dc2 : dc1, dc7);
        }
    }

    private static void GruAfter<T>(int H) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bh = Batch * H;
        var gx = Data<T>(3 * bh, 3.0, 0.1); var gh = Data<T>(3 * bh, 2.0, 0.6); var hp = Data<T>(bh, 0.9, 0.2);
        var bhn = Data<T>(H, 0.5, 0.7); var mask = Mask<T>();
        T[] h1 = new T[bh], x1 = C(gx), g1 = C(gh), h2 = new T[bh], x2 = C(gx), g2 = C(gh);
        GruCell.Forward<T>(h1, x1, g1, hp, bhn, default, mask, Batch, H);
        GruCell.ForwardReference<T>(h2, x2, g2, hp, bhn, default, mask, Batch, H);
        Close(h2, h1, "h"); Close(x2, x1, "gx"); Close(g2, g1, "gh");
        Assert.Equal(hp.AsSpan(H, H).ToArray(), h1.AsSpan(H, H).ToArray());
        // With the x-side biases added by the cell: the same bits as gx that already held them.
        var bias = Data<T>(3 * H, 1.5, 0.6);
        var gxb = C(gx);
        for (int i = 0; i < gxb.Length; i++) gxb[i] += bias[i % (3 * H)];
        T[] h3 = new T[bh], x3 = C(gx), g3 = C(gh), h4 = new T[bh], x4 = C(gx), g4 = C(gh), h5 = new T[bh], g5 = C(gh);
        GruCell.Forward<T>(h3, x3, g3, hp, bhn, bias, mask, Batch, H);
        GruCell.ForwardReference<T>(h4, x4, g4, hp, bhn, bias, mask, Batch, H);
        GruCell.Forward<T>(h5, gxb, g5, hp, bhn, default, mask, Batch, H);
        Close(h4, h3, "h (bias)");
        Assert.Equal(h5, h3); Assert.Equal(g5, g3);

        var dh = Data<T>(bh, 1.0, 0.4);
        T[] dx1 = new T[3 * bh], dg1 = new T[3 * bh], dhp1 = new T[bh], dx2 = new T[3 * bh], dg2 = new T[3 * bh], dhp2 = new T[bh];
        GruCell.Backward<T>(dx1, dg1, dhp1, default, dh, x2, g2, hp, mask, Batch, H);
        GruCell.BackwardReference<T>(dx2, dg2, dhp2, default, dh, x2, g2, hp, mask, Batch, H);
        Close(dx2, dx1, "dgx"); Close(dg2, dg1, "dgh"); Close(dhp2, dhp1, "dhPrev");
        Assert.Contains(dx1, v => v != T.Zero);
        // With per-row bias sums: the same outputs, and [dr, dz, dn, dn⊙r] added to the sums.
        var sums0 = Data<T>(4 * bh, 0.8, 0.9);
        T[] dx3 = new T[3 * bh], dg3 = new T[3 * bh], dhp3 = new T[bh], s3 = C(sums0), dx4 = new T[3 * bh], dg4 = new T[3 * bh], dhp4 = new T[bh], s4 = C(sums0);
        GruCell.Backward<T>(dx3, dg3, dhp3, s3, dh, x2, g2, hp, mask, Batch, H);
        GruCell.BackwardReference<T>(dx4, dg4, dhp4, s4, dh, x2, g2, hp, mask, Batch, H);
        Assert.Equal(dx1, dx3); Assert.Equal(dg1, dg3); Assert.Equal(dhp1, dhp3);
        foreach (var (dx, dg, s) in new[] { (dx3, dg3, s3), (dx4, dg4, s4) })
            for (int b = 0; b < Batch; b++)
                for (int j = 0; j < H; j++)
                {
                    int o = b * 3 * H + j, q = b * 4 * H + j;
                    Assert.Equal(sums0[q] + dx[o], s[q]); Assert.Equal(sums0[q + H] + dx[o + H], s[q + H]);
                    Assert.Equal(sums0[q + 2 * H] + dx[o + 2 * H], s[q + 2 * H]); Assert.Equal(sums0[q + 3 * H] + dg[o + 2 * H], s[q + 3 * H]);
                }
    }

    private static void GruBefore<T>(int H) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bh = Batch * H;
        var gx = Data<T>(3 * bh, 3.0, 0.1); var ghrz = Data<T>(2 * bh, 2.0, 0.6); var hin = Data<T>(bh, 0.9, 0.2);
        var ghn = Data<T>(bh, 1.5, 0.8); var hp = Data<T>(bh, 0.8, 0.9); var mask = Mask<T>();
        T[] rh1 = new T[bh], x1 = C(gx), rh2 = new T[bh], x2 = C(gx);
        GruCell.ForwardGates<T>(rh1, x1, ghrz, hin, Batch, H);
        GruCell.ForwardGatesReference<T>(rh2, x2, ghrz, hin, Batch, H);
        Close(rh2, rh1, "rh"); Close(x2, x1, "gx(r,z)");
        T[] h1 = new T[bh], h2 = new T[bh];
        GruCell.ForwardCandidate<T>(h1, x1, ghn, hp, mask, Batch, H);
        GruCell.ForwardCandidateReference<T>(h2, x2, ghn, hp, mask, Batch, H);
        Close(h2, h1, "h"); Close(x2, x1, "gx(n)");
        Assert.Equal(hp.AsSpan(H, H).ToArray(), h1.AsSpan(H, H).ToArray());

        var dh = Data<T>(bh, 1.0, 0.4);
        T[] dx1 = new T[3 * bh], dn1 = new T[bh], dhp1 = new T[bh], dx2 = new T[3 * bh], dn2 = new T[bh], dhp2 = new T[bh];
        GruCell.BackwardCandidate<T>(dx1, dn1, dhp1, dh, x2, hp, mask, Batch, H);
        GruCell.BackwardCandidateReference<T>(dx2, dn2, dhp2, dh, x2, hp, mask, Batch, H);
        Close(dx2, dx1, "dgx(z,n)"); Close(dn2, dn1, "dgn"); Close(dhp2, dhp1, "dhPrev");
        var drh = Data<T>(bh, 0.6, 0.3);
        T[] drz1 = new T[2 * bh], drz2 = new T[2 * bh], dhin1 = C(dhp2), dhin2 = C(dhp2);
        GruCell.BackwardReset<T>(dx1, drz1, dhin1, drh, x2, hin, Batch, H);
        GruCell.BackwardResetReference<T>(dx2, drz2, dhin2, drh, x2, hin, Batch, H);
        Close(dx2, dx1, "dgx"); Close(drz2, drz1, "dgrz"); Close(dhin2, dhin1, "dhin");
        Assert.Contains(drz1, v => v != T.Zero);
    }
}
