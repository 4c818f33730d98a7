using System.Diagnostics;
using System.Globalization;

namespace Rnn.Samples.Common;

/// <summary>
/// The live progress line: epoch, batch, samples/s, ETA of the epoch and running loss, redrawn in place with '\r'
/// on a terminal, and printed as plain occasional lines when output is redirected (no control characters in logs).
/// </summary>
public sealed class Progress
{
    private readonly bool _quiet, _tty;
    private readonly TextWriter? _out;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1;
    private int _lastLen;

    /// <summary>Writes to the console; redraws in place only when stdout is a terminal.</summary>
    public Progress(bool quiet) : this(quiet, null, !Console.IsOutputRedirected) { }

    /// <summary>Writes to <paramref name="output"/> (null = the console at the time of writing); <paramref name="terminal"/> chooses in-place redraws.</summary>
    public Progress(bool quiet, TextWriter? output, bool terminal)
    {
        _quiet = quiet;
        _out = output;
        _tty = terminal;
    }

    private TextWriter Out => _out ?? Console.Out;

    /// <summary>Restarts the epoch clock.</summary>
    public void StartEpoch() => _clock.Restart();

    /// <summary>Seconds since <see cref="StartEpoch"/>.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;

    /// <summary>
    /// The text of the line (no control characters): "epoch e/E  batch b/B  N samples/s  ETA Xs  loss L",
    /// the ETA being the rest of the epoch at the rate so far. Invariant culture.
    /// </summary>
    public static string Format(int epoch, int epochs, int batch, int batches, long samplesDone, double seconds, double runningLoss)
    {
        double s = Math.Max(seconds, 1e-9);
        double eta = batch > 0 ? s / batch * (batches - batch) : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"epoch {epoch}/{epochs}  batch {batch}/{batches}  {samplesDone / s:F0} samples/s  ETA {eta:F1}s  loss {runningLoss:F5}");
    }

    /// <summary>Updates the line after a batch.</summary>
    public void Update(int epoch, int epochs, int batch, int batches, long samplesDone, double runningLoss)
    {
        if (_quiet) return;
        long ms = _clock.ElapsedMilliseconds;
        bool last = batch == batches;
        // terminal: redraw at most 10 times a second; redirected: a line every 10 s (the epoch's own line follows the last batch).
        if (!last && _lastDraw >= 0 && ms - _lastDraw < (_tty ? 100 : 10_000)) return;
        _lastDraw = ms;
        string text = Format(epoch, epochs, batch, batches, samplesDone, _clock.Elapsed.TotalSeconds, runningLoss);
        if (_tty)
        {
            Out.Write("\r" + text.PadRight(_lastLen));
            _lastLen = text.Length;
            if (last) Clear();
        }
        else if (!last) Out.WriteLine(text);
        if (last) _lastDraw = -1;
    }

    /// <summary>Erases an in-place line (before other output, e.g. when training is interrupted mid-epoch).</summary>
    public void Clear()
    {
        if (_tty && _lastLen > 0) Out.Write("\r" + new string(' ', _lastLen) + "\r");
        _lastLen = 0;
        _lastDraw = -1;
    }
}
