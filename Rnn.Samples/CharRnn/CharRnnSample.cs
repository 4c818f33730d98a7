using System.Diagnostics;
using System.Globalization;
using Rnn.Init;
using Rnn.Samples.Common;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// The `charrnn` sample: a next-character language model that samples text (Karpathy's mode 5, synced
/// sequence in and out, and sampling as mode 2). Two modes: "faithful", min-char-rnn.py exactly, and
/// "lstm", char-rnn's defaults (2×LSTM(128), RMSprop 2e-3, seq 50, batch 50).
/// </summary>
public static class CharRnnSample
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("charrnn",
            "Character-level language model on the engine's own C# source (embedded; --data for any text file).\n" +
            "  --mode faithful: Karpathy's min-char-rnn.py: one-hot SimpleRnn(100, tanh), seq 25, Adagrad lr 0.1,\n" +
            "                   gradients clipped to [-5, 5], h carried from chunk to chunk; prints iteration, smooth loss\n" +
            "                   and a 200-character sample every --print-every iterations.\n" +
            "  --mode lstm:     char-rnn's defaults: 2 x LSTM(128), RMSprop lr 2e-3 (decay 0.95), seq 50, batch 50,\n" +
            "                   gradients clipped to [-5, 5], validation loss on the last 5% of the text per epoch.")
            .Common(epochs: 10, lr: null, saveHelp: "write the trained weights and the vocabulary as safetensors",
                    epochsHelp: "lstm: passes over the training text (faithful: see --iterations)", lrHelp: "learning rate (faithful 0.1, lstm 2e-3)")
            .Option("mode", "NAME", "faithful | lstm", "faithful")
            .Option("data", "FILE", "train on this UTF-8 text file instead of the embedded engine source")
            .Option("iterations", "N", "faithful: iterations (min-char-rnn runs forever; Ctrl+C stops)", "100000")
            .Option("print-every", "N", "faithful: print loss and a sample every N iterations", "100")
            .Option("hidden", "N", "hidden units (faithful 100, lstm 128)")
            .Option("layers", "N", "lstm: stacked LSTM layers", "2")
            .Option("seq", "N", "characters per chunk (faithful 25, lstm 50)")
            .Option("batch", "N", "lstm: parallel streams per batch", "50")
            .Option("dropout", "P", "lstm: dropout between LSTM layers (char-rnn default 0)", "0")
            .Option("lr-decay", "X", "lstm: multiply lr by X after each epoch past --lr-decay-after (char-rnn 0.97)", "0.97")
            .Option("lr-decay-after", "N", "lstm: first epoch after which lr decays (char-rnn 10)", "10")
            .Option("clip", "X", "clamp every gradient element to [-X, X]", "5")
            .Option("temperature", "T", "sampling temperature (1 = the model's distribution; 0 = greedy)", "1")
            .Option("sample-length", "N", "characters per printed sample", "200");
        if (!cli.Parse(args)) return 0;

        string mode = cli.Choice("mode", "faithful", "lstm");
        bool lstm = mode == "lstm";
        var t = TrainOptions.Read(cli, maxLr: 100);
        var o = new CharRnnOptions
        {
            Mode = mode,
            Data = cli.Get("data"),
            Epochs = t.Epochs,
            Iterations = cli.Int("iterations", 1, int.MaxValue),
            PrintEvery = cli.Int("print-every", 1, int.MaxValue),
            LearningRate = t.LearningRate ?? (lstm ? 2e-3 : 0.1),
            Hidden = cli.Has("hidden") ? cli.Int("hidden", 1, 100_000) : lstm ? 128 : 100,
            Layers = cli.Int("layers", 1, 64),
            Seq = cli.Has("seq") ? cli.Int("seq", 1, 100_000) : lstm ? 50 : 25,
            Batch = cli.Int("batch", 1, 100_000),
            Dropout = cli.Double("dropout", 0, 0.99),
            LrDecay = cli.Double("lr-decay", 1e-6, 1),
            LrDecayAfter = cli.Int("lr-decay-after", 0, 1_000_000),
            Clip = cli.Double("clip", 0, 1e30),
            Temperature = cli.Double("temperature", 0, 100),
            SampleLength = cli.Int("sample-length", 0, 1_000_000),
            Save = t.Save,
            Seed = t.Seed,
            Threads = t.Threads,
            Report = t.Report,
            Plot = t.Plot,
            Quiet = t.Quiet,
            PlotLog = t.PlotLog,
        };
        Engine.Threads = o.Threads;
        using var cancel = new CancelFlag();
        var data = CharData.Load(o.Data);
        return lstm ? CharLstmTrainer.Run(o, data, cancel) : RunFaithful(o, data, cancel);
    }

    /// <summary>min-char-rnn's main loop. Returns the exit code; prints as min-char-rnn does. <paramref name="cancel"/> stops it after the current chunk.</summary>
    public static int RunFaithful(CharRnnOptions o, CharData data, CancelFlag cancel)
    {
        int V = data.V, S = o.Seq, n = data.Ids.Length;
        if (n < S + 2) throw new UsageException($"charrnn: the text has {n} characters; --seq {S} needs at least {S + 2}.");
        Console.WriteLine($"charrnn (faithful min-char-rnn): data has {n} characters, {V} unique ({data.Source}); hidden {o.Hidden}, seq {S}, " +
                          $"Adagrad lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, clip {o.Clip.ToString(CultureInfo.InvariantCulture)}, seed {o.Seed}");
        var rng = new Rng(o.Seed);
        var sampleRng = new Rng(o.Seed ^ 0x5A5A5A5AUL);
        using var model = new MinCharRnn<float>(V, o.Hidden, rng, o.LearningRate, o.Clip);
        var report = NewReport(o, data);
        double initial = -Math.Log(1.0 / V) * S, smooth = initial;
        report.Summary("initial_smooth_loss", initial);
        var clock = Stopwatch.StartNew();
        int p = 0, it = 0;
        for (; it < o.Iterations && !cancel.Requested; it++)
        {
            // Start over (and forget h) at the beginning and whenever the next chunk would run off the end.
            if (p + S + 1 >= n || it == 0) { model.ResetState(); p = 0; }
            var inputs = data.Ids.AsSpan(p, S);
            var targets = data.Ids.AsSpan(p + 1, S);
            if (it % o.PrintEvery == 0 && o.SampleLength > 0)
            {
                var ids = model.Sample(inputs[0], o.SampleLength, sampleRng, o.Temperature);
                Console.WriteLine("----\n " + CharData.Printable(new string(ids.Select(i => data.Vocab[i]).ToArray())) + " \n----");
            }
            double loss = model.TrainChunk(inputs, targets);
            smooth = smooth * 0.999 + loss * 0.001;
            if (it % o.PrintEvery == 0)
            {
                double sec = clock.Elapsed.TotalSeconds;
                Console.WriteLine($"iter {it}, loss: {smooth.ToString("F6", CultureInfo.InvariantCulture)}  ({smooth / initial:P1} of the initial {initial:F2}; {sec:F1}s)");
                report.Epoch(("iteration", it), ("smooth_loss", smooth), ("chunk_loss", loss), ("seconds", sec));
                if (o.Report != null && it % (o.PrintEvery * 100) == 0) report.Save(o.Report);
            }
            p += S;
        }
        // The last iteration as a report point too, so the chart's "last" is the smooth loss printed below.
        if (it > 0 && (it - 1) % o.PrintEvery != 0)
            report.Epoch(("iteration", it - 1), ("smooth_loss", smooth), ("seconds", clock.Elapsed.TotalSeconds));
        Console.WriteLine($"{it} iterations: smooth loss {smooth.ToString("F4", CultureInfo.InvariantCulture)} = {smooth / initial:P1} of the initial {initial:F2}");
        report.Summary("iterations", it);
        report.Summary("final_smooth_loss", smooth);
        report.Summary("total_seconds", clock.Elapsed.TotalSeconds);
        Finish(o, report, cancel.Requested, path => Save(path, model.Parameters.Select(p => (p.Name, p)), data, o), ["smooth_loss"],
            $"charrnn faithful (min-char-rnn): SimpleRnn({o.Hidden}), seq {S}, Adagrad lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, {n} chars, V = {V}, seed {o.Seed}", clock.Elapsed);
        return 0;
    }

    /// <summary>
    /// Checkpoint of either mode: the parameters (PyTorch names) as F32 safetensors plus an I32 "vocab" tensor of
    /// the characters' code units, and the mode and sizes in the metadata. Written atomically.
    /// </summary>
    public static void Save(string path, IEnumerable<(string Name, Parameter<float> Parameter)> parameters, CharData data, CharRnnOptions o)
    {
        var tensors = parameters.Select(p => Rnn.IO.NamedTensor.F32(p.Name, p.Parameter.Shape, p.Parameter.Value)).ToList();
        tensors.Add(Rnn.IO.NamedTensor.I32("vocab", [data.V], data.Vocab.Select(c => (int)c).ToArray()));
        Rnn.IO.SafeTensors.Save(path, tensors, new Dictionary<string, string>
        {
            ["charrnn.mode"] = o.Mode, ["charrnn.hidden"] = o.Hidden.ToString(CultureInfo.InvariantCulture),
            ["charrnn.layers"] = (o.Mode == "lstm" ? o.Layers : 1).ToString(CultureInfo.InvariantCulture),
            ["charrnn.vocab"] = data.V.ToString(CultureInfo.InvariantCulture),
        });
    }

    internal static Report NewReport(CharRnnOptions o, CharData data) => new Report("charrnn")
        .Config("mode", o.Mode).Config("data", data.Source).Config("characters", data.Ids.Length).Config("vocab", data.V)
        .Config("hidden", o.Hidden).Config("layers", o.Mode == "lstm" ? o.Layers : 1).Config("seq", o.Seq)
        .Config("batch", o.Mode == "lstm" ? o.Batch : 1).Config("lr", o.LearningRate).Config("clip", o.Clip)
        .Config("dropout", o.Dropout).Config("temperature", o.Temperature).Config("seed", o.Seed).Config("threads", o.Threads);

    internal static void Finish(CharRnnOptions o, Report report, bool interrupted, Action<string> save, string[] metrics, string title, TimeSpan elapsed)
        => RunEnd.Write(new TrainOptions { Report = o.Report, Plot = o.Plot, Save = o.Save, Quiet = o.Quiet, PlotLog = o.PlotLog }, report, interrupted, save,
            title, "loss", metrics, chart: metrics[^1], elapsed: elapsed);
}

