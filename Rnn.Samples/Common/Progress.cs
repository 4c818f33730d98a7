using System.Diagnostics;

namespace Rnn.Samples.Common;

/// <summary>
/// The live progress line: epoch, batch, samples/s, ETA and running loss, redrawn in place with '\r'
/// on a terminal, and printed as plain occasional lines when output is redirected (no control characters in logs).
/// </summary>
public sealed class Progress
{
    private readonly bool _quiet, _tty;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1;
    private int _lastLen;

    /// <summary>Creates the line writer.</summary>
    public Progress(bool quiet)
    {
        _quiet = quiet;
        _tty = !Console.IsOutputRedirected;
    }

    /// <summary>Restarts the epoch clock.</summary>
    public void StartEpoch() => _clock.Restart();

    /// <summary>Seconds since <see cref="StartEpoch"/>.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Updates the line after a batch.</summary>
    public void Update(int epoch, int epochs, int batch, int batches, int samplesDone, double runningLoss)
    {
        if (_quiet) return;
        long ms = _clock.ElapsedMilliseconds;
        bool last = batch == batches;
        // terminal: redraw at most 10 times a second; redirected: a line every 10 s and at the end.
        if (!last && _lastDraw >= 0 && ms - _lastDraw < (_tty ? 100 : 10_000)) return;
        _lastDraw = ms;
        double s = Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        double eta = s / batch * (batches - batch);
        string text = $"epoch {epoch}/{epochs}  batch {batch}/{batches}  {samplesDone / s:F0} samples/s  ETA {eta:F1}s  loss {runningLoss:F5}";
        if (_tty)
        {
            Console.Write("\r" + text.PadRight(_lastLen));
            _lastLen = text.Length;
            if (last) { Console.Write("\r" + new string(' ', _lastLen) + "\r"); _lastLen = 0; _lastDraw = -1; }
        }
        else if (!last) Console.WriteLine(text);
        if (last) _lastDraw = -1;
    }
}
