using System.Diagnostics;
using System.Globalization;
using Rnn.Data;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Samples.Common;

namespace Rnn.Samples.Classify;

/// <summary>
/// `classify --eval DIR`: the accuracy of a checkpoint on DIR's labelled test split, read with the checkpoint's own
/// tokenizer and maxlen and run through the <see cref="Predictor{T}"/> at the checkpoint's precision, so a quantised
/// checkpoint is measured on its reduced-precision path. At float32 it gives the bits of `imdb`'s test pass.
/// </summary>
public static class ClassifyEval
{
    /// <summary>What one evaluation measured.</summary>
    public readonly record struct Result(int Correct, int Count, double Loss, double Seconds)
    {
        /// <summary>Correct / Count.</summary>
        public double Accuracy => (double)Correct / Count;
    }

    /// <summary>
    /// Classifies every review of <paramref name="dir"/>'s test split (aclImdb test/pos, test/neg or test.tsv[.gz]),
    /// <paramref name="batch"/> streams at a time, pre-truncated and pre-padded to <paramref name="maxlen"/> as in training.
    /// </summary>
    public static Result Run(Predictor<float> predictor, KerasTokenizer tokenizer, int maxlen, string dir, int batch)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentNullException.ThrowIfNull(tokenizer);
        Guard.AtLeast(batch, 1);
        var clock = Stopwatch.StartNew();
        // A folder without a test split throws FileNotFoundException naming it: one line and exit code 3.
        var reviews = ImdbReader.LoadSplit(dir, "test");
        if (reviews.Length == 0) throw new BadInputException($"--eval: '{dir}' has a test split with no reviews.");
        var ids = tokenizer.EncodeAll(reviews.Select(r => r.Text).ToArray());
        bool sigmoid = predictor.Model.Spec.OutputActivation == Rnn.Kernels.Activation.Sigmoid;
        var tokens = new int[batch * maxlen];
        var output = new float[batch];
        var labels = new float[batch];
        var state = predictor.NewState(batch);
        long correct = 0;
        double lossSum = 0;
        for (int start = 0; start < reviews.Length; start += batch)
        {
            int n = Math.Min(batch, reviews.Length - start);
            if (n < batch) state = predictor.NewState(n); // the last, shorter batch
            Array.Clear(tokens);
            for (int k = 0; k < n; k++)
            {
                // Keras pad_sequences defaults, as in training: the last maxlen ids, padded in front with 0.
                var window = ImdbData.Window(ids[start + k], maxlen);
                window.CopyTo(tokens.AsSpan(k * maxlen + maxlen - window.Length));
                labels[k] = reviews[start + k].Label;
            }
            var y = output.AsSpan(0, n);
            predictor.PredictTokens(y, tokens.AsSpan(0, n * maxlen), default, state, maxlen);
            if (sigmoid)
                for (int k = 0; k < n; k++)
                {
                    double p = Math.Clamp(y[k], 1e-7, 1 - 1e-7);
                    lossSum -= labels[k] >= 0.5f ? Math.Log(p) : Math.Log(1 - p);
                    if ((y[k] > 0.5f) == (labels[k] >= 0.5f)) correct++;
                }
            else
            {
                lossSum += BinaryCrossEntropy.Forward<float>(y, labels.AsSpan(0, n)) * n;
                correct += BinaryCrossEntropy.Correct<float>(y, labels.AsSpan(0, n));
            }
        }
        return new Result((int)correct, reviews.Length, lossSum / reviews.Length, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The line `classify --eval` prints.</summary>
    public static string Describe(Result r, WeightPrecision precision, string dir)
        => string.Create(CultureInfo.InvariantCulture,
            $"test accuracy {r.Accuracy:F4} ({r.Correct} of {r.Count} correct), loss {r.Loss:F4}, {Name(precision)} weights, on '{dir}'; {r.Seconds:F1}s");

    /// <summary>The precision as `quantize --to` spells it.</summary>
    public static string Name(WeightPrecision p) => p switch
    {
        WeightPrecision.BFloat16 => "bf16",
        WeightPrecision.Int8 => "int8",
        _ => "float32",
    };
}
