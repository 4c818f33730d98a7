namespace Rnn;

/// <summary>Process-wide engine settings.</summary>
public static class Engine
{
    private static int _threads = 1;

    /// <summary>
    /// Worker threads used by the kernels (1 = run on the caller's thread).
    /// Results are bit-identical for any value: work is split by output blocks, never by reduction.
    /// </summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1 || value > Environment.ProcessorCount * 4)
                throw new ArgumentOutOfRangeException(nameof(value), value,
                    $"Threads: expected 1..{Environment.ProcessorCount * 4}, got {value}.");
            Kernels.WorkerPool.Resize(value);
            _threads = value;
        }
    }
}
