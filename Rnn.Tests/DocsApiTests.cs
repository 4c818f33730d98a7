using System.Text.RegularExpressions;
using Rnn.Data;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>
/// The code of docs/API.md sections 1 and 2, as written there (the next test checks that every line of those blocks
/// is in this file), so the documented code compiles and runs.
/// </summary>
public class DocsApiTests
{
    [Fact]
    public void TheBuildAndTrainCodeOfApiMdRuns()
    {
        // ----- 1. Build a model
        using var model = new Model<float>(inputSize: 0, new Rng(1),      // 0: the input is token ids (an embedding first)
            new EmbeddingSpec("embedding", Vocab: 20000, Dim: 128),
            new RecurrentSpec("lstm", CellKind.Lstm, Hidden: 128),        // Layers, Bidirectional, DropoutBetween, InputDropout,
            new DropoutSpec("dropout", 0.5),                              //   RecurrentDropout, Init, ReturnSequences, InitialState
            new DenseSpec("fc", Units: 1, Activation.Linear));            // logits: the loss applies the sigmoid

        using var lm = new Model<float>(inputSize: 65, new Rng(1),                 // one-hot characters in
            new RecurrentSpec("rnn", CellKind.Lstm, Hidden: 128) { Layers = 2, ReturnSequences = true, Stateful = true },
            new DenseSpec("fc", Units: 65));                                       // (batch·seq, 65) logits
        var lmTrainer = new Trainer<float, int>(lm, new SoftmaxCrossEntropyLoss<float>(65), new RmsProp<float>(lm.Parameters, 2e-3));
        float[] chunk = new float[50 * 20 * 65]; int[] next = new int[50 * 20];    // (B=50, S=20, 65) one-hot, (B, S) targets
        lm.ResetStates();                                                          // a new text
        float lmLoss = lmTrainer.TrainStep(chunk, next, 50, 20);                   // the next chunk continues each stream
        Assert.Equal(50, lm.StateBatch);
        Assert.True(float.IsFinite(lmLoss));

        var spec = new ModelSpec
        {
            Vocab = 20000, EmbeddingDim = 128,          // token input; for features: InputSize = F, Vocab = 0
            Cell = CellKind.Lstm, Hidden = 128, Layers = 1,
            HeadDropout = 0.5, OutputSize = 1,
            OutputActivation = Activation.Linear,       // logits: the loss applies the sigmoid
            Init = InitScheme.Keras,                    // or InitScheme.PyTorch
        };
        using var fromSpec = new SequenceModel<float>(spec, new Rng(1));

        var rng = new Rng(42);
        using var rnn = new SimpleRnn<float>(inputSize: 2, hiddenSize: 16, rng, new SimpleRnnOptions { ReturnSequences = false });
        using var lstm = new Lstm<float>(2, 16, rng, new LstmOptions { ReturnSequences = true });            // (B, S, H)
        using var gru = new Gru<float>(2, 16, rng, new GruOptions { Backwards = true }, suffix: "_l0_reverse"); // weight_ih_l0_reverse, ...
        using var fc = new Dense<float>(16, 1, rng, Activation.Tanh, name: "fc");                         // fc.weight, fc.bias

        // ----- 2. Train: with Fit
        var (train, test) = SyntheticImdb.Generate(seed: 1, trainCount: 2000, testCount: 1000);
        var (xTr, yTr) = ImdbData.Pack(train, maxlen: 100);              // (n, 100) pre-padded ids, (n) labels 0/1
        var (xTe, yTe) = ImdbData.Pack(test, maxlen: 100);
        var trainer = new Trainer<float, float>(model, new BinaryCrossEntropyLoss<float>(), new Adam<float>(model.Parameters));
        History history = trainer.Fit(
            new ArrayBatchSource<int, float>(xTr, yTr, train.Count, seqLen: 100),
            new FitOptions
            {
                Epochs = 1, BatchSize = 32, ShuffleRng = new Rng(2),
                Callbacks = [new EarlyStopping(Metric.ValLoss, patience: 1), new ReduceLROnPlateau(Metric.ValLoss, factor: 0.5, patience: 1)]
            },
            validation: new ArrayBatchSource<int, float>(xTe, yTe, test.Count, seqLen: 100));
        Console.WriteLine($"val accuracy {history.Epochs[^1].ValAccuracy:F4}");
        Assert.Single(history.Epochs);
        Assert.Equal(63, history.Epochs[0].Batches); // ⌈2000 / 32⌉
        Assert.InRange(history.Epochs[0].ValAccuracy, 0.0, 1.0);
        Assert.True(double.IsFinite(history.Epochs[0].ValLoss));

        // ----- step by step
        int B = 32, S = 100;
        int[] x = new int[B * S];                        // (B, S) token ids, filled by your data pipeline
        float[] y = new float[B];                        // (B) labels 0/1
        xTr.AsSpan(0, B * S).CopyTo(x); yTr.AsSpan(0, B).CopyTo(y);
        float loss = trainer.TrainStep(x, y, B, S);
        float testLoss = trainer.Evaluate(x, y, B, S);   // trainer.LastCorrect: rows classified right
        Assert.True(float.IsFinite(loss) && float.IsFinite(testLoss));

        // ----- by hand
        var opt = new Adam<float>(fromSpec.Parameters, learningRate: 1e-3);
        opt.MaxGradNorm = 5;                             // optional global-norm clipping inside Step (0 = off)

        fromSpec.Training = true;                        // dropout on
        opt.ZeroGrad();                                  // parameter gradients accumulate: clear them each step
        ReadOnlySpan<float> logits = fromSpec.Forward(x, default, B, S);   // (B, 1), owned by the model
        float manualLoss = BinaryCrossEntropy.Forward<float>(logits, y);
        Span<float> dOut = fromSpec.OutputGrad;          // (B, 1), owned by the model
        BinaryCrossEntropy.Backward<float>(dOut, logits, y, 1f);           // written, not accumulated
        fromSpec.Backward(dOut, default, B, S);          // dx = default: no input gradient wanted
        opt.Step();
        double accuracy = BinaryCrossEntropy.Accuracy<float>(fromSpec.Forward(x, default, B, S), y);
        Assert.True(float.IsFinite(manualLoss));
        Assert.InRange(accuracy, 0, 1);

        // ----- raw layers
        float[] xs = new float[B * 10 * 2], mask = new float[B * 10], target = new float[B];   // (B,T,F) (B,T) (B)
        float[] h = new float[B * 16], p = new float[B], dp = new float[B], dh = new float[B * 16];
        var sgd = new Sgd<float>(rnn.Parameters.Concat(fc.Parameters), learningRate: 0.01);
        Array.Fill(mask, 1f);

        sgd.ZeroGrad();
        rnn.Forward(h, xs, mask, default, B, 10);       // h (B, H): the final state (ReturnSequences = false)
        fc.Forward(p, h, B);                             // p (B, 1)
        float mse = Mse.Forward<float>(p, target);
        Mse.Backward<float>(dp, p, target, 1f);          // written
        Array.Clear(dh);                                 // fc.Backward accumulates into dh
        fc.Backward(dh, dp, B);
        rnn.Backward(default, default, dh, B, 10);       // dx, dh0 not wanted
        sgd.Step();
        Assert.True(float.IsFinite(mse));
        Assert.Contains(Dispatch.KernelPath, new[] { "Vector512", "Vector256", "Vector128", "scalar" });
        _ = (lstm, gru);
    }

