using Rnn.Data;
using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

public class TrainerTests
{
    private const int V = 40, B = 6, S = 9, N = 27;

    private static SequenceModel<float> Imdbish(ulong seed) => new(new ModelSpec
    {
        Vocab = V, EmbeddingDim = 5, Cell = CellKind.Lstm, Hidden = 7, HeadDropout = 0.5, InputDropout = 0.2, OutputSize = 1,
    }, new Rng(seed));

    private static (int[] X, float[] Y) Data(int n)
    {
        var r = new Rng(77);
        var x = new int[n * S];
        for (int i = 0; i < x.Length; i++) x[i] = r.NextInt(V);
        var y = new float[n];
        for (int i = 0; i < n; i++) y[i] = x[i * S] % 2; // learnable: the first token's parity
        return (x, y);
    }

    private static void AssertSameWeights(Model<float> a, Model<float> b)
    {
        for (int k = 0; k < a.Parameters.Count; k++) Assert.Equal(a.Parameters[k].Value, b.Parameters[k].Value);
    }

    [Fact]
    public void TwoTrainStepsGiveTheWeightsOfTwoManualStepsDoneRightBitForBit()
    {
        var (x, y) = Data(2 * B);
        using var manual = Imdbish(3);
        using var stepped = Imdbish(3);
        var opt = new Adam<float>(manual.Parameters);
        var trainer = new Trainer<float, float>(stepped, new BinaryCrossEntropyLoss<float>(), new Adam<float>(stepped.Parameters));
        for (int s = 0; s < 2; s++)
        {
            var xs = x.AsSpan(s * B * S, B * S); var ys = y.AsSpan(s * B, B);
            // The eight lines the step replaces, done right.
            opt.ZeroGrad();
            var logits = manual.Forward(xs, default, B, S);
            float loss = BinaryCrossEntropy.Forward<float>(logits, ys);
            var d = manual.OutputGrad[..B]; d.Clear();
            BinaryCrossEntropy.Backward<float>(d, logits, ys, 1f);
            manual.Backward(d, default, B, S);
            opt.Step();
            Assert.Equal(loss, trainer.TrainStep(xs, ys, B, S));
        }
        AssertSameWeights(manual, stepped);
    }

    [Fact]
    public void TheForgottenClearThatDoubledTheGradientNoLongerChangesAnything()
    {
        var (x, y) = Data(2 * B);
        using var misuse = Imdbish(5);
        using var right = Imdbish(5);
        using var old = Imdbish(5);
        var optMisuse = new Adam<float>(misuse.Parameters);
        var optOld = new Adam<float>(old.Parameters);
        var trainer = new Trainer<float, float>(right, new BinaryCrossEntropyLoss<float>(), new Adam<float>(right.Parameters));
        var stale = new float[B]; // what the model's OutputGrad used to hold from the previous step
        for (int s = 0; s < 2; s++)
        {
            var xs = x.AsSpan(s * B * S, B * S); var ys = y.AsSpan(s * B, B);
            optMisuse.ZeroGrad();
            var logits = misuse.Forward(xs, default, B, S);
            BinaryCrossEntropy.Backward<float>(misuse.OutputGrad, logits, ys, 1f); // no Clear(): the reported misuse
            misuse.Backward(misuse.OutputGrad, default, B, S);
            optMisuse.Step();
            trainer.TrainStep(xs, ys, B, S);
            // The reproduction: the accumulating loss of the previous release added this step's gradient to the last one's.
            optOld.ZeroGrad();
            var lo = old.Forward(xs, default, B, S);
            var g = new float[B];
            BinaryCrossEntropy.Backward<float>(g, lo, ys, 1f);
            for (int i = 0; i < B; i++) stale[i] += g[i];
            old.Backward(stale, default, B, S);
            optOld.Step();
        }
        AssertSameWeights(misuse, right);
        Assert.NotEqual(right.Parameters[^1].Value, old.Parameters[^1].Value); // the old behaviour did differ
        // And the other half of the misuse, a second Backward on one Forward, throws before it adds anything.
        Assert.Throws<InvalidOperationException>(() => misuse.Backward(misuse.OutputGrad, default, B, S));
    }