/// <summary>The parsed command line of the charrnn sample.</summary>
public sealed record CharRnnOptions
{
    /// <summary>"faithful" or "lstm".</summary>
    public string Mode { get; init; } = "faithful";
    /// <summary>A text file, or null for the embedded corpus.</summary>
    public string? Data { get; init; }
    /// <summary>lstm: epochs.</summary>
    public int Epochs { get; init; } = 10;
    /// <summary>faithful: iterations.</summary>
    public int Iterations { get; init; } = 100_000;
    /// <summary>faithful: report interval.</summary>
    public int PrintEvery { get; init; } = 100;
    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Hidden units per layer.</summary>
    public int Hidden { get; init; } = 100;
    /// <summary>lstm: layers.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Chunk length.</summary>
    public int Seq { get; init; } = 25;
    /// <summary>lstm: streams per batch.</summary>
    public int Batch { get; init; } = 50;
    /// <summary>lstm: dropout between layers.</summary>
    public double Dropout { get; init; }
    /// <summary>lstm: lr decay factor per epoch.</summary>
    public double LrDecay { get; init; } = 0.97;
    /// <summary>lstm: epochs before the decay starts.</summary>
    public int LrDecayAfter { get; init; } = 10;
    /// <summary>Elementwise gradient clip.</summary>
    public double Clip { get; init; } = 5;
    /// <summary>Sampling temperature.</summary>
    public double Temperature { get; init; } = 1;
    /// <summary>Sample length.</summary>
    public int SampleLength { get; init; } = 200;
    /// <summary>lstm: safetensors output.</summary>
    public string? Save { get; init; }
    /// <summary>Seed.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Kernel threads.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>JSON report path.</summary>
    public string? Report { get; init; }
    /// <summary>SVG plot path.</summary>
    public string? Plot { get; init; }
    /// <summary>No progress line.</summary>
    public bool Quiet { get; init; }
    /// <summary>Log-scale loss axis in the plot.</summary>
    public bool PlotLog { get; init; }
}
