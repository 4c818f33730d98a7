using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

/// <summary>
/// bf16 and int8 streaming steps against the float32 step, per cell, from the same state and input (CI reruns these on
/// every kernel path). The bound is derived, not tuned: each product's pre-activation error is the format's (see
/// QuantGemvTests: bf16 2^-8 per weight; int8 s_w/2 per weight plus the activations' s_x/2), summed over the products
/// that feed a gate, and carried through the cell: σ is ¼-Lipschitz, tanh and relu 1-Lipschitz, and both paths run
/// CellMath's approximations (|error| &lt; 1e-6, so η = 2e-6 per activation) and round each float combination
/// (ρ = 2^-21·(1 + |values|)).
/// </summary>
public class QuantStreamingTests
{
    private const double Eta = 2e-6;
    private static readonly double U = Math.Pow(2, -24);

    public static TheoryData<string, int, int, WeightPrecision> Cases()
    {
        var d = new TheoryData<string, int, int, WeightPrecision>();
        foreach (var kind in new[] { "rnn-tanh", "rnn-relu", "lstm", "lstm-proj", "lstm-peep", "lstm-peep-proj", "gru", "gru-before" })
            foreach (var (batch, hidden) in new[] { (1, 24), (3, 70) })
                foreach (var p in new[] { WeightPrecision.BFloat16, WeightPrecision.Int8 })
                    d.Add(kind, batch, hidden, p);
        return d;
    }

    private static float[] Det(int n, double scale, double phase) => GradCheck.Det(n, scale, phase).Select(v => (float)v).ToArray();

    /// <summary>Per output j, a bound on |quantised − float32| of x·Wᵀ for W (N, K), given |x_k| ≤ xAbs[k] and the step's s_x ≤ sx.</summary>
    private static double[] ProductBound(ReadOnlySpan<float> w, int N, int K, double[] xAbs, double sx, WeightPrecision p)
    {
        var b = new double[N];
        for (int j = 0; j < N; j++)
        {
            double mag = 0, q = 0, rowMax = 0;
            for (int k = 0; k < K; k++) { mag += Math.Abs(w[j * K + k]) * xAbs[k]; rowMax = Math.Max(rowMax, Math.Abs(w[j * K + k])); }
            // the float32 path's own accumulation error against the exact product, which the difference also holds
            double floatErr = (K + 2) * U * mag;
            if (p == WeightPrecision.BFloat16) { b[j] = (Math.Pow(2, -8) + (K + 2) * U) * mag + floatErr; continue; }
            double ex = sx * (0.5 + 128 * U), sw = (float)rowMax / 127f;
            for (int k = 0; k < K; k++) q += Math.Abs(w[j * K + k]) * ex + (xAbs[k] + ex) * sw / 2;
            b[j] = q + 4 * U * (mag + q) + floatErr;
        }
        return b;
    }

    private static double SxOf(ReadOnlySpan<float> x) { float m = 0; foreach (var v in x) m = Math.Max(m, Math.Abs(v)); return m / 127f; }
    private static double[] Abs(ReadOnlySpan<float> x) { var a = new double[x.Length]; for (int i = 0; i < x.Length; i++) a[i] = Math.Abs(x[i]); return a; }
    private static double MaxOf(double[] v, int from, int count) { double m = 0; for (int i = from; i < from + count; i++) m = Math.Max(m, v[i]); return m; }
    private static double MaxAbs(ReadOnlySpan<float> v) { double m = 0; foreach (var e in v) m = Math.Max(m, Math.Abs(e)); return m; }

