namespace Rnn.Samples.Common;

/// <summary>The options every training sample shares (declared by <see cref="Cli.Common"/>), parsed and checked.</summary>
public sealed record TrainOptions
{
    /// <summary>--epochs.</summary>
    public int Epochs { get; init; }
    /// <summary>--lr, or null when not given and the sample has no single default.</summary>
    public double? LearningRate { get; init; }
    /// <summary>--seed.</summary>
    public ulong Seed { get; init; }
    /// <summary>--threads.</summary>
    public int Threads { get; init; }
    /// <summary>--report FILE, or null.</summary>
    public string? Report { get; init; }
    /// <summary>--plot FILE.svg, or null.</summary>
    public string? Plot { get; init; }
    /// <summary>--save FILE, or null.</summary>
    public string? Save { get; init; }
    /// <summary>--quiet.</summary>
    public bool Quiet { get; init; }
    /// <summary>--plot-log: a logarithmic loss axis even when the losses span less than a decade.</summary>
    public bool PlotLog { get; init; }

    /// <summary>Reads and checks the shared options; a bad value throws <see cref="UsageException"/>.</summary>
    public static TrainOptions Read(Cli cli, double maxLr = 10) => new()
    {
        Epochs = cli.Int("epochs", 1, 1_000_000),
        LearningRate = cli.Get("lr") is null ? null : cli.Double("lr", 1e-12, maxLr),
        Seed = cli.ULong("seed"),
        Threads = cli.Int("threads", 1, Environment.ProcessorCount * 4), // Engine.Threads's range
        Report = cli.OutputPath("report"),
        Plot = cli.OutputPath("plot"),
        Save = cli.OutputPath("save"),
        Quiet = cli.Has("quiet"),
        PlotLog = cli.Has("plot-log"),
    };
}

/// <summary>
/// The end of every training run, finished or interrupted by Ctrl+C: the checkpoint (--save), the report
/// (--report, with "interrupted" in its summary), the SVG chart (--plot) and a terminal chart, in that order,
/// so what ran is never lost. Every file is written atomically.
/// </summary>
public static class RunEnd
{
    /// <summary>
    /// Writes the end-of-run files. <paramref name="save"/> writes a checkpoint to the path it is given;
    /// <paramref name="plotSeries"/> are report metric names; <paramref name="chart"/> names the one shown in the terminal.
    /// </summary>
    public static void Write(TrainOptions o, Report report, bool interrupted, Action<string>? save,
        string plotTitle, string yLabel, string[] plotSeries, string? chart = null, TimeSpan? elapsed = null)
    {
        if (interrupted)
            Console.WriteLine("interrupted: stopped after the current batch; writing what ran.");
        report.Summary("interrupted", interrupted);
        if (o.Save != null && save != null)
        {
            save(o.Save);
            report.Summary("checkpoint", o.Save);
            Console.WriteLine($"saved {o.Save}");
        }
        if (o.Report != null) report.Save(o.Report);
        var series = Rnn.Samples.Common.Plot.SeriesOf(report, plotSeries);
        var x = Rnn.Samples.Common.Plot.XOf(report);
        if (o.Plot != null)
            Rnn.Samples.Common.Plot.Svg(o.Plot, plotTitle + (interrupted ? " (interrupted)" : ""), series, yLabel,
                o.PlotLog ? true : null, x?.Label ?? "epoch", x?.Values);
        if (chart != null && report.Epochs.Count > 1 && series.FirstOrDefault(s => s.Name == chart).Values is { } values)
            Console.WriteLine(Rnn.Samples.Common.Plot.Terminal(chart.Replace('_', ' '), values));
        // The last line: how long it took and where every output went.
        var outputs = new List<string>();
        if (o.Report != null) outputs.Add($"report {o.Report}");
        if (o.Plot != null) outputs.Add($"plot {o.Plot}");
        if (o.Save != null && save != null) outputs.Add($"checkpoint {o.Save}");
        string time = elapsed is { } e ? $" in {e.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)} s" : "";
        Console.WriteLine($"{(interrupted ? "stopped" : "done")}{time}; " +
                          (outputs.Count == 0 ? "no output files (--report, --plot, --save)" : string.Join(", ", outputs) + " written"));
    }
}
