using System.Globalization;
using System.Text;
using Rnn.Data;
using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Samples.Adding;
using Rnn.Samples.Classify;
using Rnn.Samples.Quantize;
using static Rnn.Tests.SampleCli;

namespace Rnn.Tests;

/// <summary>
/// The accuracy measurements of issue 19: `classify --eval DIR` (a checkpoint's test accuracy at its precision) and
/// `quantize --eval adding` (an adding checkpoint's validation MSE at float32, bf16 and int8).
/// </summary>
[Collection("Console")]
public class QuantEvalCliTests
{
    private static string TempDir() { string d = Path.Combine(Path.GetTempPath(), "rnn-qeval-" + Guid.NewGuid().ToString("N")); Directory.CreateDirectory(d); return d; }

    private const int Vocab = 30, MaxLen = 12;
    private static readonly string[] Words = Enumerable.Range(0, Vocab - KerasTokenizerConfig.ImdbIndexFrom).Select(i => "w" + i).ToArray();

    // A small token LSTM saved as `imdb --save` does, and a test.tsv of 7 labelled reviews (some longer than maxlen).
    private static (string Model, string Data, SequenceModel<float> Net, string[] Texts, float[] Labels) Fixture(string dir)
    {
        var spec = new ModelSpec { Vocab = Vocab, EmbeddingDim = 8, Cell = CellKind.Lstm, Hidden = 16, OutputSize = 1, OutputActivation = Rnn.Kernels.Activation.Linear };
        var net = new SequenceModel<float>(spec, new Rng(7));
        string model = Path.Combine(dir, "m.safetensors");
        Checkpoint.Save(net, model, new Dictionary<string, string>
        {
            ["imdb.vocab"] = string.Join('\n', Words), ["imdb.maxlen"] = MaxLen.ToString(CultureInfo.InvariantCulture), ["imdb.source"] = "test",
        });
        var rng = new Rng(11);
        var texts = new string[7]; var labels = new float[7];
        var tsv = new StringBuilder(ImdbReader.Header + "\n");
        for (int i = 0; i < texts.Length; i++)
        {
            texts[i] = string.Join(' ', Enumerable.Range(0, 3 + 3 * i).Select(_ => Words[rng.NextInt(Words.Length)]));
            labels[i] = i % 2;
            tsv.Append(CultureInfo.InvariantCulture, $"test\t{i % 2}\t{i}\t{(i % 2 == 1 ? 8 : 2)}\t{texts[i]}\n");
        }
        string data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "test.tsv"), tsv.ToString());
        return (model, data, net, texts, labels);
    }

    [Fact]
    public void EvalCountsWhatForwardCountsOnTheSamePaddedReviews()
    {
        string dir = TempDir();
        try
        {
            var (model, data, net, texts, labels) = Fixture(dir);
            // The reference: the training code's Forward on pad_sequences' rows (last MaxLen ids, zeros in front).
            var tok = KerasTokenizer.FromRankedWords(Words, Vocab);
            var tokens = new int[texts.Length * MaxLen];
            for (int i = 0; i < texts.Length; i++)
            {
                var ids = tok.Encode(texts[i]);
                int n = Math.Min(ids.Length, MaxLen);
                ids.AsSpan(ids.Length - n).CopyTo(tokens.AsSpan(i * MaxLen + MaxLen - n));
            }
            net.Training = false;
            var logits = net.Forward(tokens, default, texts.Length, MaxLen).ToArray();
            int correct = BinaryCrossEntropy.Correct<float>(logits, labels);
            double loss = BinaryCrossEntropy.Forward<float>(logits, labels);

            // Batch 3 over 7 reviews: two full batches and a shorter last one.
            var r = ClassifyEval.Run(new Predictor<float>(net), tok, MaxLen, data, batch: 3);
            Assert.Equal(texts.Length, r.Count);
            Assert.Equal(correct, r.Correct);
            Assert.Equal(loss, r.Loss, 1e-6);

            var (code, stdout, err) = Run("classify", "--model", model, "--eval", data, "--batch", "3");
            Assert.True(code == 0, err);
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"test accuracy {(double)correct / texts.Length:F4} ({correct} of {texts.Length} correct), loss {loss:F4}, float32 weights"), stdout);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void EvalOfAQuantisedCheckpointRunsAtItsPrecision()
    {
        string dir = TempDir();
        try
        {
            var (model, data, _, texts, _) = Fixture(dir);
            foreach (var (to, name, precision) in new[] { ("bf16", "bf16", WeightPrecision.BFloat16), ("int8", "int8", WeightPrecision.Int8) })
            {
                string q = Path.Combine(dir, $"m-{to}.safetensors");
                Assert.Equal(0, Run("quantize", "--model", model, "--to", to, "--out", q).Code);
                // The reference: the quantised checkpoint's own weights through a Predictor at that precision.
                using var net = Checkpoint.Load<float>(q, out var meta);
                Assert.Equal(precision, Checkpoint.PrecisionOf(meta));
                var r = ClassifyEval.Run(new Predictor<float>(net, precision), KerasTokenizer.FromRankedWords(Words, Vocab), MaxLen, data, batch: 100);
                var (code, stdout, err) = Run("classify", "--model", q, "--eval", data);
                Assert.True(code == 0, err);
                Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"({r.Correct} of {texts.Length} correct), loss {r.Loss:F4}, {name} weights"), stdout);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void EvalOptionErrorsNameTheProblem()
    {
        string dir = TempDir();
        try
        {
            var (model, data, _, _, _) = Fixture(dir);
            string missing = Path.Combine(dir, "nope");
            var r = Run("classify", "--model", model, "--eval", missing);
            Assert.Equal(2, r.Code);
            Assert.Contains($"classify: --eval: folder '{missing}' not found", r.Err);

            // A folder without a test split: one line naming it and both layouts, exit code 3.
            string empty = Path.Combine(dir, "empty");
            Directory.CreateDirectory(empty);
            r = Run("classify", "--model", model, "--eval", empty);
            Assert.Equal(3, r.Code);
            Assert.Single(r.Err.TrimEnd().Split('\n'));
            Assert.Contains($"expected test/pos and test/neg (aclImdb layout) or test.tsv[.gz] in '{empty}'", r.Err);

            // A test split with no reviews.
            string header = Path.Combine(dir, "header");
            Directory.CreateDirectory(header);
            File.WriteAllText(Path.Combine(header, "test.tsv"), ImdbReader.Header + "\n");
            r = Run("classify", "--model", model, "--eval", header);
            Assert.Equal(3, r.Code);
            Assert.Contains($"--eval: '{header}' has a test split with no reviews", r.Err);

            r = Run("classify", "--model", model, "--eval", data, "--file", model);
            Assert.Equal(2, r.Code);
            Assert.Contains("classify: --eval and --file exclude each other", r.Err);

            r = Run("classify", "--model", model, "--eval", data, "--batch", "0");
            Assert.Equal(2, r.Code);
            Assert.Contains("classify: --batch expects an integer in [1, 100000], got '0'", r.Err);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AddingEvalRebuildsTheTrainingRunsValidationBatch()
    {
        string dir = TempDir();
        try
        {
            string path = Path.Combine(dir, "adding.safetensors");
            var train = Run("adding", "--epochs", "1", "--batches", "3", "--batch", "20", "--hidden", "12", "--seed", "5", "--save", path, "--quiet");
            Assert.True(train.Code == 0, train.Err);
            string printed = train.Out.Split('\n').Single(l => l.StartsWith("Epoch 1 validation cost = ", StringComparison.Ordinal))["Epoch 1 validation cost = ".Length..].Split(' ')[0];

            var (code, stdout, err) = Run("quantize", "--model", path, "--eval", "adding", "--seed", "5", "--batch", "20");
            Assert.True(code == 0, err);
            var lines = stdout.TrimEnd().Split('\n');
            Assert.Equal(4, lines.Length);
            // The streamed float32 path gives Forward's bits, and Forward's MSE is the one the training run printed.
            Assert.Equal($"float32  {printed} (Forward, as the training run printed: {printed})", lines[1]);
            Assert.StartsWith("bf16     ", lines[2]);
            Assert.StartsWith("int8     ", lines[3]);

            // The reduced precisions take their own path: not float32's bits, and within their format's error here.
            var r = AddingEval.Run(path, 5, 20, 50, 55);
            Assert.Equal(r.Forward, r.Full);
            foreach (double v in new[] { r.Bf16, r.Quarter })
            {
                Assert.NotEqual(r.Full, v);
                Assert.True(Math.Abs(v - r.Full) < 0.05 * r.Full, $"{v} vs float32 {r.Full}");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AddingEvalErrorsNameTheProblem()
    {
        string dir = TempDir();
        try
        {
            var (model, _, _, _, _) = Fixture(dir);
            var r = Run("quantize", "--model", model, "--eval", "adding");
            Assert.Equal(3, r.Code);
            Assert.Contains($"{model}: metadata 'adding.hidden': expected an integer in 1..100000 (a checkpoint written by `adding --save`), got 'no key'", r.Err);

            r = Run("quantize", "--model", model, "--eval", "imdb");
            Assert.Equal(2, r.Code);
            Assert.Contains("quantize: --eval expects one of adding, got 'imdb'", r.Err);

            r = Run("quantize", "--model", model, "--eval", "adding", "--to", "int8");
            Assert.Equal(2, r.Code);
            Assert.Contains("quantize: --eval measures and writes nothing; drop --to and --out", r.Err);

            r = Run("quantize", "--model", model, "--eval", "adding", "--max-length", "50");
            Assert.Equal(2, r.Code);
            Assert.Contains("quantize: --max-length expects an integer in [51, 1000000], got '50'", r.Err);
        }
        finally { Directory.Delete(dir, true); }
    }
}
