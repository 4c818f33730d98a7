using System.Numerics;
using Rnn;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Tests;

/// <summary>
/// Packed batches (ForwardPacked with sequence lengths): finite-difference checks in double for every cell, both
/// directions, both padded-output options, Bidirectional and a 2-layer stack; packed against masked runs of the
/// same post-padded batch; truncation; validation and the mask-to-lengths helper.
/// </summary>
public class PackedTests
{
    private const int B = 5, S = 6, I = 3;
    /// <summary>Unsorted, with ties, the shortest (1) and the longest (S) lengths.</summary>
    internal static readonly int[] Lengths = [4, 6, 2, 6, 1];

    public static readonly string[] Cells = ["tanh", "relu", "lstm", "lstm-proj-peep", "gru", "gru-before"];

    internal static RecurrentLayer<T> Make<T>(string cell, int input, RecurrentOptionsSpec o, int seed = 5, string suffix = "_l0")
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Rng((ulong)seed);
        return cell switch
        {
            "tanh" or "relu" => new SimpleRnn<T>(input, 4, rng, o.Apply(new SimpleRnnOptions { Activation = cell == "tanh" ? Activation.Tanh : Activation.Relu, TwoBiases = true }), suffix),
            "lstm" => new Lstm<T>(input, 4, rng, o.Apply(new LstmOptions { TwoBiases = true, Dropout = o.Dropout, RecurrentDropout = o.Dropout }), suffix),
            "lstm-proj-peep" => new Lstm<T>(input, 5, rng, o.Apply(new LstmOptions { ProjSize = 3, Peepholes = true, Dropout = o.Dropout, RecurrentDropout = o.Dropout }), suffix),
            "gru" => new Gru<T>(input, 4, rng, o.Apply(new GruOptions { Dropout = o.Dropout, RecurrentDropout = o.Dropout }), suffix),
            "gru-before" => new Gru<T>(input, 4, rng, o.Apply(new GruOptions { ResetAfter = false, TwoBiases = false, Dropout = o.Dropout, RecurrentDropout = o.Dropout }), suffix),
            _ => throw new ArgumentException(cell),
        };
    }

    /// <summary>The shared options of a case.</summary>
    internal sealed record RecurrentOptionsSpec(bool Backwards = false, PaddedOutput Padded = PaddedOutput.Carry,
        InitialState Init = InitialState.Zero, bool Sequences = true, int Trunc = -1, double Dropout = 0)
    {
        public TO Apply<TO>(TO o) where TO : RecurrentOptions => o with
        {
            Backwards = Backwards,
            PaddedOutput = Padded,
            InitialState = Init,
            ReturnSequences = Sequences,
            GradientSteps = Trunc,
        };
    }

    internal static double[] MaskOf(int[] lengths, int seq)
    {
        var m = new double[lengths.Length * seq];
        for (int b = 0; b < lengths.Length; b++) for (int t = 0; t < lengths[b]; t++) m[b * seq + t] = 1;
        return m;
    }

    // ---------- finite differences ----------

    /// <summary>Checks every parameter, dx, and dh0/dc0 when given, with a loss on every output element and on the final states.</summary>
    /// <remarks>relu: a pre-activation within the finite-difference step of 0 would make the check meaningless; the
    /// input's phase is chosen so that none is (the masked relu checks do the same with their data).</remarks>
    private static void GradCheckPacked(IRecurrentLayer<double> l, int[] lengths, Action<Rng>? reseed = null, double xPhase = 0)
    {
        foreach (var p in l.Parameters) GradCheck.Det(p.Length, 0.4, p.Name.Length + p.Length).CopyTo(p.Value, 0);
        int b = lengths.Length;
        var x = GradCheck.Det(b * S * l.InputSize, 1.0, xPhase);
        bool given = l.InitialState == InitialState.Given, two = l.StateCount == 2;
        var h0 = given ? GradCheck.Det(l.StateLength(b, 0), 0.5, 11) : [];
        var c0 = given && two ? GradCheck.Det(l.StateLength(b, 1), 0.8, 12) : [];
        int outLen = b * l.OutputLength(S);
        var cy = GradCheck.Det(outLen, 1.0, 2);
        var ch = GradCheck.Det(l.StateLength(b, 0), 1.0, 13); var cc = GradCheck.Det(two ? l.StateLength(b, 1) : 0, 1.0, 14);
        var y = new double[outLen]; var dy = new double[outLen];
        var dhT = new double[ch.Length]; var dcT = new double[cc.Length];
        var dx = new double[x.Length]; var dh0 = new double[h0.Length]; var dc0 = new double[c0.Length];
        double Run(bool grad)
        {
            reseed?.Invoke(new Rng(99));
            l.ForwardPacked(y, x, lengths, h0, c0, b, S);
            Assert.Equal(BatchPadding.Lengths, l.Padding);
            double loss = GradCheck.WeightedLoss(y, cy, grad ? dy : default);
            loss += GradCheck.WeightedLoss(l.FinalH, ch, grad ? dhT : default);
            if (two) loss += GradCheck.WeightedLoss(l.FinalC, cc, grad ? dcT : default);
            return loss;
        }
        void Analytic()
        {
            l.ZeroGrad(); Array.Clear(dx); Array.Clear(dh0); Array.Clear(dc0);
            Run(true);
            l.Backward(dx, dh0, dc0, dy, dhT, dcT, b, S);
        }
        var targets = l.Parameters.Select(GradCheck.Of).ToList();
        targets.Add(new("x", x, dx));
        if (given) { targets.Add(new("h0(given)", h0, dh0)); if (two) targets.Add(new("c0(given)", c0, dc0)); }
        GradCheck.Assert(() => Run(false), Analytic, targets.ToArray());
        // x at padded steps never reaches anything.
        for (int r = 0; r < b; r++)
            for (int t = lengths[r]; t < S; t++)
                for (int i = 0; i < l.InputSize; i++) Assert.Equal(0.0, dx[(r * S + t) * l.InputSize + i]);
    }

    /// <summary>
    /// The relu cases' input phase: at phases 0, 0.1, 0.3 and 0.5 some pre-activation lies within the stencil's reach
    /// (±2e-3 of a weight moves it by about that) of relu's kink and the finite difference is off by 1e-4..1e-1 while the
    /// packed gradients agree with the masked ones (PackedEqualsMaskedBitForBit: dx to the bit, the weights to 1e-14);
    /// at 1 and 2 none does.
    /// </summary>
    private const double ReluPhase = 1.0;

    public static TheoryData<string, bool, PaddedOutput, InitialState> GradCases()
    {
        var d = new TheoryData<string, bool, PaddedOutput, InitialState>();
        foreach (var c in Cells)
            foreach (bool back in new[] { false, true })
            {
                d.Add(c, back, PaddedOutput.Carry, InitialState.Given);
                d.Add(c, back, PaddedOutput.Zero, back ? InitialState.Learned : InitialState.Zero);
            }
        return d;
    }

    [Theory]
    [MemberData(nameof(GradCases))]
    public void PackedGradientsMatchFiniteDifferences(string cell, bool backwards, PaddedOutput padded, InitialState init)
    {
        using var l = Make<double>(cell, I, new(Backwards: backwards, Padded: padded, Init: init));
        GradCheckPacked(l, Lengths, xPhase: cell == "relu" ? ReluPhase : 0);
    }

    [Theory]
    [InlineData("tanh", false)]
    [InlineData("lstm", true)]
    [InlineData("gru", false)]
    public void PackedFinalOutputGradientsMatchFiniteDifferences(string cell, bool backwards)
    {
        using var l = Make<double>(cell, I, new(Backwards: backwards, Sequences: false, Init: InitialState.Given));
        GradCheckPacked(l, Lengths);
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("lstm-proj-peep")]
    [InlineData("gru")]
    [InlineData("gru-before")]
    public void PackedDropoutGradientsMatchFiniteDifferences(string cell)
    {
        using var l = Make<double>(cell, I, new(Dropout: 0.3, Backwards: cell.StartsWith('g')));
        GradCheckPacked(l, Lengths, r => l.DropoutRng = r);
    }

    [Theory]
    [InlineData("lstm", MergeMode.Concat)]
    [InlineData("gru", MergeMode.Sum)]
    [InlineData("tanh", MergeMode.Mean)]
    public void PackedBidirectionalGradientsMatchFiniteDifferences(string cell, MergeMode merge)
    {
        var o = new RecurrentOptionsSpec(Init: InitialState.Given);
        using var bi = new Bidirectional<double>(Make<double>(cell, I, o, 1), Make<double>(cell, I, o with { Backwards = true }, 2, "_l0_reverse"), merge);
        GradCheckPacked(bi, Lengths);
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    [InlineData("relu")]
    public void PackedTwoLayerBidirectionalStackGradientsMatchFiniteDifferences(string cell)
    {
        var o = new RecurrentOptionsSpec(Init: InitialState.Given, Padded: PaddedOutput.Zero);
        var l0 = new Bidirectional<double>(Make<double>(cell, I, o, 1), Make<double>(cell, I, o with { Backwards = true }, 2, "_l0_reverse"));
        int w = l0.HiddenSize;
        var l1 = new Bidirectional<double>(Make<double>(cell, w, o, 3, "_l1"), Make<double>(cell, w, o with { Backwards = true }, 4, "_l1_reverse"));
        using var stack = new RecurrentStack<double>(l0, l1);
        GradCheckPacked(stack, Lengths);
    }

    // ---------- packed against masked ----------

    /// <summary>Everything one Forward and Backward give, copied out.</summary>
    private sealed record RunResult<T>(T[] Y, T[] H, T[] C, T[] Dx, T[] Dh0, T[] Dc0, T[][] Grads);

    private static RunResult<T> RunOnce<T>(IRecurrentLayer<T> l, T[] x, T[] mask, int[]? lengths, int b, int seq, Action<Rng>? reseed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool given = l.InitialState == InitialState.Given, two = l.StateCount == 2;
        T[] Det(int n, double scale, double phase) => GradCheck.Det(n, scale, phase).Select(T.CreateTruncating).ToArray();
        var h0 = given ? Det(l.StateLength(b, 0), 0.5, 11) : [];
        var c0 = given && two ? Det(l.StateLength(b, 1), 0.8, 12) : [];
        var y = new T[b * l.OutputLength(seq)];
        var dy = Det(y.Length, 1.0, 2);
        var dhT = Det(l.StateLength(b, 0), 1.0, 13); var dcT = two ? Det(l.StateLength(b, 1), 1.0, 14) : [];
        var dx = new T[x.Length]; var dh0 = new T[h0.Length]; var dc0 = new T[c0.Length];
        reseed?.Invoke(new Rng(7));
        l.ZeroGrad();
        if (lengths != null) l.ForwardPacked(y, x, lengths, h0, c0, b, seq);
        else l.Forward(y, x, mask, h0, c0, b, seq);
        var h = l.FinalH.ToArray(); var c = l.FinalC.ToArray();
        l.Backward(dx, dh0, dc0, dy, dhT, dcT, b, seq);
        return new(y, h, c, dx, dh0, dc0, l.Parameters.Select(p => (T[])p.Grad.Clone()).ToArray());
    }

    /// <summary>Equal element by element (== : the same value; only a zero's sign could differ).</summary>
    /// <summary>The same bits, element by element (NaN payloads and the sign of zero included); the labels say which is which.</summary>
    internal static void AssertSame<T>(ReadOnlySpan<T> want, ReadOnlySpan<T> got, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.True(want.Length == got.Length, $"{what}: expected {want.Length} elements, got {got.Length}");
        var wb = System.Runtime.InteropServices.MemoryMarshal.AsBytes(want);
        var gb = System.Runtime.InteropServices.MemoryMarshal.AsBytes(got);
        int size = wb.Length / Math.Max(1, want.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(wb.Slice(i * size, size).SequenceEqual(gb.Slice(i * size, size)), $"{what}[{i}]: expected {want[i]:R}, got {got[i]:R}");
    }

    /// <summary>
    /// Weight gradients: the packed GEMMs sum the same products as the masked ones, minus the zero rows of the padded
    /// steps, but in another row order (sorted rows, compacted steps), so the last bits may differ: within 1e-14
    /// relative to the gradient's largest element in double (measured over these tests: at most 5.8e-16, under 3 ulps
    /// of that element; 20 of 168 tensors identical).
    /// </summary>
    private static void AssertGradsClose(double[] want, double[] got, string what)
    {
        double scale = Math.Max(1e-300, want.Max(Math.Abs)), worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(want[i] - got[i]) / scale);
        Assert.True(worst <= 1e-14, $"{what}: packed vs masked max relative difference {worst:E2} > 1e-14");
    }

    public static TheoryData<string, bool, PaddedOutput, bool> EqualityCases()
    {
        var d = new TheoryData<string, bool, PaddedOutput, bool>();
        foreach (var c in Cells)
            foreach (bool back in new[] { false, true })
                foreach (var po in new[] { PaddedOutput.Carry, PaddedOutput.Zero })
                    d.Add(c, back, po, back ^ (po == PaddedOutput.Zero));
        return d;
    }

    /// <summary>The same post-padded batch masked and packed: the same bits for y, the final states, dx, dh0, dc0.</summary>
    [Theory]
    [MemberData(nameof(EqualityCases))]
    public void PackedEqualsMaskedBitForBit(string cell, bool backwards, PaddedOutput padded, bool dropout)
    {
        var o = new RecurrentOptionsSpec(Backwards: backwards, Padded: padded, Init: InitialState.Given, Dropout: dropout && cell is not ("tanh" or "relu") ? 0.3 : 0);
        Compare<double>(cell, o);
        Compare<float>(cell, o);
    }

    [Theory]
    [InlineData("lstm", false)]
    [InlineData("gru", true)]
    [InlineData("tanh", true)]
    public void PackedEqualsMaskedWithFinalOutputAndLearnedState(string cell, bool backwards)
    {
        Compare<double>(cell, new(Backwards: backwards, Sequences: false, Init: InitialState.Learned));
        Compare<double>(cell, new(Backwards: backwards, Init: InitialState.Learned));
    }

    private static void Compare<T>(string cell, RecurrentOptionsSpec o) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var l = Make<T>(cell, I, o);
        Action<Rng>? reseed = o.Dropout > 0 ? r => l.DropoutRng = r : null;
        var x = GradCheck.Det(B * S * I, 1.0).Select(T.CreateTruncating).ToArray();
        var mask = MaskOf(Lengths, S).Select(T.CreateTruncating).ToArray();
        var m = RunOnce(l, x, mask, null, B, S, reseed);
        Assert.Equal(BatchPadding.Mask, l.Padding);
        var p = RunOnce(l, x, mask, Lengths, B, S, reseed);
        Assert.Equal(BatchPadding.Lengths, l.Padding);
        var m2 = RunOnce(l, x, mask, null, B, S, reseed); // and back: the masked run is unchanged by the packed one
        AssertSame<T>(m.Y, m2.Y, "y (masked again)");
        AssertSame<T>(m.Y, p.Y, "y"); AssertSame<T>(m.H, p.H, "FinalH"); AssertSame<T>(m.C, p.C, "FinalC");
        AssertSame<T>(m.Dx, p.Dx, "dx"); AssertSame<T>(m.Dh0, p.Dh0, "dh0"); AssertSame<T>(m.Dc0, p.Dc0, "dc0");
        var names = l.Parameters.Select(q => q.Name).ToArray();
        for (int k = 0; k < names.Length; k++)
        {
            Assert.Contains(p.Grads[k], v => v != T.Zero);
            if (typeof(T) == typeof(double)) AssertGradsClose((double[])(object)m.Grads[k], (double[])(object)p.Grads[k], names[k]);
            else
            {
                var a = m.Grads[k].Select(double.CreateTruncating).ToArray(); var b = p.Grads[k].Select(double.CreateTruncating).ToArray();
                double scale = a.Max(Math.Abs);
                for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * scale, $"{names[k]}[{i}] float: {a[i]} vs {b[i]}");
            }
        }
    }

    /// <summary>
    /// Truncated BPTT (GradientSteps k) runs over the last k scan steps of the packed batch, each with its alive rows:
    /// scanning forwards that is the masked post-padded batch's truncation; scanning backwards (each row starting at
    /// its own last step) the masked pre-padded batch's, whose steps line up the same way.
    /// </summary>
    [Theory]
    [InlineData("tanh", false, PaddedOutput.Zero)]
    [InlineData("tanh", false, PaddedOutput.Carry)]
    [InlineData("lstm", false, PaddedOutput.Zero)]
    [InlineData("lstm", false, PaddedOutput.Carry)]
    [InlineData("lstm-proj-peep", true, PaddedOutput.Zero)]
    [InlineData("gru", true, PaddedOutput.Zero)]
    [InlineData("gru-before", false, PaddedOutput.Carry)]
    [InlineData("lstm", true, PaddedOutput.Zero)]
    public void PackedTruncationEqualsMaskedTruncation(string cell, bool backwards, PaddedOutput padded)
    {
        var o = new RecurrentOptionsSpec(Backwards: backwards, Padded: padded, Init: InitialState.Given, Trunc: 3);
        using var l = Make<double>(cell, I, o);
        var x = GradCheck.Det(B * S * I, 1.0);
        var mask = MaskOf(Lengths, S);
        // Backwards: the masked batch pre-padded (row b's step t at S − L + t).
        int Shift(int b) => backwards ? S - Lengths[b] : 0;
        double[] Move(double[] src, int width, bool toPre)
        {
            var dst = new double[src.Length];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < Lengths[b]; t++)
                    src.AsSpan(((b * S) + (toPre ? t : t + Shift(b))) * width, width).CopyTo(dst.AsSpan(((b * S) + (toPre ? t + Shift(b) : t)) * width, width));
            return dst;
        }
        var xm = backwards ? Move(x, I, true) : x;
        var mm = backwards ? Move(mask, 1, true) : mask;
        var m = RunOnce(l, xm, mm, null, B, S, null);
        var p = RunOnce(l, x, mask, Lengths, B, S, null);
        int P = l.HiddenSize;
        // The same dy at the same real steps: RunOnce draws dy by position, so compare outputs only where the two agree on it.
        AssertSame<double>(backwards ? Move(m.Y, P, false) : m.Y, p.Y, "y");
        AssertSame<double>(m.H, p.H, "FinalH"); AssertSame<double>(m.C, p.C, "FinalC");
        if (!backwards)
        {
            AssertSame<double>(m.Dx, p.Dx, "dx");
            for (int k = 0; k < p.Grads.Length; k++) AssertGradsClose(m.Grads[k], p.Grads[k], l.Parameters[k].Name);
        }
        // Truncated: nothing reaches the initial state, and x before the window gets no gradient.
        Assert.All(p.Dh0, v => Assert.Equal(0.0, v));
        for (int b = 0; b < B; b++)
            for (int s = 0; s < Math.Min(Lengths[b], S - 3); s++)
            {
                int t = backwards ? Lengths[b] - 1 - s : s;
                for (int i = 0; i < I; i++) Assert.Equal(0.0, p.Dx[(b * S + t) * I + i]);
            }
        Assert.Contains(p.Dx, v => v != 0);
    }

    /// <summary>Backwards, truncated: the same gradients as the masked pre-padded batch when dy sits at the same real steps.</summary>
    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void PackedBackwardsTruncationGradientsEqualMaskedPrePadded(string cell)
    {
        var o = new RecurrentOptionsSpec(Backwards: true, Padded: PaddedOutput.Zero, Trunc: 3);
        using var l = Make<double>(cell, I, o);
        int P = l.HiddenSize;
        var x = GradCheck.Det(B * S * I, 1.0); var dy = GradCheck.Det(B * S * P, 1.0, 2);
        var xm = new double[x.Length]; var dym = new double[dy.Length]; var mask = new double[B * S];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Lengths[b]; t++)
            {
                int tm = S - Lengths[b] + t;
                x.AsSpan((b * S + t) * I, I).CopyTo(xm.AsSpan((b * S + tm) * I, I));
                dy.AsSpan((b * S + t) * P, P).CopyTo(dym.AsSpan((b * S + tm) * P, P));
                mask[b * S + tm] = 1;
            }
        var y = new double[dy.Length]; var dxm = new double[x.Length]; var dxp = new double[x.Length];
        l.ZeroGrad();
        l.Forward(y, xm, mask, B, S); l.Backward(dxm, dym, B, S);
        var gm = l.Parameters.Select(q => (double[])q.Grad.Clone()).ToArray();
        l.ZeroGrad();
        l.ForwardPacked(y, x, Lengths, B, S); l.Backward(dxp, dy, B, S);
        for (int k = 0; k < gm.Length; k++) AssertGradsClose(gm[k], l.Parameters[k].Grad, l.Parameters[k].Name);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Lengths[b]; t++)
                AssertSame<double>(dxm.AsSpan((b * S + S - Lengths[b] + t) * I, I), dxp.AsSpan((b * S + t) * I, I), $"dx[{b},{t}]");
    }

    /// <summary>
    /// Rows in any order: permuting the batch (x, lengths, h0, dy, dhT together) permutes y, the final states, dx and
    /// dh0 bit for bit (a row's arithmetic does not depend on its neighbours), and leaves the weight gradients (to the
    /// last bits: the rows are summed in another order where lengths tie).
    /// </summary>
    [Theory]
    [InlineData("lstm", false)]
    [InlineData("gru", true)]
    [InlineData("lstm-proj-peep", true)]
    public void PackedResultsFollowTheRowsWhateverTheirOrder(string cell, bool backwards)
    {
        using var l = Make<double>(cell, I, new(Backwards: backwards, Init: InitialState.Given));
        int P = l.HiddenSize, H = l.StateCount == 2 ? l.StateLength(1, 1) : 0;
        foreach (var q in l.Parameters) GradCheck.Det(q.Length, 0.4, q.Name.Length).CopyTo(q.Value, 0);
        var x = GradCheck.Det(B * S * I, 1.0); var dy = GradCheck.Det(B * S * P, 1.0, 2);
        var h0 = GradCheck.Det(B * P, 0.5, 3); var c0 = GradCheck.Det(B * H, 0.5, 4); var dhT = GradCheck.Det(B * P, 1.0, 5);
        int[] order = [4, 2, 0, 3, 1];
        double[] Rows(double[] src, int w)
        {
            var dst = new double[src.Length];
            for (int k = 0; k < B; k++) src.AsSpan(order[k] * w, w).CopyTo(dst.AsSpan(k * w, w));
            return dst;
        }
        (double[] Y, double[] H, double[] C, double[] Dx, double[] Dh0, double[][] G) Run(double[] x_, int[] lens, double[] h0_, double[] c0_, double[] dy_, double[] dhT_)
        {
            var y = new double[dy_.Length]; var dx = new double[x_.Length]; var dh0 = new double[h0_.Length];
            l.ZeroGrad();
            l.ForwardPacked(y, x_, lens, h0_, c0_, B, S);
            var h = l.FinalH.ToArray(); var c = l.FinalC.ToArray();
            l.Backward(dx, dh0, default, dy_, dhT_, default, B, S);
            return (y, h, c, dx, dh0, l.Parameters.Select(q => (double[])q.Grad.Clone()).ToArray());
        }
        var a = Run(x, Lengths, h0, c0, dy, dhT);
        var r = Run(Rows(x, S * I), order.Select(k => Lengths[k]).ToArray(), Rows(h0, P), Rows(c0, H), Rows(dy, S * P), Rows(dhT, P));
        AssertSame<double>(Rows(a.Y, S * P), r.Y, "y"); AssertSame<double>(Rows(a.H, P), r.H, "FinalH");
        AssertSame<double>(Rows(a.C, H), r.C, "FinalC"); AssertSame<double>(Rows(a.Dx, S * I), r.Dx, "dx");
        AssertSame<double>(Rows(a.Dh0, P), r.Dh0, "dh0");
        for (int k = 0; k < a.G.Length; k++) AssertGradsClose(a.G[k], r.G[k], l.Parameters[k].Name);
    }

    // ---------- validation and the mask helper ----------

    [Fact]
    public void LengthsAreValidated()
    {
        using var l = Make<double>("lstm", I, new());
        var x = new double[B * S * I]; var y = new double[B * S * 4];
        var e1 = Assert.Throws<ArgumentException>(() => l.ForwardPacked(y, x, [1, 2, 3], B, S));
        Assert.Contains("lengths: expected one length per batch row (5), got 3", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => l.ForwardPacked(y, x, [1, 2, 0, 3, 4], B, S));
        Assert.Contains("lengths[2]: expected 1..6 (seq), got 0", e2.Message);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => l.ForwardPacked(y, x, [1, 2, 3, 7, 4], B, S));
        Assert.Contains("lengths[3]: expected 1..6 (seq), got 7", e3.Message);
        using var bi = new Bidirectional<double>(Make<double>("gru", I, new()), Make<double>("gru", I, new(Backwards: true)));
        Assert.Throws<ArgumentOutOfRangeException>(() => bi.ForwardPacked(new double[B * S * 8], x, [1, 2, -1, 3, 4], B, S));
        using var stack = new RecurrentStack<double>(Make<double>("tanh", I, new()));
        Assert.Throws<ArgumentException>(() => stack.ForwardPacked(y, x, [6, 6], B, S));
    }

    [Fact]
    public void MaskToLengthsAcceptsOnlyContiguousMasks()
    {
        var lens = new int[B];
        SequenceLengths.FromMask<double>(MaskOf(Lengths, S), B, S, lens);
        Assert.Equal(Lengths, lens);
        var gap = MaskOf(Lengths, S); gap[1 * S + 2] = 0;
        var e = Assert.Throws<ArgumentException>(() => SequenceLengths.FromMask<double>(gap, B, S, lens));
        Assert.Contains("a 1 after a 0 at (b=1, t=3)", e.Message);
        var empty = MaskOf(Lengths, S); empty[4 * S] = 0;
        Assert.Contains("none in row 4", Assert.Throws<ArgumentException>(() => SequenceLengths.FromMask<double>(empty, B, S, lens)).Message);
        var half = MaskOf(Lengths, S); half[0] = 0.5;
        Assert.Contains("expected 0 or 1, got 0.5 at (b=0, t=0)", Assert.Throws<ArgumentException>(() => SequenceLengths.FromMask<double>(half, B, S, lens)).Message);
        Assert.Contains("mask: expected shape", Assert.Throws<ArgumentException>(() => SequenceLengths.FromMask<double>(new double[3], B, S, lens)).Message);
        Assert.Contains("lengths: expected one element per batch row", Assert.Throws<ArgumentException>(() => SequenceLengths.FromMask<double>(MaskOf(Lengths, S), B, S, new int[2])).Message);
    }

    [Fact]
    public void PaddingSaysWhatTheLastForwardGot()
    {
        using var l = Make<float>("gru", I, new());
        var x = new float[B * S * I]; var y = new float[B * S * 4];
        l.Forward(y, x, default, B, S);
        Assert.Equal(BatchPadding.None, l.Padding);
        l.ForwardPacked(y, x, Lengths, B, S);
        Assert.Equal(BatchPadding.Lengths, l.Padding);
        l.Forward(y, x, MaskOf(Lengths, S).Select(v => (float)v).ToArray(), B, S);
        Assert.Equal(BatchPadding.Mask, l.Padding);
    }

    [Fact]
    public void PackedInferenceGivesTheTrainingOutputs()
    {
        foreach (var cell in Cells)
        {
            using var l = Make<float>(cell, I, new());
            var x = GradCheck.Det(B * S * I).Select(v => (float)v).ToArray();
            var y1 = new float[B * l.OutputLength(S)]; var y2 = new float[y1.Length];
            l.ForwardPacked(y1, x, Lengths, B, S);
            var h1 = l.FinalH.ToArray(); var c1 = l.FinalC.ToArray();
            l.Training = false;
            l.ForwardPacked(y2, x, Lengths, B, S);
            AssertSame<float>(y1, y2, cell + " y"); AssertSame<float>(h1, l.FinalH, cell + " h"); AssertSame<float>(c1, l.FinalC, cell + " c");
        }
    }
}

