using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.Kernels;

namespace Rnn.Tests.Kernels;

/// <summary>
/// The vanilla RNN cell against its scalar references for every activation, hidden sizes 1..70, a masked row, with
/// and without clipping and bias sums, float and double. Forward: float tanh/sigmoid within the operators' 1e-6 of
/// the exact reference, relu and linear and every double path exact; Backward: the same arithmetic, so exact.
/// </summary>
public class RnnCellTests
{
    private const int Batch = 3; // row 1 is masked
    private static readonly Activation[] All = [Activation.Tanh, Activation.Sigmoid, Activation.Relu, Activation.Linear];

    private static T[] Data<T>(int n, double scale, double phase) where T : unmanaged, IFloatingPointIeee754<T>
        => GradCheck.Det(n, scale, phase).Select(v => T.CreateTruncating(v)).ToArray();

    [Fact] public void Float() => Run<float>();
    [Fact] public void Double() => Run<double>();

    private static void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool isFloat = typeof(T) == typeof(float);
        for (int H = 1; H <= 70; H++)
            foreach (var f in All)
                foreach (bool masked in new[] { false, true })
                {
                    int bh = Batch * H;
                    T[] mask = masked ? [T.One, T.Zero, T.One] : [];
                    var pre = Data<T>(bh, 3.0, 0.1 * H); var hp = Data<T>(bh, 0.9, 0.2);
                    T[] h1 = (T[])pre.Clone(), h2 = (T[])pre.Clone();
                    RnnCell.Forward<T>(h1, hp, mask, f, Batch, H);
                    RnnCell.ForwardReference<T>(h2, hp, mask, f, Batch, H);
                    for (int i = 0; i < bh; i++)
                    {
                        double e = double.CreateTruncating(h2[i]), a = double.CreateTruncating(h1[i]);
                        if (isFloat && f is Activation.Tanh or Activation.Sigmoid) Assert.True(Math.Abs(e - a) <= 1e-6, $"{f} H={H} h[{i}]: expected {e}, got {a}");
                        else Assert.Equal(h2[i], h1[i]);
                    }
                    if (masked) Assert.Equal(hp.AsSpan(H, H).ToArray(), h1.AsSpan(H, H).ToArray());
                    if (isFloat && f == Activation.Tanh && !masked)
                    {
                        var t = MemoryMarshal.Cast<T, float>(pre).ToArray();
                        CellMath.Tanh(t, t);
                        Assert.Equal(t, MemoryMarshal.Cast<T, float>(h1).ToArray()); // the bits the layer's wide lanes gave
                    }

                    var dh = Data<T>(bh, 1.0, 0.4);
                    foreach (double clip in new[] { 0.0, 0.05 })
                        foreach (bool sums in new[] { false, true })
                        {
                            T c = T.CreateTruncating(clip);
                            var s0 = Data<T>(bh, 0.8, 0.9);
                            T[] d1 = new T[bh], p1 = Data<T>(bh, 5, 5), s1 = sums ? (T[])s0.Clone() : [];
                            T[] d2 = new T[bh], p2 = Data<T>(bh, 5, 5), s2 = sums ? (T[])s0.Clone() : [];
                            RnnCell.Backward<T>(d1, p1, s1, h1, dh, mask, f, c, Batch, H);
                            RnnCell.BackwardReference<T>(d2, p2, s2, h1, dh, mask, f, c, Batch, H);
                            string what = $"{f} H={H} clip={clip} sums={sums} mask={masked}";
                            Assert.True(d2.SequenceEqual(d1), $"dpre {what}");
                            Assert.True(p2.SequenceEqual(p1), $"dhPrev {what}");
                            Assert.True(s2.SequenceEqual(s1), $"dBias {what}");
                            if (clip > 0) Assert.All(d1, v => Assert.True(T.Abs(v) <= c));
                            if (f != Activation.Relu || H > 2) Assert.Contains(d1, v => v != T.Zero);
                            for (int b = 0; b < Batch; b++)
                                for (int j = 0; j < H; j++)
                                {
                                    int k = b * H + j;
                                    bool off = masked && b == 1;
                                    Assert.Equal(off ? dh[k] : T.Zero, p1[k]);
                                    if (off) Assert.Equal(T.Zero, d1[k]);
                                    if (sums) Assert.Equal(s0[k] + d1[k], s1[k]);
                                }
                            // The tanh derivative computed as dh·(1 − h²), as the layer always did.
                            if (f == Activation.Tanh && clip == 0)
                                for (int k = 0; k < bh; k++)
                                    if (!(masked && k / H == 1)) Assert.Equal(dh[k] * (T.One - h1[k] * h1[k]), d1[k]);
                        }
                }
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => RnnCell.Forward<float>(new float[5], new float[6], default, Activation.Tanh, 2, 3));
        Assert.Equal("h", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => RnnCell.Forward<float>(new float[6], new float[6], new float[3], Activation.Tanh, 2, 3));
        Assert.Equal("mask", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => RnnCell.Backward<float>(new float[6], new float[6], new float[5], new float[6], new float[6], default, Activation.Tanh, 0f, 2, 3));
        Assert.Equal("dBias", ex.ParamName);
        var ax = Assert.Throws<ArgumentOutOfRangeException>(() => RnnCell.Backward<float>(new float[6], new float[6], default, new float[6], new float[6], default, Activation.Tanh, -1f, 2, 3));
        Assert.Equal("clip", ax.ParamName);
        ax = Assert.Throws<ArgumentOutOfRangeException>(() => RnnCell.Forward<float>(new float[6], new float[6], default, (Activation)42, 2, 3));
        Assert.Equal("f", ax.ParamName);
    }
}
