using System.Runtime.InteropServices;

namespace Rnn.Samples.Common;

/// <summary>
/// Ctrl+C (SIGINT) or SIGTERM sets a flag instead of ending the process, so training stops after the current
/// batch and writes what it has (report, plot, checkpoint). A second signal ends the process the usual way.
/// Install it right after parsing the command line, so a signal during data loading is honoured too.
/// </summary>
public sealed class CancelFlag : IDisposable
{
    private volatile bool _requested;
    private readonly PosixSignalRegistration _int, _term;
    private readonly CancellationTokenSource _cts = new();

    /// <summary>Set after the first signal.</summary>
    public bool Requested => _requested;
    /// <summary>Cancelled at the first signal (for Trainer.Fit).</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>Installs the handlers.</summary>
    public CancelFlag()
    {
        _int = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    private void OnSignal(PosixSignalContext context)
    {
        if (_requested) return; // second signal: the default action ends the process
        context.Cancel = true;
        _requested = true;
        _cts.Cancel();
    }

    /// <summary>Removes the handlers.</summary>
    public void Dispose() { _int.Dispose(); _term.Dispose(); _cts.Dispose(); }
}