/// <summary>Packed runs with the kernel pool: any thread count gives the same bits, and a steady-state step allocates nothing.</summary>
[Collection("Kernels")]
public class PackedThreadingTests
{
    [Theory]
    [InlineData("lstm", -1)]
    [InlineData("gru", -1)]
    [InlineData("tanh", -1)]
    [InlineData("lstm", 9)]
    public void PackedRunsAreBitIdenticalForAnyThreadCount(string cell, int trunc)
    {
        const int b = 37, s = 23;
        var lengths = Enumerable.Range(0, b).Select(k => 1 + (k * 7919 % s)).ToArray();
        var x = GradCheck.Det(b * s * 8).Select(v => (float)v).ToArray();
        float[][] Run(int threads)
        {
            Engine.Threads = threads;
            using var l = PackedTests.Make<float>(cell, 8, new(Backwards: cell == "gru", Trunc: trunc));
            var y = new float[b * l.OutputLength(s)]; var dy = GradCheck.Det(y.Length, 1, 3).Select(v => (float)v).ToArray(); var dx = new float[x.Length];
            l.ForwardPacked(y, x, lengths, b, s);
            l.Backward(dx, dy, b, s);
            return [y, dx, .. l.Parameters.Select(p => p.Grad)];
        }
        try
        {
            var one = Run(1);
            foreach (int t in new[] { 2, 3 })
            {
                var many = Run(t);
                for (int k = 0; k < one.Length; k++) PackedTests.AssertSame<float>(one[k], many[k], $"{cell} threads={t} tensor {k}");
            }
        }
        finally { Engine.Threads = 1; }
    }