    [Theory, MemberData(nameof(Cases))]
    public void OneStepIsWithinTheFormatsBound(string kind, int batch, int hidden, WeightPrecision precision)
    {
        const int I = 5;
        using var l = StreamingEqualsForwardTests.Make(kind, I, hidden, InitialState.Zero);
        l.Training = false;
        int H = l.CellSize, P = l.HiddenSize;
        var x = Det(batch * I, 1.3, 0.4);
        var h0 = Det(batch * P, 0.9, 0.2); var c0 = Det(batch * H, 1.7, 0.8);
        using var f = l.NewStream(batch); using var q = l.NewStream(batch, precision);
        foreach (var s in new[] { f, q }) { h0.CopyTo(s.H); if (l.StateCount == 2) c0.CopyTo(s.C); }
        l.Step(f, x); l.Step(q, x);
        for (int b = 0; b < batch; b++)
        {
            var xb = x.AsSpan(b * I, I); var hb = h0.AsSpan(b * P, P); var cb = c0.AsSpan(b * H, H);
            var dIh = ProductBound(l.WeightIh.Value, l.WeightIh.Value.Length / I, I, Abs(xb), SxOf(xb), precision);
            var dHh = ProductBound(l.WeightHh.Value, l.WeightHh.Value.Length / P, P, Abs(hb), SxOf(hb), precision);
            double hMax = MaxAbs(hb), cMax = MaxAbs(cb);
            double[] dh = new double[P], dc = new double[H];
            switch (l)
            {
                case SimpleRnn<float>:
                    for (int j = 0; j < H; j++) dh[j] = dIh[j] + dHh[j] + Eta + Rho(MaxAbs(f.H.Slice(b * H, H)) + 1);
                    break;
                case Lstm<float> lstm:
                    {
                        double pMax = lstm.Peephole == null ? 0 : lstm.Peephole.Value.Skip(2 * H).Max(Math.Abs);
                        double Blk(int g) => MaxOf(dIh, g * H, H) + MaxOf(dHh, g * H, H) + Rho(10);
                        double ai = Blk(0) / 4 + Eta, af = Blk(1) / 4 + Eta, ag = Blk(2) + Eta;
                        double dC = cMax * af + ai + (1 + ai) * ag + Rho(cMax + 2);
                        double ao = (Blk(3) + pMax * dC) / 4 + Eta;
                        double dR = ao + (1 + ao) * (dC + Eta) + Rho(2);
                        Array.Fill(dc, dC);
                        if (lstm.WeightHr == null) Array.Fill(dh, dR);
                        else
                        {
                            var whr = lstm.WeightHr.Value;
                            var dHr = ProductBound(whr, P, H, Enumerable.Repeat(1.0, H).ToArray(), 1 / 127f, precision);
                            for (int j = 0; j < P; j++) dh[j] = whr.AsSpan(j * H, H).ToArray().Sum(w => Math.Abs(w)) * dR + dHr[j] + Rho(H);
                        }
                        break;
                    }
                case Gru<float> gru:
                    {
                        double Blk(double[] d, int g) => MaxOf(d, g * H, H);
                        double ar = (Blk(dIh, 0) + Blk(dHh, 0) + Rho(10)) / 4 + Eta, az = (Blk(dIh, 1) + Blk(dHh, 1) + Rho(10)) / 4 + Eta;
                        double an;
                        if (gru.Options.ResetAfter)
                        {
                            // |W_hn·h + b_hn| from the weights, in double
                            double ghn = 0;
                            for (int j = 0; j < H; j++)
                            {
                                double v = gru.BiasHh!.Value[2 * H + j];
                                for (int k = 0; k < H; k++) v += gru.WeightHh.Value[(2 * H + j) * H + k] * (double)hb[k];
                                ghn = Math.Max(ghn, Math.Abs(v));
                            }
                            an = Blk(dIh, 2) + ar * (ghn + Blk(dHh, 2)) + Blk(dHh, 2) + Eta + Rho(ghn + 10);
                        }
                        else
                        {
                            // r⊙h moves by ≤ a_r·|h|; the n rows' product sees that through |W_hn| plus its own format error on |r⊙h| ≤ |h|
                            var whn = gru.WeightHh.Value.AsSpan(2 * H * H, H * H);
                            var dHn = ProductBound(whn, H, H, Abs(hb), SxOf(hb), precision);
                            double worst = 0;
                            for (int j = 0; j < H; j++)
                            {
                                double row = 0;
                                for (int k = 0; k < H; k++) row += Math.Abs(whn[j * H + k]);
                                worst = Math.Max(worst, row * ar * hMax + dHn[j]);
                            }
                            an = Blk(dIh, 2) + worst + Eta + Rho(10);
                        }
                        Array.Fill(dh, 2 * an + az * (1 + hMax + an) + Rho(hMax + 2));
                        break;
                    }
            }
            for (int j = 0; j < P; j++)
            {
                double diff = Math.Abs(q.H[b * P + j] - f.H[b * P + j]);
                Assert.True(diff <= dh[j], $"{kind} {precision} h[{b}, {j}]: |Δ| = {diff:G4} > bound {dh[j]:G4} (float {f.H[b * P + j]}, reduced {q.H[b * P + j]})");
            }
            if (l.StateCount == 2)
                for (int j = 0; j < H; j++)
                {
                    double diff = Math.Abs(q.C[b * H + j] - f.C[b * H + j]);
                    Assert.True(diff <= dc[j], $"{kind} {precision} c[{b}, {j}]: |Δ| = {diff:G4} > bound {dc[j]:G4}");
                }
        }
        // Some difference is there to bound: the reduced path really ran.
        Assert.NotEqual(f.H.ToArray(), q.H.ToArray());
    }

