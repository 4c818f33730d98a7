using System.Globalization;
using Rnn.Data;
using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;
using Rnn.Samples.Common;

namespace Rnn.Samples.Imdb;

/// <summary>
/// The `imdb` sample: Keras's examples/imdb_lstm.py. Embedding(20000, 128) → LSTM(128) → Dropout(0.5) →
/// Dense(1, sigmoid) with binary cross-entropy and Adam, batches of 32 reviews cut to 100 tokens. Runs on an
/// embedded generator of IMDB-shaped data by default, or on real reviews with --data.
/// </summary>
public static class ImdbSample
{
    /// <summary>The largest --maxlen, and the largest imdb.maxlen `classify` accepts from a model file.</summary>
    public const int MaxMaxLen = 100_000;

    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("imdb",
            "Keras's imdb_lstm.py: Embedding(20000,128) -> LSTM(128) -> Dropout(0.5) -> Dense(1, sigmoid), BCE, Adam,\n" +
            "batch 32, maxlen 100. Without --data it trains on embedded IMDB-shaped synthetic data (no download).\n" +
            "The Keras 2 variant: --maxlen 80 --dropout 0.2 --recurrent-dropout 0.2 --head-dropout 0 --epochs 15.")
            .Common(epochs: 4, lr: 1e-3, saveHelp: "write the trained model as a safetensors checkpoint (with its vocabulary; `classify` reads it)")
            .Option("data", "DIR", "real reviews: an aclImdb folder, or a folder with train.tsv[.gz] and test.tsv[.gz]")
            .Option("word-index", "FILE", "rank words with a Keras imdb_word_index.json instead of training-set frequency")
            .Option("max-features", "N", "vocabulary size (num_words)", "20000")
            .Option("maxlen", "N", "tokens kept per review (pre-truncating; pre-padding, or post-padding with --packed)", "100")
            .Flag("packed", "variable-length batches: post-padded reviews with their lengths, each row runs only its real steps")
            .Option("bucket", "N", "with --packed: batches of similar length, from pools of N batches sorted by length (0 = off)", "0")
            .Flag("bidirectional", "a bidirectional LSTM (forward and backward final states concatenated)")
            .Option("clip", "X", "clip the gradients' global norm to X (0 = off)", "0")
            .Option("batch", "N", "batch size", "32")
            .Option("embed", "N", "embedding dimension", "128")
            .Option("hidden", "N", "LSTM units", "128")
            .Option("head-dropout", "P", "dropout before the Dense head", "0.5")
            .Option("dropout", "P", "LSTM input dropout (Keras dropout)", "0")
            .Option("recurrent-dropout", "P", "LSTM recurrent dropout (Keras recurrent_dropout)", "0")
            .Option("epsilon", "X", "Adam epsilon (Keras 1e-7, PyTorch 1e-8)", "1e-7")
            .Option("train-limit", "N", "use only the first N training reviews (after shuffling); 0 = all", "0")
            .Flag("no-baseline", "skip the bag-of-words baseline on generated data");
        if (!cli.Parse(args)) return 0;

        var o = TrainOptions.Read(cli);
        int epochs = o.Epochs, threads = o.Threads;
        double lr = o.LearningRate!.Value;
        ulong seed = o.Seed;
        int maxFeatures = cli.Int("max-features", 4, 10_000_000);
        int maxlen = cli.Int("maxlen", 1, MaxMaxLen);
        int batch = cli.Int("batch", 1, 100_000);
        int embed = cli.Int("embed", 1, 100_000);
        int hidden = cli.Int("hidden", 1, 100_000);
        double headDrop = cli.Double("head-dropout", 0, 0.99);
        double inDrop = cli.Double("dropout", 0, 0.99);
        double recDrop = cli.Double("recurrent-dropout", 0, 0.99);
        double eps = cli.Double("epsilon", 0, 1);
        int trainLimit = cli.Int("train-limit", 0, int.MaxValue);
        bool packed = cli.Has("packed"), bidi = cli.Has("bidirectional");
        int bucket = cli.Int("bucket", 0, 100_000);
        double clip = cli.Double("clip", 0, 1e6);
        if (bucket > 0 && !packed) throw new UsageException($"imdb: --bucket needs --packed (it groups reviews by their lengths), got --bucket {bucket} alone.");
        string? dataDir = cli.InputPath("data", folder: true), wordIndex = cli.InputPath("word-index");
        Engine.Threads = threads;
        using var cancel = new CancelFlag(); // before loading, so Ctrl+C while loading still ends with the report