    [Fact]
    public void RowsOfUnequalWorkSplitByWork()
    {
        // Sorted lengths, as a packed batch holds them: equal row counts would give thread 0 most of the work.
        int[] work = [400, 400, 380, 350, 300, 260, 220, 200, 180, 150, 120, 100, 90, 60, 40, 20];
        foreach (int chunks in new[] { 2, 3, 4 })
        {
            var bounds = new int[chunks + 1];
            Rnn.Kernels.WorkerPool.WorkBounds(work, chunks, bounds);
            Assert.Equal(0, bounds[0]); Assert.Equal(work.Length, bounds[chunks]);
            long total = work.Sum();
            for (int c = 0; c < chunks; c++)
            {
                Assert.True(bounds[c + 1] > bounds[c], $"chunk {c} of {chunks} is empty: [{string.Join(", ", bounds)}]");
                long sum = work[bounds[c]..bounds[c + 1]].Sum();
                Assert.True(Math.Abs(sum - total / (double)chunks) <= work.Max(), $"chunk {c} of {chunks} holds {sum} of {total}: [{string.Join(", ", bounds)}]");
            }
        }
        // As many chunks as rows: one row each, whatever the work.
        var one = new int[4];
        Rnn.Kernels.WorkerPool.WorkBounds([100, 1, 1], 3, one);
        Assert.Equal([0, 1, 2, 3], one);
    }