    private static double Rho(double magnitude) => 4 * U * (1 + magnitude);

    [Theory]
    [InlineData("lstm", WeightPrecision.BFloat16)]
    [InlineData("lstm-peep-proj", WeightPrecision.Int8)]
    [InlineData("gru", WeightPrecision.Int8)]
    [InlineData("gru-before", WeightPrecision.BFloat16)]
    [InlineData("rnn-relu", WeightPrecision.Int8)]
    public void StepsAllocateNothing(string kind, WeightPrecision precision)
    {
        using var l = StreamingEqualsForwardTests.Make(kind, 6, 40, InitialState.Zero);
        foreach (int batch in new[] { 1, 3 })
        {
            using var s = l.NewStream(batch, precision);
            var x = Det(batch * 6, 1, 0.3);
            l.Step(s, x); // warm-up (JIT)
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int t = 0; t < 50; t++) l.Step(s, x);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Theory]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void ResetRereadsChangedWeights(WeightPrecision precision)
    {
        using var l = StreamingEqualsForwardTests.Make("lstm-proj", 4, 20, InitialState.Zero);
        var x = Det(4, 1, 0.5);
        using var s = l.NewStream(1, precision);
        l.Step(s, x);
        var before = s.H.ToArray();
        s.Reset(); l.Step(s, x);
        Assert.Equal(before, s.H.ToArray()); // unchanged weights: the same packed values
        foreach (var w in new[] { l.WeightIh.Value, l.WeightHh.Value }) for (int i = 0; i < w.Length; i += 3) w[i] *= -1.5f;
        s.Reset(); l.Step(s, x);
        using var fresh = l.NewStream(1, precision);
        l.Step(fresh, x);
        Assert.Equal(fresh.H.ToArray(), s.H.ToArray());
        Assert.NotEqual(before, s.H.ToArray());
    }

