using Rnn.Init;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>Token models on packed batches: Model.ForwardPacked, Trainer.TrainStepPacked, and Fit over a source with lengths.</summary>
[Collection("Kernels")]
public class PackedModelTests
{
    private const int V = 30, B = 5, S = 7;
    private static readonly int[] Lengths = [4, 7, 2, 6, 1];

    private static Model<T> Imdb<T>(ulong seed, bool bidi) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => new(0, new Rng(seed),
        new EmbeddingSpec("embedding", V, 4),
        new RecurrentSpec("rnn", CellKind.Lstm, 3) { Bidirectional = bidi, Layers = bidi ? 2 : 1, Init = InitScheme.PyTorch },
        new DenseSpec("fc", 1));

    // Post-padded tokens (0 after each row's length) and the matching 1s-then-0s mask.
    private static (int[] Tokens, T[] Mask) Batch<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var tok = new int[B * S]; var mask = new T[B * S];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Lengths[b]; t++) { tok[b * S + t] = 1 + (b * 11 + t * 7) % (V - 1); mask[b * S + t] = T.One; }
        return (tok, mask);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PackedForwardGivesTheMaskedOutputsAndSaysWhatItGot(bool bidi)
    {
        var (tok, mask) = Batch<double>();
        using var a = Imdb<double>(3, bidi);
        using var b = Imdb<double>(3, bidi);
        a.Training = b.Training = false;
        var masked = a.Forward(tok, mask, B, S).ToArray();
        Assert.Equal(BatchPadding.Mask, a.Padding);
        var packed = b.ForwardPacked(tok, Lengths, B, S).ToArray();
        Assert.Equal(BatchPadding.Lengths, b.Padding);
        Assert.Equal(masked, packed); // per-row arithmetic, the same bits
        b.Forward(tok, default, B, S);
        Assert.Equal(BatchPadding.None, b.Padding);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APackedModelsGradientsMatchFiniteDifferences(bool bidi)
    {
        var (tok, _) = Batch<double>();
        double[] y = [1, 0, 1, 1, 0];
        using var m = Imdb<double>(5, bidi);
        double Loss() => BinaryCrossEntropy.Forward<double>(m.ForwardPacked(tok, Lengths, B, S), y);
        void Analytic()
        {
            m.ZeroGrad();
            var o = m.ForwardPacked(tok, Lengths, B, S);
            BinaryCrossEntropy.Backward<double>(m.OutputGrad, o, y, 1.0);
            m.Backward(m.OutputGrad, default, B, S);
        }
        GradCheck.Assert(Loss, Analytic, m.Parameters.Select(GradCheck.Of).ToArray());
    }

    [Fact]
    public void APackedTrainStepMatchesTheMaskedStepOnTheRealSteps()
    {
        var (tok, mask) = Batch<double>();
        double[] y = [1, 0, 1, 1, 0];
        using var a = Imdb<double>(7, true);
        using var b = Imdb<double>(7, true);
        var ta = new Trainer<double, double>(a, new BinaryCrossEntropyLoss<double>(), new Adam<double>(a.Parameters));
        var tb = new Trainer<double, double>(b, new BinaryCrossEntropyLoss<double>(), new Adam<double>(b.Parameters));
        double la = ta.TrainStep(tok, y, B, S, mask), lb = tb.TrainStepPacked(tok, Lengths, y, B, S);
        Assert.Equal(la, lb);
        // The weight gradients sum the same products over the rows in another order (sorted by length): last bits only.
        for (int k = 0; k < a.Parameters.Count; k++)
        {
            var pa = a.Parameters[k]; var pb = b.Parameters[k];
            double scale = pa.Value.Max(Math.Abs);
            for (int i = 0; i < pa.Length; i++) Assert.True(Math.Abs(pa.Value[i] - pb.Value[i]) <= 1e-12 * Math.Max(scale, 1), $"{pa.Name}[{i}]: {pa.Value[i]} vs {pb.Value[i]}");
        }
    }

    [Fact]
    public void FitOnAPackedSourceBucketsReproduciblyAndAllocatesNothingPerBatch()
    {
        const int N = 64, L = 12;
        var rng = new Rng(2);
        var lengths = Enumerable.Range(0, N).Select(_ => 1 + rng.NextInt(L)).ToArray();
        var tok = new int[N * L]; var y = new float[N];
        for (int i = 0; i < N; i++)
        {
            for (int t = 0; t < lengths[i]; t++) tok[i * L + t] = 1 + rng.NextInt(V - 1);
            y[i] = tok[i * L] % 2;
        }
        var source = new ArrayBatchSource<int, float>(tok, y, lengths, N, L);
        float[] Train(out History h)
        {
            using var m = Imdb<float>(9, false);
            var tr = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters));
            h = tr.Fit(source, new FitOptions { Epochs = 3, BatchSize = 8, ShuffleRng = new Rng(4), BucketPool = 4 }, source);
            return [.. m.Parameters.SelectMany(p => p.Value)];
        }
        var w1 = Train(out var h1); var w2 = Train(out _);
        Assert.Equal(w1, w2);
        Assert.All(h1.Epochs, e => Assert.True(double.IsFinite(e.Loss) && double.IsFinite(e.ValLoss), $"epoch {e.Epoch}: {e.Loss}, {e.ValLoss}"));

        using var model = Imdb<float>(9, false);
        var trainer = new Trainer<float, float>(model, new BinaryCrossEntropyLoss<float>(), new Adam<float>(model.Parameters));
        var counter = new AllocationCounter();
        trainer.Fit(source, new FitOptions { Epochs = 3, BatchSize = 8, ShuffleRng = new Rng(4), BucketPool = 4, Callbacks = [counter] });
        Assert.Equal(8, counter.Batches); // the third epoch: 64 samples in batches of 8
        Assert.Equal(0, counter.SteadyBytes);
    }

    [Fact]
    public void BadLengthsAndBucketingWithoutLengthsAreRefused()
    {
        var (tok, _) = Batch<float>();
        using var m = Imdb<float>(1, false);
        var ex = Assert.ThrowsAny<ArgumentException>(() => m.ForwardPacked(tok, [4, 7, 2, 8, 1], B, S));
        Assert.Contains("lengths[3]", ex.Message);
        Assert.ThrowsAny<ArgumentException>(() => m.ForwardPacked(tok, [4, 7, 2], B, S));
        var plain = new ArrayBatchSource<int, float>(tok, new float[B], B, S);
        var tr = new Trainer<float, float>(m, new BinaryCrossEntropyLoss<float>(), new Adam<float>(m.Parameters));
        var e2 = Assert.Throws<ArgumentException>(() => tr.Fit(plain, new FitOptions { BucketPool = 2 }));
        Assert.Contains("BucketPool", e2.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ArrayBatchSource<int, float>(tok, new float[B], [4, 7, 0, 6, 1], B, S));
    }

    // Bytes the training thread allocated between the batch ends of the last epoch.
    private sealed class AllocationCounter : Callback
    {
        private long _last = -1;
        public int Batches;
        public long SteadyBytes;
        public override void OnBatchEnd(IFitControl fit, in BatchEnd e)
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (e.Epoch == e.Epochs && _last >= 0 && e.Batch > 1) { SteadyBytes += now - _last; Batches++; }
            else if (e.Epoch == e.Epochs) Batches++;
            _last = GC.GetAllocatedBytesForCurrentThread();
        }
    }
}
