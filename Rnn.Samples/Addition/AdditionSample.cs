using System.Diagnostics;
using System.Globalization;
using Rnn.Init;
using Rnn.Layers;
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
            .Common(epochs: 100, lr: 1e-3, saveHelp: "write the trained encoder, decoder and head as safetensors (PyTorch names)")
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

        var rng = new Rng(seed);
        var data = new AdditionData(examples, digits, reverse, rng);
        var order = Enumerable.Range(0, data.Count).ToArray();
        rng.Shuffle<int>(order);
        int split = data.Count - data.Count / 10;
        var train = order[..split]; var val = order[split..];
        using var model = Build(cell, hidden, digits, rng);
        var opt = new Adam<float>(model.Parameters, lr);
        int Q = data.QueryLen, A = data.AnswerLen, C = AdditionData.Chars.Length;

        Console.WriteLine($"addition: {train.Length} training / {val.Length} held-out questions ({digits} digits, reverse {reverse}), {cell}({hidden}) -> RepeatVector({A}) -> {cell}({hidden}) -> Dense({C}); Adam lr {lr.ToString(CultureInfo.InvariantCulture)}, batch {batch}, seed {seed}, threads {threads}");
        var report = new Report("addition").Config("cell", cell).Config("hidden", hidden).Config("batch", batch).Config("examples", examples)
            .Config("digits", digits).Config("reverse", reverse).Config("lr", lr).Config("seed", seed).Config("threads", threads).Config("epochs", epochs);
        var x = new float[batch * Q * C]; var y = new int[batch * A];
        var pred = new int[batch * A];
        var progress = new Progress(o.Quiet);
        var total = Stopwatch.StartNew();
        var showRng = new Rng(seed + 1);
        int reachedAt = 0, completed = 0;
        for (int epoch = 1; epoch <= epochs && !cancel.Requested; epoch++)
        {
            progress.StartEpoch();
            rng.Shuffle<int>(train);
            int batches = (train.Length + batch - 1) / batch;
            double sum = 0; int seen = 0;
            for (int i = 0; i < batches && !cancel.Requested; i++)
            {
                int from = i * batch, n = Math.Min(batch, train.Length - from);
                data.Batch<float>(x, y, train, from, n);
                opt.ZeroGrad();
                float loss = model.TrainLoss(x.AsSpan(0, n * Q * C), default, y.AsSpan(0, n * A), default, n, Q, A);
                opt.Step();
                sum += loss * n; seen += n;
                progress.Update(epoch, epochs, i + 1, batches, seen, sum / seen);
            }
            if (cancel.Requested)
            {
                // A partial epoch: its training loss and how many batches ran; no held-out pass.
                progress.Clear();
                int ran = (seen + batch - 1) / batch;
                Console.WriteLine($"interrupted in epoch {epoch} after {ran} of {batches} batches.");
                if (seen > 0) report.Epoch(("epoch", epoch), ("loss", sum / seen), ("batches", ran), ("seconds", progress.Seconds));
                break;
            }
            double trainSeconds = progress.Seconds;
            var (exact, perChar) = Evaluate(model, data, val, x, y, pred, batch);
            Console.WriteLine($"Epoch {epoch}: loss {sum / seen:F4}  held-out exact match {exact:P2}  per-character {perChar:P2}  ({trainSeconds:F1}s, total {total.Elapsed.TotalSeconds:F0}s)");
            Show(model, data, val, showRng, 10);
            report.Epoch(("epoch", epoch), ("loss", sum / seen), ("val_exact_acc", exact), ("val_char_acc", perChar), ("batches", batches), ("seconds", trainSeconds));
            completed = epoch;
            if (o.Report != null) report.Save(o.Report);
            if (reachedAt == 0 && stopAt > 0 && exact >= stopAt) { reachedAt = epoch; break; }
        }
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
    /// Checkpoint of the model: every parameter as safetensors (PyTorch names with _enc / _dec suffixes, fc.*),
    /// written atomically, with the cell, sizes and question format in the metadata. Load with SafeTensors.LoadInto
    /// into a model from <see cref="Build"/>.
    /// </summary>
    public static void Save(EncoderDecoder<float> model, string path, int digits, bool reverse)
        => Rnn.IO.SafeTensors.SaveParameters(path, model.Parameters, new Dictionary<string, string>
        {
            ["addition.cell"] = model.Encoder switch { Lstm<float> => "lstm", Gru<float> => "gru", _ => "rnn" },
            ["addition.hidden"] = model.Encoder.HiddenSize.ToString(CultureInfo.InvariantCulture),
            ["addition.digits"] = digits.ToString(CultureInfo.InvariantCulture),
            ["addition.reverse"] = reverse ? "true" : "false",
        });

    /// <summary>
    /// The Keras model: encoder (final state only) → RepeatVector(digits+1) → decoder (sequences) → per-step
    /// Dense(12). The encoder's state is not passed to the decoder (Keras's example does not), only its output.
    /// </summary>
    public static EncoderDecoder<float> Build(string cell, int hidden, int digits, Rng rng)
    {
        int C = AdditionData.Chars.Length;
        IRecurrentLayer<float> Make(int input, bool sequences, string suffix) => cell switch
        {
            "lstm" => new Lstm<float>(input, hidden, rng, new LstmOptions { ReturnSequences = sequences }, suffix),   // Keras defaults
            "gru" => new Gru<float>(input, hidden, rng, new GruOptions { ReturnSequences = sequences }, suffix),
            _ => new SimpleRnn<float>(input, hidden, rng, new SimpleRnnOptions { ReturnSequences = sequences }, suffix),
        };
        var enc = Make(C, false, "_enc");
        var dec = Make(hidden, true, "_dec");
        var head = new Dense<float>(hidden, C, rng, name: "fc");
        return new EncoderDecoder<float>(enc, dec, head, new EncoderDecoderOptions { Feed = DecoderFeed.RepeatVector, PassState = false });
    }

    /// <summary>Greedy decoding of the held-out set: (exact-match accuracy, per-character accuracy).</summary>
    public static (double Exact, double PerChar) Evaluate(EncoderDecoder<float> model, AdditionData data, int[] val, float[] x, int[] y, int[] pred, int batch)
    {
        int Q = data.QueryLen, A = data.AnswerLen, C = AdditionData.Chars.Length;
        int exact = 0, chars = 0;
        for (int from = 0; from < val.Length; from += batch)
        {
            int n = Math.Min(batch, val.Length - from);
            data.Batch<float>(x, y, val, from, n);
            model.Decode(pred.AsSpan(0, n * A), x.AsSpan(0, n * Q * C), default, n, Q, A);
            for (int i = 0; i < n; i++)
            {
                bool all = true;
                for (int t = 0; t < A; t++) { bool ok = pred[i * A + t] == y[i * A + t]; all &= ok; if (ok) chars++; }
                if (all) exact++;
            }
        }
        return ((double)exact / val.Length, (double)chars / (val.Length * A));
    }

    private static void Show(EncoderDecoder<float> model, AdditionData data, int[] val, Rng rng, int count)
    {
        int Q = data.QueryLen, A = data.AnswerLen, C = AdditionData.Chars.Length;
        var pick = new int[count];
        for (int i = 0; i < count; i++) pick[i] = val[rng.NextInt(val.Length)];
        var x = new float[count * Q * C]; var y = new int[count * A]; var p = new int[count * A];
        data.Batch<float>(x, y, pick, 0, count);
        model.Decode(p, x, default, count, Q, A);
        for (int i = 0; i < count; i++)
        {
            string guess = new(p.AsSpan(i * A, A).ToArray().Select(id => AdditionData.Chars[id]).ToArray());
            bool ok = guess == data.Answers[pick[i]];
            Console.WriteLine($"  Q {data.Readable(pick[i])}  T {data.Answers[pick[i]]}  {(ok ? "✓" : "✗")} {guess}");
        }
    }
}