    [Fact]
    public void PredictorRunsAtEachPrecisionAndRefusesDouble()
    {
        var spec = new ModelSpec { Cell = CellKind.Lstm, InputSize = 4, Hidden = 33, Layers = 2, OutputSize = 2 };
        var model = new SequenceModel<float>(spec, new Rng(5));
        var x = Det(2 * 4, 1, 0.1);
        var outs = new Dictionary<WeightPrecision, float[]>();
        foreach (var p in new[] { WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8 })
        {
            var pr = new Predictor<float>(model, p);
            Assert.Equal(p, pr.Precision);
            var st = pr.NewState(2);
            for (int t = 0; t < 5; t++) pr.Step(x, st);
            outs[p] = pr.Step(x, st).ToArray();
            long before = GC.GetAllocatedBytesForCurrentThread();
            pr.Step(x, st);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.NotEqual(outs[WeightPrecision.Float32], outs[WeightPrecision.Int8]);
        var dm = new SequenceModel<double>(spec, new Rng(5));
        var ex = Assert.Throws<NotSupportedException>(() => new Predictor<double>(dm, WeightPrecision.Int8));
        Assert.Contains("Double", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Predictor<float>(model, (WeightPrecision)7));
    }
}

/// <summary>The token table (Embedding·W_ihᵀ gathered per step) against the per-step product.</summary>
public class TokenTableTests
{
    [Theory]
    [InlineData(CellKind.Lstm, 1)]
    [InlineData(CellKind.Lstm, 3)]
    [InlineData(CellKind.Gru, 2)]
    [InlineData(CellKind.GruResetBefore, 1)]
    [InlineData(CellKind.RnnTanh, 3)]
    [InlineData(CellKind.RnnRelu, 40)]
    public void Float32TableGivesTheProductsBits(CellKind cell, int batch)
    {
        using var m = new SequenceModel<float>(new ModelSpec { Vocab = 30, EmbeddingDim = 7, Cell = cell, Hidden = 20, Layers = 2, OutputSize = 2 }, new Rng(4));
        var on = new Predictor<float>(m, WeightPrecision.Float32, TokenTable.On);
        var off = new Predictor<float>(m, WeightPrecision.Float32, TokenTable.Off);
        Assert.True(on.UsesTokenTable); Assert.False(off.UsesTokenTable);
        var sOn = on.NewState(batch); var sOff = off.NewState(batch);
        var ids = new int[batch];
        for (int t = 0; t < 12; t++)
        {
            for (int b = 0; b < batch; b++) ids[b] = (7 * t + 3 * b) % 30;
            Assert.Equal(off.Step(ids, sOff).ToArray(), on.Step(ids, sOn).ToArray());
        }
        // whole sequences with a mask, through PredictTokens
        int S = 9;
        var tokens = Enumerable.Range(0, batch * S).Select(i => (i * 11) % 30).ToArray();
        var mask = Enumerable.Range(0, batch * S).Select(i => i % 4 == 1 ? 0f : 1f).ToArray();
        var yOn = new float[batch * 2]; var yOff = new float[batch * 2];
        on.PredictTokens(yOn, tokens, mask, sOn, S); off.PredictTokens(yOff, tokens, mask, sOff, S);
        Assert.Equal(yOff, yOn);
        long before = GC.GetAllocatedBytesForCurrentThread();
        on.Step(ids, sOn);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Throws<ArgumentOutOfRangeException>(() => on.Step(Enumerable.Repeat(30, batch).ToArray(), sOn));
    }

    [Fact]
    public void AutoBuildsSmallTablesOnlyAndOnNeedsTokens()
    {
        using var small = new SequenceModel<float>(new ModelSpec { Vocab = 100, EmbeddingDim = 16, Cell = CellKind.Lstm, Hidden = 16, OutputSize = 1 }, new Rng(1));
        Assert.True(new Predictor<float>(small).UsesTokenTable);
        // 20000 × 512 floats = 41 MB: above the cap
        using var imdb = new SequenceModel<float>(new ModelSpec { Vocab = 20000, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1 }, new Rng(1));
        Assert.False(new Predictor<float>(imdb).UsesTokenTable);
        Assert.True(new Predictor<float>(imdb, WeightPrecision.Int8, TokenTable.On).UsesTokenTable);
        using var features = new SequenceModel<float>(new ModelSpec { InputSize = 3, Cell = CellKind.Gru, Hidden = 8, OutputSize = 1 }, new Rng(1));
        Assert.False(new Predictor<float>(features).UsesTokenTable);
        var ex = Assert.Throws<ArgumentException>(() => new Predictor<float>(features, WeightPrecision.Float32, TokenTable.On));
        Assert.Contains("tokenTable", ex.Message);
    }
}
