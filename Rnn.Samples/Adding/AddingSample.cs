using System.Globalization;
using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;
using Rnn.Samples.Common;

namespace Rnn.Samples.Adding;

/// <summary>The `adding` sample: Lasagne's examples/recurrent.py, faithful by default.</summary>
public static class AddingSample
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("adding",
            "Lasagne's recurrent.py adding task: two SimpleRnn(100, tanh) layers (forward and backwards,\n" +
            "grad clipping 100, final step only) -> concat -> Dense(1, tanh), MSE, on sequences of 50..54 steps.")
            .Common(epochs: 10, lr: 0.001, saveHelp: "write the trained parameters as safetensors (PyTorch names)")
            .Option("optimizer", "NAME", "adagrad | adam | rmsprop | sgd", "adagrad")
            .Option("batches", "N", "batches per epoch (Lasagne's EPOCH_SIZE)", "100")
            .Option("batch", "N", "sequences per batch (N_BATCH)", "100")
            .Option("hidden", "N", "hidden units per direction (N_HIDDEN)", "100")
            .Option("grad-clip", "X", "Lasagne grad_clipping on each step's pre-activation gradient; 0 = off", "100")
            .Option("clip-norm", "X", "global gradient-norm clipping before each update; 0 = off", "0")
            .Option("lr-decay", "X", "multiply the learning rate by X after each epoch (1 = constant)", "1")
            .Option("min-length", "N", "shortest sequence (MIN_LENGTH)", "50")
            .Option("max-length", "N", "sequence buffer length; lengths are drawn below it (MAX_LENGTH)", "55");
        if (!cli.Parse(args)) return 0;

        var o = TrainOptions.Read(cli);
        int epochs = o.Epochs, threads = o.Threads;
        double lr = o.LearningRate!.Value;
        ulong seed = o.Seed;
        string optName = cli.Choice("optimizer", "adagrad", "adam", "rmsprop", "sgd");
        int batches = cli.Int("batches", 1, 1_000_000);
        int batch = cli.Int("batch", 1, 100_000);
        int hidden = cli.Int("hidden", 1, 100_000);
        double gradClip = cli.Double("grad-clip", 0, 1e30);
        double clipNorm = cli.Double("clip-norm", 0, 1e30);
        double lrDecay = cli.Double("lr-decay", 1e-6, 1);
        int minLen = cli.Int("min-length", 2, 1_000_000);
        int maxLen = cli.Int("max-length", minLen + 1, 1_000_000);
        Engine.Threads = threads;
        using var cancel = new CancelFlag();

        // Lasagne's recurrent.py: l_forward and l_backward (RecurrentLayer(N_HIDDEN, grad_clipping, tanh,
        // only_return_final, one backwards)) -> ConcatLayer -> DenseLayer(1, tanh); MSE. A bidirectional layer is that pair.
        var rng = new Rng(seed);
        using var model = new Model<float>(2, rng, dropoutRng: new Rng(0), [ // no dropout: rng draws the weights only, as Lasagne's script does
            new RecurrentSpec("rnn", CellKind.RnnTanh, hidden) { Bidirectional = true, GradClipping = gradClip },
            new DenseSpec("fc", 1, Activation.Tanh)]);
        Optimizer<float> opt = optName switch
        {
            "adam" => new Adam<float>(model.Parameters, lr),
            "rmsprop" => new RmsProp<float>(model.Parameters, lr),
            "sgd" => new Sgd<float>(model.Parameters, lr),
            _ => new Adagrad<float>(model.Parameters, lr),
        };
        opt.MaxGradNorm = clipNorm;
        var trainer = new Trainer<float, float>(model, new MseLoss<float>(), opt);

        var report = new Report("adding")
            .Config("epochs", epochs).Config("lr", lr).Config("seed", seed).Config("threads", threads)
            .Config("optimizer", optName).Config("batches_per_epoch", batches).Config("batch", batch)
            .Config("hidden", hidden).Config("grad_clip", gradClip).Config("clip_norm", clipNorm).Config("lr_decay", lrDecay)
            .Config("min_length", minLen).Config("max_length", maxLen);

        var xv = new float[batch * maxLen * 2]; var yv = new float[batch]; var mv = new float[batch * maxLen];
        AddingData.Generate<float>(xv, yv, mv, rng, batch, minLen, maxLen); // the fixed validation batch, drawn first

        Console.WriteLine($"adding: {optName} lr {lr.ToString(CultureInfo.InvariantCulture)}, {epochs} epochs x {batches} batches of {batch}, hidden {hidden}, seed {seed}, threads {threads}");
        var total = System.Diagnostics.Stopwatch.StartNew();
        int completed = 0;
        double running = 0; // Lasagne's script prints no training loss; this is its exponential average over batches
        void EpochEnd(IFitControl fit, EpochEnd e)
        {
            model.Training = false;
            var pred = model.Forward(xv, mv, batch, maxLen); // (batch, 1)
            float cost = Mse.Forward(pred, yv);
            double acc = WithinTolerance(pred, yv, 0.04);
            // Lasagne's line, then what each number is.
            Console.WriteLine($"Epoch {e.Epoch} validation cost = {cost.ToString("G6", CultureInfo.InvariantCulture)} (validation MSE); " +
                              $"|error| < 0.04 (Hochreiter & Schmidhuber's criterion): {acc:P0} of {batch}; {e.Seconds:F2} s");
            report.Epoch(("epoch", e.Epoch), ("validation_cost", cost), ("within_0.04", acc), ("train_loss_ema", running), ("lr", e.LearningRate), ("batches", batches), ("seconds", e.Seconds));
            completed = e.Epoch;
            fit.LearningRate *= lrDecay;
        }
        var ema = new ProgressCallback(b => running = b.Batch == 1 ? b.BatchLoss : 0.98 * running + 0.02 * b.BatchLoss, null);
        var progress = new FitProgress(new Progress(o.Quiet), report, o.Report, EpochEnd);
        // Every batch is freshly generated with its per-sample mask (a masked batch source), in order.
        var history = trainer.Fit(new AddingData.Source(rng, batches * batch, minLen, maxLen),
            new FitOptions { Epochs = epochs, BatchSize = batch, Shuffle = false, Callbacks = [ema, progress] }, cancel: cancel.Token);
        progress.Interrupted(history);
        report.Summary("epochs_completed", completed);
        report.Summary("total_seconds", total.Elapsed.TotalSeconds);
        RunEnd.Write(o, report, cancel.Requested, path => Save(model, path, hidden),
            $"adding (Lasagne recurrent.py): 2 x SimpleRnn({hidden}), {optName} lr {lr.ToString(CultureInfo.InvariantCulture)}{(lrDecay != 1 ? $" x{lrDecay.ToString(CultureInfo.InvariantCulture)}/epoch" : "")}, {batches} x {batch} per epoch, seed {seed}", "MSE",
            ["validation_cost", "train_loss_ema", "within_0.04"], chart: "validation_cost", elapsed: total.Elapsed);
        return 0;
    }

    /// <summary>The share of predictions within <paramref name="tolerance"/> of their target.</summary>
    public static double WithinTolerance(ReadOnlySpan<float> pred, ReadOnlySpan<float> target, double tolerance)
    {
        int ok = 0;
        for (int n = 0; n < pred.Length; n++) if (Math.Abs(pred[n] - target[n]) < tolerance) ok++;
        return (double)ok / pred.Length;
    }

    /// <summary>
    /// Checkpoint of the adding network: architecture and parameters ("rnn.weight_ih_l0", "..._l0_reverse", "fc.weight"),
    /// written atomically, with the hidden size in the metadata. Load with Checkpoint.LoadModel.
    /// </summary>
    public static void Save(Model<float> model, string path, int hidden)
        => Checkpoint.Save(model, path, new Dictionary<string, string>
        {
            ["adding.hidden"] = hidden.ToString(CultureInfo.InvariantCulture),
        });
}