    [Fact]
    public void EveryLineOfTheBuildAndTrainBlocksOfApiMdIsInTheTestAbove()
    {
        string root = Path.GetDirectoryName(Path.GetDirectoryName(InteropTests.Fixture("gru.safetensors")))!; // Rnn.Tests
        string doc = File.ReadAllText(Path.Combine(root, "..", "docs", "API.md"));
        string test = Normal(File.ReadAllText(Path.Combine(root, "DocsApiTests.cs")));
        int from = doc.IndexOf("## 1. Build a model", StringComparison.Ordinal), to = doc.IndexOf("### Recurrent layers", StringComparison.Ordinal);
        Assert.True(from >= 0 && to > from, "docs/API.md: sections 1 and 2 not found");
        var blocks = Regex.Matches(doc[from..to], "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(blocks.Count >= 6, $"expected the six code blocks of sections 1 and 2, found {blocks.Count}");
        foreach (Match b in blocks)
            foreach (string line in b.Groups[1].Value.Split('\n'))
            {
                string l = Normal(line);
                if (l.Length == 0 || l.StartsWith("using ", StringComparison.Ordinal)) continue; // the usings are at the top of this file
                Assert.True(test.Contains(l, StringComparison.Ordinal), $"docs/API.md line not in DocsApiTests.cs: {line}");
            }
    }

    private static string Normal(string s) => Regex.Replace(s, @"\s+", " ").Trim();
}
