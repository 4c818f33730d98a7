using Rnn.Data;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>Fit on a batch source with a per-sample mask (IMaskedBatchSource): the same steps as TrainStep with that mask.</summary>
public class FitMaskTests
{
    private const int S = 7, F = 3, N = 22;

    // Features (n, S, F), a mask (n, S) with each sample's 1s then 0s (or 0s first for odd samples: pre-padding), targets (n, targetsPerSample).
    private sealed class Masked<TTarget>(float[] x, TTarget[] y, float[] mask, int targetsPerSample) : IMaskedBatchSource<float, TTarget, float>
        where TTarget : unmanaged
    {
        public int Count => mask.Length / S;
        public int SeqLen => S;
        public int InputsPerSample => S * F;
        public int TargetsPerSample => targetsPerSample;
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<TTarget> targets, Span<float> m)
        {
            Batcher.Gather(inputs, x, indices, S * F); Batcher.Gather(targets, y, indices, targetsPerSample); Batcher.Gather(m, mask, indices, S);
        }
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<TTarget> targets) => throw new InvalidOperationException("masked source");
    }

    private sealed class Both(int[] lengths) : IMaskedBatchSource<float, float, float>, IPackedBatchSource<float, float>
    {
        public int Count => lengths.Length;
        public int SeqLen => S;
        public int InputsPerSample => S * F;
        public int TargetsPerSample => 1;
        public ReadOnlySpan<int> Lengths => lengths;
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<float> targets, Span<float> m) => throw new InvalidOperationException();
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<float> targets) => throw new InvalidOperationException();
    }

    private static (float[] X, float[] Mask) Data(int n, ulong seed)
    {
        var r = new Rng(seed);
        var x = new float[n * S * F];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(r.NextDouble() * 2 - 1);
        var mask = new float[n * S];
        for (int b = 0; b < n; b++)
        {
            int len = 2 + r.NextInt(S - 1);
            for (int t = 0; t < S; t++) mask[b * S + t] = (b % 2 == 0 ? t < len : t >= S - len) ? 1f : 0f;
        }
        return (x, mask);
    }

    private static Model<float> VectorModel(ulong seed) => new(F, new Rng(seed), new RecurrentSpec("rnn", CellKind.Gru, 5), new DenseSpec("fc", 1, Activation.Tanh));

    private static Model<float> SequenceModel(ulong seed) => new(F, new Rng(seed), new RecurrentSpec("rnn", CellKind.Lstm, 5) { ReturnSequences = true }, new DenseSpec("fc", 4));

    [Fact]
    public void MaskedFitIsTheManualLoopOfMaskedTrainStepsBitForBit()
    {
        var (x, mask) = Data(N, 1);
        var y = new float[N];
        for (int i = 0; i < N; i++) y[i] = x[i * S * F] * 0.5f;
        var (vx, vm) = Data(6, 2);
        var vy = new float[6];
        using var a = VectorModel(3);
        using var b = VectorModel(3);
        var fitter = new Trainer<float, float>(a, new MseLoss<float>(), new Adam<float>(a.Parameters, 0.01));
        var history = fitter.Fit(new Masked<float>(x, y, mask, 1), new FitOptions { Epochs = 2, BatchSize = 5, ShuffleRng = new Rng(9) },
            new Masked<float>(vx, vy, vm, 1));
        var manual = new Trainer<float, float>(b, new MseLoss<float>(), new Adam<float>(b.Parameters, 0.01));
        var batcher = new Batcher(N, 5, new Rng(9));
        var xb = new float[5 * S * F]; var yb = new float[5]; var mb = new float[5 * S];
        for (int e = 0; e < 2; e++)
        {
            double lossSum = 0;
            foreach (var mem in batcher.NextEpoch())
            {
                int n = mem.Length;
                Batcher.Gather(xb.AsSpan(0, n * S * F), x, mem.Span, S * F); Batcher.Gather(yb.AsSpan(0, n), y, mem.Span, 1); Batcher.Gather(mb.AsSpan(0, n * S), mask, mem.Span, S);
                lossSum += manual.TrainStep(xb.AsSpan(0, n * S * F), yb.AsSpan(0, n), n, S, mb.AsSpan(0, n * S)) * n;
            }
            Assert.Equal(lossSum / N, history.Epochs[e].Loss);
            double vl = manual.Evaluate(vx.AsSpan(0, 5 * S * F), vy.AsSpan(0, 5), 5, S, vm.AsSpan(0, 5 * S)) * 5;
            vl += manual.Evaluate(vx.AsSpan(5 * S * F), vy.AsSpan(5), 1, S, vm.AsSpan(5 * S)) * 1;
            Assert.Equal(vl / 6, history.Epochs[e].ValLoss);
        }
        for (int k = 0; k < a.Parameters.Count; k++) Assert.Equal(a.Parameters[k].Value, b.Parameters[k].Value);
        // The mask did reach the model: the same fit without it ends elsewhere.
        using var c = VectorModel(3);
        new Trainer<float, float>(c, new MseLoss<float>(), new Adam<float>(c.Parameters, 0.01))
            .Fit(new ArrayBatchSource<float, float>(x, y, N, S), new FitOptions { Epochs = 2, BatchSize = 5, ShuffleRng = new Rng(9) });
        Assert.NotEqual(a.Parameters[0].Value, c.Parameters[0].Value);
    }

    [Fact]
    public void WithAPerStepOutputTheMaskAlsoWeightsTheLoss()
    {
        var (x, mask) = Data(N, 4);
        var r = new Rng(5);
        var y = new int[N * S];
        for (int i = 0; i < y.Length; i++) y[i] = r.NextInt(4);
        using var a = SequenceModel(6);
        using var b = SequenceModel(6);
        var fitter = new Trainer<float, int>(a, new SoftmaxCrossEntropyLoss<float>(4), new Sgd<float>(a.Parameters, 0.1));
        var history = fitter.Fit(new Masked<int>(x, y, mask, S), new FitOptions { Epochs = 1, BatchSize = 8, Shuffle = false });
        var manual = new Trainer<float, int>(b, new SoftmaxCrossEntropyLoss<float>(4), new Sgd<float>(b.Parameters, 0.1));
        double lossSum = 0;
        long correct = 0, counted = 0;
        for (int from = 0; from < N; from += 8)
        {
            int n = Math.Min(8, N - from);
            var m = mask.AsSpan(from * S, n * S);
            lossSum += manual.TrainStep(x.AsSpan(from * S * F, n * S * F), y.AsSpan(from * S, n * S), n, S, m, weights: m) * n;
            correct += manual.LastCorrect; counted += manual.LastCounted;
        }
        Assert.Equal(lossSum / N, history.Epochs[0].Loss);
        Assert.Equal((double)correct / counted, history.Epochs[0].Accuracy);
        Assert.Equal(mask.Count(v => v != 0), counted); // only the real steps were scored
        for (int k = 0; k < a.Parameters.Count; k++) Assert.Equal(a.Parameters[k].Value, b.Parameters[k].Value);
    }

    [Fact]
    public void ASourceWithBothAMaskAndLengthsIsRefused()
    {
        using var m = VectorModel(8);
        var t = new Trainer<float, float>(m, new MseLoss<float>(), new Sgd<float>(m.Parameters, 0.1));
        var e = Assert.Throws<ArgumentException>(() => t.Fit(new Both([S, S, 2, 3])));
        Assert.Equal("train", e.ParamName);
        Assert.Contains("either lengths", e.Message);
    }

    private sealed class AllocationProbe : Callback
    {
        public readonly List<(int Epoch, long Bytes)> Marks = new(64);
        public override void OnBatchEnd(IFitControl fit, in BatchEnd batch) => Marks.Add((batch.Epoch, GC.GetAllocatedBytesForCurrentThread()));
    }

    [Fact]
    public void MaskedFitAllocatesNothingPerBatchInSteadyState()
    {
        var (x, mask) = Data(N, 10);
        var y = new float[N];
        using var m = VectorModel(11);
        var t = new Trainer<float, float>(m, new MseLoss<float>(), new Adam<float>(m.Parameters));
        var probe = new AllocationProbe();
        t.Fit(new Masked<float>(x, y, mask, 1), new FitOptions { Epochs = 2, BatchSize = 4, Callbacks = [probe] });
        var second = probe.Marks.Where(p => p.Epoch == 2).ToList();
        Assert.Equal(6, second.Count);
        Assert.Equal(0, second[^1].Bytes - second[0].Bytes);
    }
}
