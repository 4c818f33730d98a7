using Rnn.Data;
using Rnn.Init;

namespace Rnn.Samples.Imdb;

/// <summary>
/// The bag-of-words baseline: logistic regression on log(1 + count) of each id in [3, 20000) of a review's
/// last maxlen ids, trained with plain SGD (decaying step) for a few shuffled epochs. It sees which words a
/// review has, never their order.
/// </summary>
public static class BagOfWords
{
    /// <summary>Trains on <paramref name="train"/> and returns (train accuracy, test accuracy).</summary>
    public static (double Train, double Test) Evaluate(ImdbSplit train, ImdbSplit test, int? maxlen = ImdbData.MaxLen,
        int epochs = 10, double lr = 0.005, ulong seed = 1)
    {
        Guard.AtLeast(epochs, 1);
        var w = new double[ImdbData.NumWords];
        double bias = 0;
        var trainF = Features(train, maxlen); var testF = Features(test, maxlen);
        var batcher = new Batcher(train.Count, 1, new Rng(seed));
        long step = 0;
        for (int e = 0; e < epochs; e++)
            foreach (var idx in batcher.NextEpoch())
            {
                int i = idx.Span[0];
                var (ids, vals) = trainF[i];
                double z = bias;
                for (int j = 0; j < ids.Length; j++) z += w[ids[j]] * vals[j];
                double g = 1 / (1 + Math.Exp(-z)) - train.Y[i]; // dBCE/dz
                double eta = lr / (1 + step++ * 1e-5);
                bias -= eta * g;
                for (int j = 0; j < ids.Length; j++) w[ids[j]] -= eta * g * vals[j];
            }
        double Acc(ImdbSplit s, (int[] Ids, double[] Vals)[] f)
        {
            int c = 0;
            for (int i = 0; i < s.Count; i++)
            {
                double z = bias;
                for (int j = 0; j < f[i].Ids.Length; j++) z += w[f[i].Ids[j]] * f[i].Vals[j];
                if ((z > 0 ? 1 : 0) == s.Y[i]) c++;
            }
            return (double)c / s.Count;
        }
        return (Acc(train, trainF), Acc(test, testF));
    }

    /// <summary>Sparse features per review: distinct ids in [3, NumWords) and log(1 + count).</summary>
    private static (int[] Ids, double[] Vals)[] Features(ImdbSplit s, int? maxlen)
    {
        var f = new (int[], double[])[s.Count];
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < s.Count; i++)
        {
            counts.Clear();
            foreach (int id in ImdbData.Window(s.X[i], maxlen))
                if (id >= KerasTokenizerConfig.ImdbIndexFrom && id < ImdbData.NumWords) counts[id] = counts.GetValueOrDefault(id) + 1;
            var ids = counts.Keys.Order().ToArray();
            f[i] = (ids, ids.Select(id => Math.Log(1 + counts[id])).ToArray());
        }
        return f;
    }
}