        var rng = new Rng(seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (dataDir == null && maxFeatures != ImdbData.NumWords)
            throw new UsageException($"imdb: --max-features must be {ImdbData.NumWords} with the generated data (its vocabulary size), got {maxFeatures}.");
        ImdbSet data = dataDir != null
            ? ImdbSet.Real(dataDir, wordIndex, maxFeatures, maxlen, packed, threads)
            : ImdbSet.Generated(seed, maxlen, packed);
        if (trainLimit > 0 && trainLimit < data.TrainCount) data = data.TakeTrain(trainLimit, rng);
        double? baseline = cli.Has("no-baseline") ? null : data.Baseline(); // on the same (limited) training reviews
        Console.WriteLine($"imdb: {data.Description}; {data.TrainCount} train, {data.TestCount} test, maxlen {maxlen}, vocab {maxFeatures} ({clock.Elapsed.TotalSeconds:F1}s to load)");
        if (baseline is double bow)
            Console.WriteLine($"bag-of-words baseline test accuracy: {bow:F4} (logistic regression on word counts, {data.TrainCount} training reviews)");

        var spec = new ModelSpec
        {
            Vocab = maxFeatures, EmbeddingDim = embed, Cell = CellKind.Lstm, Hidden = hidden, Layers = 1, Bidirectional = bidi,
            HeadDropout = headDrop, InputDropout = inDrop, RecurrentDropout = recDrop, Init = InitScheme.Keras,
            OutputSize = 1, OutputActivation = Activation.Linear, // sigmoid folded into the loss (BCE from logits)
        };
        using var model = new SequenceModel<float>(spec, rng);
        var trainer = new Trainer<float, float>(model, new BinaryCrossEntropyLoss<float>(), new Adam<float>(model.Parameters, lr, epsilon: eps) { MaxGradNorm = clip });

        var report = new Report("imdb")
            .Config("data", dataDir ?? "generated").Config("epochs", epochs).Config("lr", lr).Config("seed", seed)
            .Config("threads", threads).Config("max_features", maxFeatures).Config("maxlen", maxlen).Config("batch", batch)
            .Config("embed", embed).Config("hidden", hidden).Config("head_dropout", headDrop).Config("dropout", inDrop)
            .Config("recurrent_dropout", recDrop).Config("adam_epsilon", eps).Config("packed", packed).Config("bucket", bucket)
            .Config("bidirectional", bidi).Config("clip", clip).Config("train", data.TrainCount).Config("test", data.TestCount);
        if (baseline is double b0) report.Summary("bow_baseline_test_accuracy", b0);

        var progress = new FitProgress(new Progress(o.Quiet), report, o.Report);
        var history = trainer.Fit(data.Train, new FitOptions { Epochs = epochs, BatchSize = batch, ShuffleRng = new Rng(seed ^ 0x5EED), BucketPool = bucket, Callbacks = [progress] },
            data.Test, cancel.Token);
        progress.Interrupted(history);
        double best = progress.Best; int bestEpoch = progress.BestEpoch, completed = history.Epochs.Count(e => e.Complete || e.Batches == e.BatchesPerEpoch);
        report.Summary("best_test_acc", best); report.Summary("best_epoch", bestEpoch); report.Summary("epochs_completed", completed);
        report.Summary("total_seconds", clock.Elapsed.TotalSeconds);
        RunEnd.Write(o, report, cancel.Requested, path => SaveModel(model, path, data),
            $"imdb (Keras imdb_lstm.py): LSTM({hidden}) on {(dataDir == null ? "generated" : "real")} data, {data.TrainCount} train, batch {batch}, maxlen {maxlen}{(packed ? " packed" : "")}{(bidi ? ", bidirectional" : "")}, Adam lr {lr.ToString(CultureInfo.InvariantCulture)}, seed {seed}", "BCE",
            ["train_loss", "test_loss", "train_acc", "test_acc"], chart: "test_acc", elapsed: clock.Elapsed);
        return 0;
    }

    /// <summary>Checkpoint with the vocabulary and maxlen in its metadata, so `classify` can read text.</summary>
    public static void SaveModel(SequenceModel<float> model, string path, ImdbSet data)
    {
        var meta = new Dictionary<string, string>
        {
            ["imdb.maxlen"] = data.MaxLen.ToString(CultureInfo.InvariantCulture),
            ["imdb.source"] = data.Description,
        };
        if (data.Vocabulary is { } vocab) meta["imdb.vocab"] = string.Join('\n', vocab.Take(model.Spec.Vocab - KerasTokenizerConfig.ImdbIndexFrom));
        Checkpoint.Save(model, path, meta);
    }
}
