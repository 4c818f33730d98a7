using System.Diagnostics;
using System.Globalization;
using Rnn.Init;
using Rnn.IO;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;
using Rnn.Samples.Common;

namespace Rnn.Samples.Addition;

/// <summary>
/// The `addition` sample: Keras's addition_rnn.py, sequence to sequence (Karpathy's mode 4) with a decoder fed
/// by a RepeatVector of the encoder's output (mode 2): LSTM(128) → RepeatVector(digits+1) → LSTM(128, sequences)
/// → TimeDistributed(Dense(12)) → softmax cross-entropy, Adam, batch 128, on 50,000 unique questions with 10% held
/// out. Reports the exact-match accuracy on the held-out questions each epoch and shows 10 predictions.
/// </summary>
public static class AdditionSample
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("addition",
            "Keras's addition_rnn.py: learn to add two numbers of up to 3 digits given as text (\"123+45\"),\n" +
            "encoder LSTM(128) -> RepeatVector(4) -> decoder LSTM(128) -> TimeDistributed(Dense(12)), Adam, batch 128.")
            .Common(epochs: 100, lr: 1e-3, saveHelp: "write the trained model as a checkpoint (architecture and parameters)")
            .Option("cell", "NAME", "lstm | gru | rnn (encoder and decoder cells)", "lstm")
            .Option("hidden", "N", "hidden units (HIDDEN_SIZE)", "128")
            .Option("batch", "N", "batch size (BATCH_SIZE)", "128")
            .Option("examples", "N", "unique questions, 10% held out (TRAINING_SIZE)", "50000")
            .Option("digits", "N", "digits per operand (DIGITS)", "3")
            .Option("reverse", "BOOL", "reverse the question (Keras REVERSE)", "true")
            .Option("stop-at", "X", "stop once the held-out exact-match accuracy reaches X (0 = run every epoch)", "0");
        if (!cli.Parse(args)) return 0;
        var o = TrainOptions.Read(cli);
        int epochs = o.Epochs, threads = o.Threads;
        double lr = o.LearningRate!.Value;
        ulong seed = o.Seed;
        string cell = cli.Choice("cell", "lstm", "gru", "rnn");
        int hidden = cli.Int("hidden", 1, 100_000);
        int batch = cli.Int("batch", 1, 100_000);
        int examples = cli.Int("examples", 10, 10_000_000);
        int digits = cli.Int("digits", 1, 9);
        bool reverse = cli.Choice("reverse", "true", "false") == "true";
        double stopAt = cli.Double("stop-at", 0, 1);
        Engine.Threads = threads;
        using var cancel = new CancelFlag();

        // Keras: questions, then the model, then model.fit; the held-out exact match is checked after each epoch.
        var rng = new Rng(seed);
        var data = new AdditionData(examples, digits, reverse, rng);
        var order = Enumerable.Range(0, data.Count).ToArray();
        rng.Shuffle<int>(order);
        int split = data.Count - data.Count / 10;
        var train = order[..split]; var val = order[split..];
        using var model = Build(cell, hidden, digits, rng);
        int A = data.AnswerLen, C = AdditionData.Chars.Length;
        var trainer = new Trainer<float, int>(model, new SoftmaxCrossEntropyLoss<float>(C), new Adam<float>(model.Parameters, lr));

        Console.WriteLine($"addition: {train.Length} training / {val.Length} held-out questions ({digits} digits, reverse {reverse}), {cell}({hidden}) -> RepeatVector({A}) -> {cell}({hidden}) -> Dense({C}); Adam lr {lr.ToString(CultureInfo.InvariantCulture)}, batch {batch}, seed {seed}, threads {threads}");
        var report = new Report("addition").Config("cell", cell).Config("hidden", hidden).Config("batch", batch).Config("examples", examples)
            .Config("digits", digits).Config("reverse", reverse).Config("lr", lr).Config("seed", seed).Config("threads", threads).Config("epochs", epochs);
        var total = Stopwatch.StartNew();
        var showRng = new Rng(seed + 1);
        int reachedAt = 0, completed = 0;
        void EpochEnd(IFitControl fit, EpochEnd e)
        {
            var (exact, perChar) = Evaluate(model, data, val, batch);
            Console.WriteLine($"Epoch {e.Epoch}: loss {e.Loss:F4}  held-out exact match {exact:P2}  per-character {perChar:P2}  ({e.Seconds:F1}s, total {total.Elapsed.TotalSeconds:F0}s)");
            Show(model, data, val, showRng, 10);
            report.Epoch(("epoch", e.Epoch), ("loss", e.Loss), ("val_exact_acc", exact), ("val_char_acc", perChar), ("batches", e.BatchesPerEpoch), ("seconds", e.Seconds));
            completed = e.Epoch;
            if (stopAt > 0 && exact >= stopAt) { reachedAt = e.Epoch; fit.StopTraining = true; }
        }
        var progress = new FitProgress(new Progress(o.Quiet), report, o.Report, EpochEnd);
        var history = trainer.Fit(data.Source(train), new FitOptions { Epochs = epochs, BatchSize = batch, ShuffleRng = rng, Callbacks = [progress] }, cancel: cancel.Token);
        progress.Interrupted(history);

        if (reachedAt > 0) Console.WriteLine($"reached {stopAt:P0} exact match on the held-out questions at epoch {reachedAt}, {total.Elapsed.TotalSeconds:F0}s");
        report.Summary("total_seconds", total.Elapsed.TotalSeconds);
        report.Summary("reached_at_epoch", reachedAt);
        report.Summary("epochs_completed", completed);
        RunEnd.Write(o, report, cancel.Requested, path => Save(model, path, digits, reverse),
            $"addition: {cell}({hidden}), Adam lr {lr.ToString(CultureInfo.InvariantCulture)}, batch {batch}, seed {seed}", "cross-entropy",
            ["loss", "val_exact_acc", "val_char_acc"], chart: "val_exact_acc", elapsed: total.Elapsed);
        return 0;
    }

    /// <summary>
    /// Checkpoint of the model (<see cref="Checkpoint.Save"/>: its architecture and parameters "encoder.*", "decoder.*",
    /// "fc.*"), written atomically, with the cell, sizes and question format in the metadata. Load with Checkpoint.LoadModel.
    /// </summary>
    public static void Save(Model<float> model, string path, int digits, bool reverse)
        => Checkpoint.Save(model, path, new Dictionary<string, string>
        {
            ["addition.cell"] = ((RecurrentSpec)model.Specs[0]).Cell switch { CellKind.Lstm => "lstm", CellKind.Gru => "gru", _ => "rnn" },
            ["addition.hidden"] = ((RecurrentSpec)model.Specs[0]).Hidden.ToString(CultureInfo.InvariantCulture),
            ["addition.digits"] = digits.ToString(CultureInfo.InvariantCulture),
            ["addition.reverse"] = reverse ? "true" : "false",
        });

    /// <summary>
    /// The Keras model: LSTM(hidden) → RepeatVector(digits+1) → LSTM(hidden, return_sequences) →
    /// TimeDistributed(Dense(12)); softmax is in the loss. Keras defaults (one bias, unit forget bias); the encoder's
    /// state is not passed to the decoder (Keras's example does not), only its output. No dropout, so
    /// <paramref name="rng"/> draws the weights and nothing else.
    /// </summary>
    public static Model<float> Build(string cell, int hidden, int digits, Rng rng)
    {
        int C = AdditionData.Chars.Length;
        var kind = cell switch { "lstm" => CellKind.Lstm, "gru" => CellKind.Gru, _ => CellKind.RnnTanh };
        return new Model<float>(C, rng, dropoutRng: new Rng(0), [
            new RecurrentSpec("encoder", kind, hidden),
            new RepeatVectorSpec("repeat", digits + 1),
            new RecurrentSpec("decoder", kind, hidden) { ReturnSequences = true },
            new DenseSpec("fc", C)]);
    }

    /// <summary>Greedy (argmax) answers (n, AnswerLen) of one-hot questions x (n, QueryLen, 12), in evaluation mode.</summary>
    public static void Predict(Model<float> model, ReadOnlySpan<float> x, Span<int> answers, int n, int queryLen)
    {
        model.Training = false;
        var logits = model.Forward(x, default, n, queryLen); // (n·A, C)
        int C = AdditionData.Chars.Length;
        for (int i = 0; i < answers.Length; i++) answers[i] = Tokens.Argmax(logits.Slice(i * C, C));
    }

    /// <summary>Greedy decoding of the held-out set: (exact-match accuracy, per-character accuracy).</summary>
    public static (double Exact, double PerChar) Evaluate(Model<float> model, AdditionData data, int[] val, int batch)
    {
        int Q = data.QueryLen, A = data.AnswerLen, C = AdditionData.Chars.Length;
        var x = new float[batch * Q * C]; var y = new int[batch * A]; var pred = new int[batch * A];
        int exact = 0, chars = 0;
        for (int from = 0; from < val.Length; from += batch)
        {
            int n = Math.Min(batch, val.Length - from);
            data.Batch<float>(x, y, val, from, n);
            Predict(model, x.AsSpan(0, n * Q * C), pred.AsSpan(0, n * A), n, Q);
            for (int i = 0; i < n; i++)
            {
                bool all = true;
                for (int t = 0; t < A; t++) { bool ok = pred[i * A + t] == y[i * A + t]; all &= ok; if (ok) chars++; }
                if (all) exact++;
            }
        }
        return ((double)exact / val.Length, (double)chars / (val.Length * A));
    }

    private static void Show(Model<float> model, AdditionData data, int[] val, Rng rng, int count)
    {
        int Q = data.QueryLen, A = data.AnswerLen, C = AdditionData.Chars.Length;
        var pick = new int[count];
        for (int i = 0; i < count; i++) pick[i] = val[rng.NextInt(val.Length)];
        var x = new float[count * Q * C]; var y = new int[count * A]; var p = new int[count * A];
        data.Batch<float>(x, y, pick, 0, count);
        Predict(model, x, p, count, Q);
        for (int i = 0; i < count; i++)
        {
            string guess = new(p.AsSpan(i * A, A).ToArray().Select(id => AdditionData.Chars[id]).ToArray());
            bool ok = guess == data.Answers[pick[i]];
            Console.WriteLine($"  Q {data.Readable(pick[i])}  T {data.Answers[pick[i]]}  {(ok ? "✓" : "✗")} {guess}");
        }
    }
}