    [Fact]
    public void ClipValueClampsEveryGradientElementBeforeTheStepAsAManualClipDoes()
    {
        var (x, y) = Data(2 * B);
        using var manual = Imdbish(13);
        using var stepped = Imdbish(13);
        var opt = new RmsProp<float>(manual.Parameters, 0.01);
        var trainer = new Trainer<float, float>(stepped, new BinaryCrossEntropyLoss<float>(), new RmsProp<float>(stepped.Parameters, 0.01)) { ClipValue = 1e-3 };
        for (int s = 0; s < 2; s++)
        {
            var xs = x.AsSpan(s * B * S, B * S); var ys = y.AsSpan(s * B, B);
            opt.ZeroGrad();
            var logits = manual.Forward(xs, default, B, S);
            BinaryCrossEntropy.Backward<float>(manual.OutputGrad, logits, ys, 1f);
            manual.Backward(manual.OutputGrad, default, B, S);
            Assert.Contains(manual.Parameters, p => p.Grad.Any(g => Math.Abs(g) > 1e-3f)); // the clip bites
            GradClip.ClipValue(opt.Parameters, 1e-3);
            opt.Step();
            trainer.TrainStep(xs, ys, B, S);
            Assert.All(stepped.Parameters, p => Assert.All(p.Grad, g => Assert.InRange(g, -1e-3f, 1e-3f)));
        }
        AssertSameWeights(manual, stepped);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.ClipValue = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.ClipValue = double.NaN);
        long before = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainStep(x.AsSpan(0, B * S), y.AsSpan(0, B), B, S);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TrainStepAllocatesNothingAfterWarmUp()
    {
        var (x, y) = Data(B);
        using var m = Imdbish(7);
        var trainer = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters) { MaxGradNorm = 5 });
        for (int k = 0; k < 3; k++) trainer.TrainStep(x, y, B, S);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 5; k++) { trainer.TrainStep(x, y, B, S); trainer.Evaluate(x, y, B, S); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class AllocationProbe : Callback
    {
        public readonly List<(int Epoch, int Batch, long Bytes)> Marks = new(64);
        public override void OnBatchEnd(IFitControl fit, in BatchEnd batch) => Marks.Add((batch.Epoch, batch.Batch, GC.GetAllocatedBytesForCurrentThread()));
    }

    [Fact]
    public void FitAllocatesNothingPerBatchInSteadyState()
    {
        var (x, y) = Data(N);
        using var m = Imdbish(8);
        var trainer = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters));
        var probe = new AllocationProbe();
        int seen = 0;
        var progress = new ProgressCallback(b => seen++, null);
        trainer.Fit(new ArrayBatchSource<int, float>(x, y, N, S), new FitOptions { Epochs = 2, BatchSize = 4, Callbacks = [progress, probe] });
        var second = probe.Marks.Where(p => p.Epoch == 2).ToList();
        Assert.Equal(7, second.Count);
        Assert.Equal(14, seen);
        Assert.Equal(0, second[5].Bytes - second[0].Bytes); // the six full batches of the second epoch
        Assert.Equal(0, second[6].Bytes - second[5].Bytes); // and the smaller last one, whose shape the model has seen in epoch 1
    }

    [Fact]
    public void FitIsTheManualLoopOfTrainStepsBitForBit()
    {
        var (x, y) = Data(N);
        var (vx, vy) = Data(10);
        using var a = Imdbish(11);
        using var b = Imdbish(11);
        var fitter = new Trainer<float, float>(a, new BinaryCrossEntropyLoss<float>(), new Adam<float>(a.Parameters));
        var history = fitter.Fit(new ArrayBatchSource<int, float>(x, y, N, S), new FitOptions { Epochs = 2, BatchSize = 5, ShuffleRng = new Rng(99) },
            new ArrayBatchSource<int, float>(vx, vy, 10, S));
        var manual = new Trainer<float, float>(b, new BinaryCrossEntropyLoss<float>(), new Adam<float>(b.Parameters));
        var batcher = new Batcher(N, 5, new Rng(99));
        var xb = new int[5 * S]; var yb = new float[5];
        for (int e = 0; e < 2; e++)
        {
            double lossSum = 0; long correct = 0;
            foreach (var mem in batcher.NextEpoch())
            {
                int n = mem.Length;
                Batcher.Gather(xb.AsSpan(0, n * S), x, mem.Span, S); Batcher.Gather(yb.AsSpan(0, n), y, mem.Span, 1);
                lossSum += manual.TrainStep(xb.AsSpan(0, n * S), yb.AsSpan(0, n), n, S) * n;
                correct += manual.LastCorrect;
            }
            Assert.Equal(lossSum / N, history.Epochs[e].Loss);
            Assert.Equal((double)correct / N, history.Epochs[e].Accuracy);
            double vl = 0; long vc = 0;
            for (int s = 0; s < 10; s += 5)
            {
                vl += manual.Evaluate(vx.AsSpan(s * S, 5 * S), vy.AsSpan(s, 5), 5, S) * 5;
                vc += manual.LastCorrect;
            }
            Assert.Equal(vl / 10, history.Epochs[e].ValLoss);
            Assert.Equal(vc / 10.0, history.Epochs[e].ValAccuracy);
        }
        AssertSameWeights(a, b);
        Assert.False(history.Cancelled || history.Stopped);
    }

    [Fact]
    public void CancellationStopsBeforeTheNextBatchAndSaysSo()
    {
        var (x, y) = Data(N);
        using var m = Imdbish(12);
        var trainer = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters));
        using var cts = new CancellationTokenSource();
        var cancelAt3 = new ProgressCallback(b => { if (b.Batch == 3) cts.Cancel(); }, null);
        var h = trainer.Fit(new ArrayBatchSource<int, float>(x, y, N, S), new FitOptions { Epochs = 3, BatchSize = 4, Callbacks = [cancelAt3] }, cancel: cts.Token);
        Assert.True(h.Cancelled);
        Assert.Single(h.Epochs);
        Assert.False(h.Epochs[0].Complete);
        Assert.Equal(3, h.Epochs[0].Batches);
        Assert.Equal(12, h.LastBatch.Samples);
    }

    private sealed class FakeControl(bool validation) : IFitControl
    {
        public bool HasValidation => validation;
        public double LearningRate { get; set; } = 0.1;
        public bool StopTraining { get; set; }
        public int Saves, Captures, Restores;
        public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? extra) => Saves++;
        public void CaptureWeights() => Captures++;
        public bool RestoreWeights() { Restores++; return true; }
    }

    private static EpochEnd E(int epoch, double valLoss) => new(epoch, 10, 1, 0.5, valLoss, 0.5, 1, 1, 0, 0, 0.1, true);

    [Fact]
    public void EarlyStoppingStopsAfterPatienceEpochsWithoutImprovementAndRestoresTheBest()
    {
        var c = new FakeControl(true);
        var es = new EarlyStopping(Metric.ValLoss, patience: 2, minDelta: 0.01, restoreBestWeights: true);
        es.OnTrainBegin(c);
        double[] losses = [1.0, 0.8, 0.795, 0.9, 0.85];
        for (int e = 0; e < losses.Length && !c.StopTraining; e++) es.OnEpochEnd(c, E(e + 1, losses[e]));
        Assert.True(c.StopTraining);
        Assert.Equal(4, es.StoppedEpoch); // 0.795 and 0.9 did not beat 0.8 by 0.01: two epochs without improvement
        Assert.Equal(2, es.BestEpoch);
        Assert.Equal(2, c.Captures);
        es.OnTrainEnd(c, new History());
        Assert.Equal(1, c.Restores);
        Assert.Throws<InvalidOperationException>(() => es.OnTrainBegin(new FakeControl(false))); // val_loss without validation data
    }

    [Fact]
    public void BestCheckpointSavesOnlyOnImprovementAndWritesALoadableFile()
    {
        var c = new FakeControl(true);
        var bc = new BestCheckpoint("unused.safetensors", Metric.ValAccuracy);
        bc.OnTrainBegin(c);
        foreach (var (e, acc) in new[] { (1, 0.6), (2, 0.55), (3, 0.7), (4, 0.7) })
            bc.OnEpochEnd(c, new EpochEnd(e, 4, 1, 0.5, 1, acc, 1, 1, 0, 0, 0.1, true));
        Assert.Equal(2, c.Saves);
        Assert.Equal(3, bc.BestEpoch);

        string path = Path.Combine(Path.GetTempPath(), $"rnn-best-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            var (x, y) = Data(N);
            using var m = Imdbish(13);
            var trainer = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters, 0.05));
            var best = new BestCheckpoint(path, Metric.Loss, new Dictionary<string, string> { ["run"] = "t" });
            var h = trainer.Fit(new ArrayBatchSource<int, float>(x, y, N, S), new FitOptions { Epochs = 3, BatchSize = 9, Callbacks = [best] });
            using var back = Checkpoint.Load<float>(path, out var meta);
            Assert.Equal("t", meta["run"]);
            Assert.Equal(h.Epochs.Min(e => e.Loss), best.Best);
            if (best.BestEpoch == 3) AssertSameWeights(m, back);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SchedulesSetTheRateBeforeEachEpoch()
    {
        var c = new FakeControl(false) { LearningRate = 0.1 };
        var step = new StepDecay(0.5, 2);
        step.OnTrainBegin(c);
        var rates = Enumerable.Range(1, 5).Select(e => { step.OnEpochBegin(c, e); return c.LearningRate; }).ToArray();
        Assert.Equal([0.1, 0.1, 0.05, 0.05, 0.025], rates);
        Assert.Equal(0.1 * 0.9 * 0.9, new ExponentialDecay(0.9).Rate(3, 0.1), 15);
        var cos = new CosineDecay(4, 0.01);
        Assert.Equal(0.1, cos.Rate(1, 0.1), 15);
        Assert.Equal(0.055, cos.Rate(3, 0.1), 15);
        Assert.Equal(0.01, cos.Rate(5, 0.1), 15);
        var plateau = new ReduceLROnPlateau(Metric.Loss, factor: 0.5, patience: 1, minDelta: 0, cooldown: 2, minLearningRate: 0.02);
        plateau.OnTrainBegin(c);
        c.LearningRate = 0.1;
        double[] losses = [1, 0.9, 0.9, 0.95, 0.9, 0.9, 0.91, 0.92, 0.93];
        var seen = new List<double>();
        for (int e = 0; e < losses.Length; e++)
        {
            plateau.OnEpochEnd(c, new EpochEnd(e + 1, 9, losses[e], double.NaN, double.NaN, double.NaN, 1, 1, 0, 0, c.LearningRate, true));
            seen.Add(c.LearningRate);
        }
        // An epoch without improvement halves it (patience 1), the next epoch is cooldown; never below 0.02.
        Assert.Equal([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02], seen);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0, 1));
    }

    [Fact]
    public void ATrainerRefusesAnOptimizerOverAnotherModelsParametersAndWrongTargets()
    {
        using var m = Imdbish(1);
        using var other = Imdbish(1);
        var e = Assert.Throws<ArgumentException>(() => new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(other.Parameters)));
        Assert.Equal("optimizer", e.ParamName);
        var t = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters));
        var (x, _) = Data(B);
        e = Assert.Throws<ArgumentException>(() => t.TrainStep(x, new float[B + 1], B, S));
        Assert.Equal("targets", e.ParamName);
    }
}
