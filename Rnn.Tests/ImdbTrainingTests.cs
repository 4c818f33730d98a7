using Rnn.Data;
using Rnn.Init;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

public class ImdbTrainingTests
{
    /// <summary>
    /// A short run of the imdb network (smaller: embed 16, LSTM 16) on 4,000 generated reviews, three passes: the
    /// training loss must fall from ln 2 ≈ 0.693 to below 0.45 (mean of the last pass). On so few reviews the model
    /// mostly memorises (the held-out split needs the full 25,000 to generalise, as the sample shows), so this
    /// asserts that the whole network trains, not that it generalises.
    /// </summary>
    [Fact]
    public void LstmLearnsGeneratedReviews()
    {
        const int maxlen = 100, batch = 32;
        var (train, test) = SyntheticImdb.Generate(7, trainCount: 4000, testCount: 1000);
        var (xTr, yTr) = ImdbData.Pack(train, maxlen);
        var (xTe, yTe) = ImdbData.Pack(test, maxlen);
        var spec = new ModelSpec { Vocab = ImdbData.NumWords, EmbeddingDim = 16, Cell = CellKind.Lstm, Hidden = 16, HeadDropout = 0.2, OutputSize = 1 };
        using var m = new SequenceModel<float>(spec, new Rng(3));
        var opt = new Adam<float>(m.Parameters, 1e-2);

        (double Loss, double Acc) Evaluate()
        {
            m.Training = false;
            var logits = m.Forward(xTe, default, test.Count, maxlen);
            double l = BinaryCrossEntropy.Forward<float>(logits, yTe), a = BinaryCrossEntropy.Accuracy<float>(logits, yTe);
            m.Training = true;
            return (l, a);
        }

        var (loss0, _) = Evaluate();
        var order = Enumerable.Range(0, train.Count).ToArray();
        var xb = new int[batch * maxlen]; var yb = new float[batch];
        var rng = new Rng(5);
        double lastPass = 0; int batches = 0;
        for (int epoch = 0; epoch < 3; epoch++)
        {
            rng.Shuffle<int>(order);
            lastPass = 0; batches = 0;
            for (int s = 0; s + batch <= order.Length; s += batch)
            {
                for (int k = 0; k < batch; k++)
                {
                    Array.Copy(xTr, order[s + k] * maxlen, xb, k * maxlen, maxlen);
                    yb[k] = yTr[order[s + k]];
                }
                opt.ZeroGrad();
                var logits = m.Forward(xb, default, batch, maxlen);
                lastPass += BinaryCrossEntropy.Forward<float>(logits, yb); batches++;
                var d = m.OutputGrad[..batch]; d.Clear();
                BinaryCrossEntropy.Backward<float>(d, logits, yb, 1f);
                m.Backward(d, default, batch, maxlen);
                opt.Step();
            }
        }
        Assert.InRange(loss0, 0.68, 0.71);
        lastPass /= batches;
        Assert.True(lastPass < 0.45, $"training loss of the last pass {lastPass:F4}; expected below 0.45 (from {loss0:F4})");
    }
}
