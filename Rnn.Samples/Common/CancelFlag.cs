namespace Rnn.Samples.Common;

/// <summary>Ctrl+C (SIGINT) sets a flag instead of killing the process, so training stops after the current batch and saves what it has.</summary>
public sealed class CancelFlag : IDisposable
{
    private volatile bool _requested;
    /// <summary>Set after the first Ctrl+C.</summary>
    public bool Requested => _requested;

    /// <summary>Installs the handler.</summary>
    public CancelFlag() => Console.CancelKeyPress += OnCancel;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (_requested) return; // second Ctrl+C: let the runtime end the process
        e.Cancel = true;
        _requested = true;
    }

    /// <summary>Removes the handler.</summary>
    public void Dispose() => Console.CancelKeyPress -= OnCancel;
}