    [Theory]
    [InlineData("lstm", false)]
    [InlineData("lstm-proj-peep", true)]
    [InlineData("gru", true)]
    [InlineData("gru-before", false)]
    [InlineData("tanh", false)]
    public void PackedTrainingStepAllocatesNothingAfterWarmUp(string cell, bool dropout)
    {
        const int b = 32, s = 20;
        var lengths = Enumerable.Range(0, b).Select(k => 1 + (k * 13 % s)).ToArray();
        using var l = PackedTests.Make<float>(cell, 16, new(Dropout: dropout ? 0.2 : 0, Backwards: dropout));
        var x = GradCheck.Det(b * s * 16).Select(v => (float)v).ToArray();
        var y = new float[b * l.OutputLength(s)]; var dy = new float[y.Length]; dy.AsSpan().Fill(0.01f); var dx = new float[x.Length];
        for (int k = 0; k < 3; k++) { l.ForwardPacked(y, x, lengths, b, s); l.Backward(dx, dy, b, s); }
        long before = GC.GetAllocatedBytesForCurrentThread();
        l.ForwardPacked(y, x, lengths, b, s);
        l.Backward(dx, dy, b, s);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
    }
}

/// <summary>The batcher's length bucketing: seeded and reproducible, every example once per epoch, similar lengths per batch.</summary>
public class BucketingTests
{
    /// <summary>IMDB-like lengths: a long tail clipped at 400 (most reviews are shorter).</summary>
    private static int[] Lengths(int n, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Clamp((int)(40 + 400 * -Math.Log(1 - rng.NextDouble()) / 2.2), 1, 400)).ToArray();
    }

    private static List<int[]> Epoch(Rnn.Data.Batcher b) => b.NextEpoch().Select(m => m.ToArray()).ToList();

    [Fact]
    public void BucketedEpochsAreReproducibleAndCoverEveryExampleOnce()
    {
        var lens = Lengths(1000, 1);
        var a = new Rnn.Data.Batcher(lens, 32, new Rng(7), poolBatches: 5);
        var b = new Rnn.Data.Batcher(lens, 32, new Rng(7), poolBatches: 5);
        var c = new Rnn.Data.Batcher(lens, 32, new Rng(8), poolBatches: 5);
        Assert.True(a.Bucketing);
        var e1 = Epoch(a); var e2 = Epoch(a);
        Assert.Equal(e1, Epoch(b));
        Assert.Equal(e2, Epoch(b));
        Assert.NotEqual(e1, e2);
        Assert.NotEqual(e1, Epoch(c));
        foreach (var e in new[] { e1, e2 })
        {
            Assert.Equal(32, e.Count); // 31 full batches and one of 8
            Assert.Equal(Enumerable.Range(0, 1000), e.SelectMany(x => x).Order());
            Assert.Single(e, x => x.Length == 8);
        }
        var d = new Rnn.Data.Batcher(lens, 32, new Rng(7), poolBatches: 5, dropLast: true);
        var ed = Epoch(d);
        Assert.Equal(31, ed.Count);
        Assert.All(ed, x => Assert.Equal(32, x.Length));
    }

    [Fact]
    public void BucketedBatchesHoldSimilarLengths()
    {
        var lens = Lengths(4000, 2);
        // Padding per batch as a share of its steps: (B·max − Σ len) / (B·max).
        static double Padding(IEnumerable<int[]> batches, int[] lens) =>
            batches.Sum(x => (double)(x.Length * x.Max(i => lens[i]) - x.Sum(i => lens[i]))) / batches.Sum(x => (double)x.Length * x.Max(i => lens[i]));
        var plain = Epoch(new Rnn.Data.Batcher(lens.Length, 32, new Rng(3)));
        var bucketed = Epoch(new Rnn.Data.Batcher(lens, 32, new Rng(3), poolBatches: 50));
        double pp = Padding(plain, lens), pb = Padding(bucketed, lens);
        Assert.True(pp > 0.3, $"the unbucketed batches should pad a lot: {pp:P1}");
        Assert.True(pb < 0.05, $"bucketed padding {pb:P1} (unbucketed {pp:P1})");
        // Within a pool the batches are consecutive runs of the pool sorted by length, longest first: each batch is
        // sorted, and two batches of one pool overlap at most at a tie.
        foreach (var x in bucketed)
            for (int k = 1; k < x.Length; k++) Assert.True(lens[x[k - 1]] >= lens[x[k]]);
        // Without a generator: one global sort, batches in order, so every batch spans the fewest lengths it can.
        var eval = Epoch(new Rnn.Data.Batcher(lens, 32, null));
        var sorted = lens.OrderByDescending(v => v).ToArray();
        for (int k = 0; k < eval.Count; k++)
            Assert.Equal(sorted.Skip(k * 32).Take(32), eval[k].Select(i => lens[i]));
    }

    [Fact]
    public void BucketingValidatesItsArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn.Data.Batcher([3, -1, 2], 2, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn.Data.Batcher([3, 1, 2], 2, new Rng(1), poolBatches: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rnn.Data.Batcher(ReadOnlySpan<int>.Empty, 2, new Rng(1)));
    }
}
