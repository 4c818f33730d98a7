using Rnn.Data;
using Rnn.Init;
using Rnn.IO;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>Stateful recurrent layers in a Model (Keras stateful=True): states carried from Forward to Forward, truncated BPTT.</summary>
public class StatefulModelTests
{
    private const int B = 3, F = 4, S1 = 5, S2 = 6, O = 3;

    private static Model<T> Build<T>(CellKind cell, bool stateful, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => new(F, new Rng(seed),
            new RecurrentSpec("rnn", cell, 5) { Layers = 2, ReturnSequences = true, Stateful = stateful },
            new DenseSpec("fc", O));

    private static double[] Input(int seq, double phase) => GradCheck.Det(B * seq * F, 0.9, phase);

    // Rows [from, from+len) of every sequence of x (B, S, F).
    private static double[] Steps(double[] x, int seq, int from, int len)
    {
        var r = new double[B * len * F];
        for (int b = 0; b < B; b++) x.AsSpan((b * seq + from) * F, len * F).CopyTo(r.AsSpan(b * len * F));
        return r;
    }

    [Theory]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    public void TwoChunksOfAStatefulModelAreTheWholeSequence(CellKind cell)
    {
        using var whole = Build<double>(cell, false, 1);
        using var chunked = Build<double>(cell, true, 1);
        for (int k = 0; k < whole.Parameters.Count; k++) Assert.Equal(whole.Parameters[k].Value, chunked.Parameters[k].Value);
        whole.Training = chunked.Training = false;
        var x = Input(S1 + S2, 0);
        var all = whole.Forward(x, default, B, S1 + S2).ToArray();                 // (B·S, O)
        var y1 = chunked.Forward(Steps(x, S1 + S2, 0, S1), default, B, S1).ToArray();
        var y2 = chunked.Forward(Steps(x, S1 + S2, S1, S2), default, B, S2).ToArray();
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < S1 + S2; t++)
                for (int o = 0; o < O; o++)
                {
                    double c = t < S1 ? y1[(b * S1 + t) * O + o] : y2[(b * S2 + t - S1) * O + o];
                    worst = Math.Max(worst, Math.Abs(c - all[(b * (S1 + S2) + t) * O + o]));
                }
        Assert.True(worst <= 1e-12, $"chunked vs whole: max |diff| {worst:E2}");
        // Without the carried state the second chunk is another sequence.
        chunked.ResetStates();
        var fresh = chunked.Forward(Steps(x, S1 + S2, S1, S2), default, B, S2).ToArray();
        Assert.NotEqual(y2, fresh);
    }

