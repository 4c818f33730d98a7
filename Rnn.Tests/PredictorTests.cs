using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

public class PredictorTests
{
    private const int B = 3, S = 6;

    public static TheoryData<CellKind, int, bool> Cases => new()
    {
        { CellKind.RnnTanh, 1, true }, { CellKind.Lstm, 2, true }, { CellKind.Lstm, 1, false },
        { CellKind.Gru, 2, false }, { CellKind.GruResetBefore, 1, true }, { CellKind.RnnRelu, 2, false },
    };

    private static SequenceModel<double> Model(CellKind cell, int layers, bool perStep, bool learnedInit = false)
        => new(new ModelSpec { InputSize = 4, Cell = cell, Hidden = 5, Layers = layers, OutputSize = 2, PerStep = perStep, Init = InitScheme.PyTorch, HeadDropout = 0.5 }, new Rng(21)) { Training = false };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StepAndPredictMatchForward(CellKind cell, int layers, bool perStep)
    {
        using var m = Model(cell, layers, perStep);
        var x = GradCheck.Det(B * S * 4);
        var mask = SimpleRnnGradTests.PostPadMask(B, S);
        var expected = m.Forward(x, mask, B, S).ToArray();

        var p = new Predictor<double>(m);
        var state = p.NewState(B);
        var got = new double[expected.Length];
        p.Predict(got, x, mask, state, S);
        for (int i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 12);

        // Unmasked streaming, one step at a time, against Forward without a mask.
        var full = m.Forward(x, default, B, S).ToArray();
        state.Reset();
        var xt = new double[B * 4];
        for (int t = 0; t < S; t++)
        {
            for (int b = 0; b < B; b++) Array.Copy(x, (b * S + t) * 4, xt, b * 4, 4);
            var y = p.Step(xt, state);
            for (int b = 0; b < B; b++)
                for (int o = 0; o < 2; o++)
                {
                    double want = perStep ? full[(b * S + t) * 2 + o] : (t == S - 1 ? full[b * 2 + o] : double.NaN);
                    if (!double.IsNaN(want)) Assert.Equal(want, y[b * 2 + o], 12);
                }
        }
        Assert.Equal(S, state.Steps);
    }

    [Fact]
    public void StepAllocatesNothingAndStatesAreIndependentAcrossThreads()
    {
        var spec = new ModelSpec { Vocab = 100, EmbeddingDim = 16, Cell = CellKind.Lstm, Hidden = 32, OutputSize = 1 };
        using var m = new SequenceModel<float>(spec, new Rng(1)) { Training = false };
        var p = new Predictor<float>(m);
        var s = p.NewState();
        int[] tok = [5];
        for (int i = 0; i < 200; i++) p.Step(tok, s); // warm-up (JIT tiers)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) { tok[0] = i % 100; p.Step(tok, s); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        // Two threads streaming different sequences through one predictor match a sequential run.
        float Run(int seed)
        {
            var st = p.NewState(); var t1 = new int[1]; float last = 0;
            for (int i = 0; i < 300; i++) { t1[0] = (i * seed + 7) % 100; last = p.Step(t1, st)[0]; }
            return last;
        }
        float a = Run(3), b = Run(11);
        float ta = 0, tb = 0;
        var th1 = new Thread(() => ta = Run(3)); var th2 = new Thread(() => tb = Run(11));
        th1.Start(); th2.Start(); th1.Join(); th2.Join();
        Assert.Equal(a, ta); Assert.Equal(b, tb);
    }

    [Fact]
    public void BidirectionalCannotStreamAndBadTokensAreRejected()
    {
        using var bi = new SequenceModel<float>(new ModelSpec { InputSize = 2, Cell = CellKind.Gru, Hidden = 3, Bidirectional = true }, new Rng(1));
        Assert.Throws<NotSupportedException>(() => new Predictor<float>(bi));
        using var m = new SequenceModel<float>(new ModelSpec { Vocab = 10, EmbeddingDim = 2, Cell = CellKind.Gru, Hidden = 3 }, new Rng(1));
        var p = new Predictor<float>(m);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => p.Step(new[] { 10 }, p.NewState()));
        Assert.Equal("tokens", e.ParamName);
    }
}
