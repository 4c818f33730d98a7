using System.Globalization;
using Rnn.Init;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;
using Rnn.Samples.Addition;

namespace Rnn.Tests;

public class AdditionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void QuestionsFollowKeras(bool reverse)
    {
        var d = new AdditionData(3000, 3, reverse, new Rng(1));
        var seen = new HashSet<(int, int)>();
        for (int e = 0; e < d.Count; e++)
        {
            Assert.Equal(7, d.Queries[e].Length);
            Assert.Equal(4, d.Answers[e].Length);
            string q = d.Readable(e);
            Assert.Equal(reverse ? new string(d.Queries[e].Reverse().ToArray()) : d.Queries[e], q);
            var parts = q.TrimEnd().Split('+');
            int a = int.Parse(parts[0], CultureInfo.InvariantCulture), b = int.Parse(parts[1], CultureInfo.InvariantCulture);
            Assert.InRange(a, 0, 999); Assert.InRange(b, 0, 999);
            Assert.Equal((a + b).ToString(CultureInfo.InvariantCulture).PadRight(4), d.Answers[e]);
            Assert.True(seen.Add((Math.Min(a, b), Math.Max(a, b))), $"question {q} repeated (Keras keys on the sorted pair)");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdditionData(100, 1, true, new Rng(1))); // only 55 pairs of 1-digit numbers
    }

    [Fact]
    public void OneHotBatchAndShapes()
    {
        var d = new AdditionData(10, 3, true, new Rng(2));
        var x = new float[2 * 7 * 12]; var y = new int[2 * 4];
        d.Batch<float>(x, y, [3, 7], 0, 2);
        for (int i = 0; i < 2 * 7; i++) Assert.Equal(1f, x.AsSpan(i * 12, 12).ToArray().Sum());
        Assert.Equal(d.Answers[7], new string(y.AsSpan(4, 4).ToArray().Select(id => AdditionData.Chars[id]).ToArray()));
        using var m = AdditionSample.Build("lstm", 16, 3, new Rng(3));
        var logits = m.Forward(x, default, 2, 7);
        Assert.Equal(2 * 4 * 12, logits.Length); // (batch, digits+1, 12)
    }

    [Fact]
    public void TrainingLowersTheLoss()
    {
        // A small version of the Keras run: 2000 questions, LSTM(48), 6 epochs of batch 128.
        var rng = new Rng(4);
        var d = new AdditionData(2000, 3, true, rng);
        using var m = AdditionSample.Build("lstm", 48, 3, rng);
        var trainer = new Trainer<float, int>(m, new SoftmaxCrossEntropyLoss<float>(12), new Adam<float>(m.Parameters, 3e-3));
        var order = Enumerable.Range(0, d.Count).ToArray();
        var x = new float[128 * 7 * 12]; var y = new int[128 * 4];
        var held = order[..256].ToArray();
        var (_, before) = AdditionSample.Evaluate(m, d, held, 128);
        float first = 0, last = 0;
        for (int epoch = 0; epoch < 6; epoch++)
        {
            rng.Shuffle<int>(order);
            for (int from = 0; from + 128 <= d.Count; from += 128)
            {
                d.Batch<float>(x, y, order, from, 128);
                last = trainer.TrainStep(x, y, 128, 7);
                if (first == 0) first = last;
            }
        }
        Assert.True(last < 0.75f * first, $"loss {first} -> {last}: expected below 75% of the first");
        var (exact, perChar) = AdditionSample.Evaluate(m, d, held, 128);
        Assert.True(perChar > before + 0.1, $"per-character accuracy {before:P1} -> {perChar:P1} (exact {exact:P1}): expected a gain of 10 points");
    }
}