    [Theory]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.RnnTanh)]
    public void TheGradientOfAChunkFromItsCarriedStateMatchesFiniteDifferences(CellKind cell)
    {
        using var m = Build<double>(cell, true, 2);
        m.Training = false;
        m.Forward(Input(S1, 0), default, B, S1); // the first chunk leaves its final states
        var saved = new double[m.StateLength(B)];
        m.GetStates(saved);
        Assert.Contains(saved, v => Math.Abs(v) > 1e-3);
        var x2 = Input(S2, 1);
        var c = GradCheck.Det(B * S2 * O, 1.0, 2);
        var dy = new double[B * S2 * O];
        double Loss()
        {
            m.SetStates(saved, B);
            return GradCheck.WeightedLoss(m.Forward(x2, default, B, S2), c, default);
        }
        void Analytic()
        {
            m.Training = true;
            m.ZeroGrad();
            m.SetStates(saved, B);
            GradCheck.WeightedLoss(m.Forward(x2, default, B, S2), c, dy);
            m.Backward(dy, default, B, S2);
        }
        GradCheck.Assert(Loss, Analytic, m.Parameters.Select(p => GradCheck.Of(p)).ToArray());
    }

    [Fact]
    public void StatesRoundTripAndTheBatchIsKeptUntilReset()
    {
        using var m = Build<float>(CellKind.Lstm, true, 3);
        Assert.True(m.IsStateful);
        Assert.Equal(-1, m.StateBatch);
        Assert.Equal(2 * (2 * B * 5), m.StateLength(B)); // 2 layers of (h, c), each (B, 5)
        var x = new float[B * S1 * F];
        for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
        m.Forward(x, default, B, S1);
        Assert.Equal(B, m.StateBatch);
        var s = new float[m.StateLength(B)];
        m.GetStates(s);
        var next = m.Forward(x, default, B, S1).ToArray();
        m.SetStates(s, B);
        Assert.Equal(next, m.Forward(x, default, B, S1).ToArray());
        // Another batch size is refused until the states are reset, before anything runs.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward(x.AsSpan(0, S1 * F), default, 1, S1));
        Assert.Equal("batch", e.ParamName);
        Assert.Contains("ResetStates", e.Message);
        m.ResetStates();
        Assert.Equal(-1, m.StateBatch);
        Assert.Throws<InvalidOperationException>(() => m.GetStates(s));
        m.Forward(x.AsSpan(0, S1 * F), default, 1, S1);
        Assert.Equal(1, m.StateBatch);
        // A model without stateful layers has no states to set.
        using var plain = Build<float>(CellKind.Lstm, false, 3);
        Assert.False(plain.IsStateful);
        Assert.Equal(0, plain.StateLength(B));
        Assert.Throws<InvalidOperationException>(() => plain.SetStates(s, B));
    }

    [Fact]
    public void StatefulIsRefusedWhereItHasNoMeaningAndRoundTripsThroughACheckpoint()
    {
        var bi = Assert.Throws<ArgumentException>(() => new Model<float>(F, new Rng(1), new RecurrentSpec("rnn", CellKind.Lstm, 4) { Bidirectional = true, Stateful = true }));
        Assert.Equal("Stateful", bi.ParamName);
        var learned = Assert.Throws<ArgumentException>(() => new Model<float>(F, new Rng(1), new RecurrentSpec("rnn", CellKind.Gru, 4) { InitialState = Rnn.Layers.InitialState.Learned, Stateful = true }));
        Assert.Contains("Learned", learned.Message);
        string path = Path.Combine(Path.GetTempPath(), $"rnn-stateful-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var m = Build<float>(CellKind.Lstm, true, 4);
            Checkpoint.Save(m, path);
            Assert.Equal("true", Checkpoint.ReadMetadata(path)["rnn.layer.0.stateful"]);
            using var back = Checkpoint.LoadModel<float>(path);
            Assert.Equal(m.Specs, back.Specs);
            Assert.True(back.IsStateful);
        }
        finally { File.Delete(path); }
    }

    // Per-step targets, streams read in order: batch k holds chunk k of each of B streams.
    private sealed class Streams(float[] x, int[] y, int chunks) : IBatchSource<float, int>
    {
        public int Count => chunks * B;
        public int SeqLen => S1;
        public int InputsPerSample => S1 * F;
        public int TargetsPerSample => S1;
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<int> targets)
        {
            Batcher.Gather(inputs, x, indices, S1 * F); Batcher.Gather(targets, y, indices, S1);
        }
    }

    [Fact]
    public void FitCarriesTheStatesAcrossBatchesAndResetsThemEachEpochAllocatingNothing()
    {
        const int chunks = 4;
        var r = new Rng(5);
        var x = new float[chunks * B * S1 * F]; var y = new int[chunks * B * S1];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() - 0.5);
        for (int i = 0; i < y.Length; i++) y[i] = r.NextInt(O);
        using var a = Build<float>(CellKind.Lstm, true, 6);
        using var b = Build<float>(CellKind.Lstm, true, 6);
        var fit = new Trainer<float, int>(a, new SoftmaxCrossEntropyLoss<float>(O), new RmsProp<float>(a.Parameters, 0.01));
        var h = fit.Fit(new Streams(x, y, chunks), new FitOptions { Epochs = 2, BatchSize = B, Shuffle = false });
        var manual = new Trainer<float, int>(b, new SoftmaxCrossEntropyLoss<float>(O), new RmsProp<float>(b.Parameters, 0.01));
        long before = 0, after = 0;
        for (int e = 0; e < 2; e++)
        {
            b.ResetStates();
            double sum = 0;
            for (int k = 0; k < chunks; k++)
            {
                if (e == 1 && k == 1) before = GC.GetAllocatedBytesForCurrentThread();
                sum += manual.TrainStep(x.AsSpan(k * B * S1 * F, B * S1 * F), y.AsSpan(k * B * S1, B * S1), B, S1) * B;
            }
            after = GC.GetAllocatedBytesForCurrentThread();
            Assert.Equal(sum / (chunks * B), h.Epochs[e].Loss);
        }
        Assert.Equal(0, after - before); // a stateful TrainStep allocates nothing
        for (int k = 0; k < a.Parameters.Count; k++) Assert.Equal(a.Parameters[k].Value, b.Parameters[k].Value);
        // Without the resets the second epoch starts from the first one's last states: other weights.
        using var c = Build<float>(CellKind.Lstm, true, 6);
        new Trainer<float, int>(c, new SoftmaxCrossEntropyLoss<float>(O), new RmsProp<float>(c.Parameters, 0.01))
            .Fit(new Streams(x, y, chunks), new FitOptions { Epochs = 2, BatchSize = B, Shuffle = false, ResetStates = false });
        Assert.NotEqual(a.Parameters[0].Value, c.Parameters[0].Value);
    }
}
