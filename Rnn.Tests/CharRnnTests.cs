using Rnn.Init;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Samples.CharRnn;

namespace Rnn.Tests;

public class CharRnnTests
{
    [Fact]
    public void EmbeddedCorpusIsTheEngineSourceInOrdinalOrder()
    {
        var (text, files) = CharData.EmbeddedCorpus();
        Assert.True(files >= 20, $"expected the Rnn.Core sources, got {files} files");
        Assert.Contains("namespace Rnn.Layers;", text);
        Assert.Contains("class SimpleRnn<T>", text);
        Assert.Equal(text, CharData.EmbeddedCorpus().Text); // deterministic
        // Ordinal path order: Data/ comes before Layers/, which comes before Models/.
        int data = text.IndexOf("namespace Rnn.Data;", StringComparison.Ordinal);
        int layers = text.IndexOf("namespace Rnn.Layers;", StringComparison.Ordinal);
        int models = text.IndexOf("namespace Rnn.Models;", StringComparison.Ordinal);
        Assert.True(data >= 0 && data < layers && layers < models, $"order: Data {data}, Layers {layers}, Models {models}");
    }

    [Fact]
    public void VocabularyIsOrdinalAndIdsRoundTrip()
    {
        var d = new CharData("hello, world\n", "test");
        Assert.Equal("\n ,dehlorw", new string(d.Vocab));
        Assert.Equal("hello, world\n", new string(d.Ids.Select(i => d.Vocab[i]).ToArray()));
        Assert.Equal(-1, d.IdOf('z'));
    }

    [Fact]
    public void FaithfulChunkLossIsTheSumOfStepLossesFromTheCarriedState()
    {
        // An independent scalar min-char-rnn forward (lossFun) in double with the model's weights.
        const int V = 6, H = 7, S = 5;
        using var m = new MinCharRnn<double>(V, H, new Rng(3));
        for (int i = 0; i < H; i++) m.State[i] = 0.1 * Math.Sin(i); // a carried hprev
        int[] inputs = [0, 3, 5, 1, 2], targets = [3, 5, 1, 2, 4];
        var wxh = (double[])m.Rnn.WeightIh.Value.Clone(); var whh = (double[])m.Rnn.WeightHh.Value.Clone();
        var bh = (double[])m.Rnn.BiasIh.Value.Clone(); var why = (double[])m.Head.Inner.Weight.Value.Clone();
        var by = (double[])m.Head.Inner.Bias.Value.Clone();
        var h = (double[])m.State.Clone();
        double expected = 0;
        for (int t = 0; t < S; t++)
        {
            var hn = new double[H];
            for (int j = 0; j < H; j++)
            {
                double a = wxh[j * V + inputs[t]] + bh[j];
                for (int k = 0; k < H; k++) a += whh[j * H + k] * h[k];
                hn[j] = Math.Tanh(a);
            }
            h = hn;
            var y = new double[V];
            for (int c = 0; c < V; c++) { y[c] = by[c]; for (int j = 0; j < H; j++) y[c] += why[c * H + j] * h[j]; }
            double max = y.Max(), lse = max + Math.Log(y.Sum(v => Math.Exp(v - max)));
            expected += lse - y[targets[t]];
        }
        double loss = m.TrainChunk(inputs, targets);
        Assert.Equal(expected, loss, 12);
        Assert.Equal(h, m.State, (a, b) => Math.Abs(a - b) < 1e-12); // hprev = the last hidden state
        // The update moved every weight by at most lr (Adagrad's first step is lr·g/√(g² + 1e-8) ≤ lr).
        Assert.All(m.Rnn.WeightHh.Value.Zip(whh), p => Assert.True(Math.Abs(p.First - p.Second) <= 0.1 + 1e-12));
        Assert.Contains(m.Rnn.WeightHh.Value.Zip(whh), p => p.First != p.Second);
    }

    [Fact]
    public void FaithfulTrainingOnTheEmbeddedCorpusLowersTheSmoothLoss()
    {
        // The acceptance run (README) goes to 100k iterations; 2000 iterations already fall below 80%.
        var data = CharData.Load(null);
        const int S = 25;
        using var m = new MinCharRnn<float>(data.V, 100, new Rng(1));
        double initial = -Math.Log(1.0 / data.V) * S, smooth = initial;
        int p = 0;
        for (int it = 0; it < 2000; it++)
        {
            if (p + S + 1 >= data.Ids.Length) { m.ResetState(); p = 0; }
            smooth = smooth * 0.999 + m.TrainChunk(data.Ids.AsSpan(p, S), data.Ids.AsSpan(p + 1, S)) * 0.001;
            p += S;
        }
        Assert.True(smooth < 0.8 * initial, $"smooth loss {smooth:F2}: expected below 80% of the initial {initial:F2}");
        var a = m.Sample(data.Ids[0], 50, new Rng(5)); var b = m.Sample(data.Ids[0], 50, new Rng(5));
        Assert.Equal(a, b); // sampling does not touch the carried state and is seeded
        Assert.All(a, id => Assert.InRange(id, 0, data.V - 1));
    }

    [Fact]
    public void LstmBatchesAreContiguousStreams()
    {
        var text = Enumerable.Range(0, 41).ToArray();
        const int V = 41;
        var source = new CharLstmTrainer.Streams(text, V, batch: 2, seq: 5, batches: 4);
        Assert.Equal(8, source.Count);
        var x = new float[2 * 5 * V]; var y = new int[2 * 5];
        source.Gather([2, 3], x, y); // batch 1 (unshuffled): chunk 1 of streams 0 and 1
        var ids = Enumerable.Range(0, 10).Select(i => Array.IndexOf(x, 1f, i * V, V) - i * V).ToArray();
        Assert.Equal([5, 6, 7, 8, 9, 25, 26, 27, 28, 29], ids);   // stream b starts at b·batches·seq
        Assert.Equal([6, 7, 8, 9, 10, 26, 27, 28, 29, 30], y);
        Assert.Equal(10, x.Count(v => v != 0));                   // one-hot
    }

    [Fact]
    public void LstmModeLearnsARepeatingText()
    {
        var data = new CharData(string.Concat(Enumerable.Repeat("the cat sat on the mat. ", 60)), "test");
        const int B = 4, S = 12;
        int batches = (data.Ids.Length - 1) / (B * S);
        using var m = CharLstmTrainer.Build(data.V, 32, 2, 0.1, new Rng(2));
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"], m.NamedParameters.Take(4).Select(p => p.Name));
        Assert.All(m.Parameters, p => Assert.All(p.Value, v => Assert.InRange(v, -0.08f, 1f)));
        var trainer = new Trainer<float, int>(m, new SoftmaxCrossEntropyLoss<float>(data.V), new Rnn.Optimizers.RmsProp<float>(m.Parameters, 5e-3, rho: 0.95, epsilon: 1e-8)) { ClipValue = 5 };
        float first = 0;
        var h = trainer.Fit(new CharLstmTrainer.Streams(data.Ids, data.V, B, S, batches),
            new FitOptions { Epochs = 8, BatchSize = B, Shuffle = false, Callbacks = [new ProgressCallback(b => { if (first == 0) first = (float)b.BatchLoss; }, null)] });
        double last = h.LastBatch.BatchLoss;
        Assert.True(last < 0.3 * first, $"loss {first} -> {last}: expected below 30% of the first");
        var s = new string(CharLstmTrainer.Sample(m, [data.IdOf('t')], 40, new Rng(1), 0).Select(i => data.Vocab[i]).ToArray());
        Assert.Contains("at", s); // greedy text from a learnt repetition
    }
}
