using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Rnn.Kernels;

/// <summary>The parts of a training step that <see cref="PhaseProfile"/> attributes time to.</summary>
internal enum StepPhase
{
    /// <summary>Whatever no other phase claims: the head, the loss, the model's glue.</summary>
    Other,
    ZeroGrad,
    EmbeddingGather,
    /// <summary>A recurrent layer's input checks and its scan-order copy of x.</summary>
    ScanInput,
    /// <summary>Per-pass preparation: the bias, W_hh packed.</summary>
    ScanPrepare,
    InputGemm,
    ForwardLoop,
    ScanOutput,
    BackwardPrepare,
    BackwardLoop,
    WeightGradients,
    /// <summary>dx = dG·W_ih and its copy back to batch order.</summary>
    InputGradient,
    EmbeddingScatter,
    Optimizer,
    Count,
}

/// <summary>
/// Per-phase timing for `Rnn.Bench profile`: the wall time of each phase on the thread that drives the step, and per
/// pool participant the time spent in dispatched chunks, the driver's wait for the others, the dispatches and the
/// wake-up lag of the workers. Off unless that command sets <see cref="Enabled"/>: a mark is then one branch.
/// Phases are entered only on the driving thread, never inside a chunk.
/// </summary>
internal static unsafe class PhaseProfile
{
    /// <summary>Set by the profiling command only.</summary>
    public static bool Enabled;

    /// <summary>Participants recorded (the pool's first ones).</summary>
    public const int MaxThreads = 8;

    /// <summary>The calling thread's CPU time in ns (the profiling command sets it; null: CPU times are not recorded).</summary>
    public static delegate* managed<long> ThreadCpu;

    private const int N = (int)StepPhase.Count;
    private static StepPhase s_phase;
    private static long s_start, s_cpuStart;

    /// <summary>Ticks of wall time per phase.</summary>
    public static readonly long[] Wall = new long[N];
    /// <summary>Ticks participant p spent running chunks in phase f, at [f·MaxThreads + p].</summary>
    public static readonly long[] Busy = new long[N * MaxThreads];
    /// <summary>Ticks the driver waited for the workers after its own chunk.</summary>
    public static readonly long[] Wait = new long[N];
    /// <summary>Dispatches that ran on workers.</summary>
    public static readonly long[] Dispatches = new long[N];
    /// <summary>Ticks from a dispatch to a worker starting its chunk, summed over workers and dispatches.</summary>
    public static readonly long[] Lag = new long[N];
    /// <summary>
    /// CPU ns per phase at [f·MaxThreads + p]: the driver's (p = 0) whole time in the phase, spinning included; a
    /// worker's in its chunks. Under load, wall time counts the time a thread waits for a CPU, CPU time does not.
    /// </summary>
    public static readonly long[] Cpu = new long[N * MaxThreads];

    /// <summary>The phase time is attributed to now.</summary>
    public static StepPhase Current => s_phase;

    /// <summary>Starts attributing time to <paramref name="phase"/>; returns the phase to restore with <see cref="Leave"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StepPhase Enter(StepPhase phase) => Enabled ? Switch(phase) : phase;

    /// <summary>Returns to the phase <see cref="Enter"/> returned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Leave(StepPhase previous)
    {
        if (Enabled) Switch(previous);
    }

    private static StepPhase Switch(StepPhase phase)
    {
        long now = Stopwatch.GetTimestamp();
        var prev = s_phase;
        Wall[(int)prev] += now - s_start;
        s_start = now;
        if (ThreadCpu != null)
        {
            long cpu = ThreadCpu();
            Cpu[(int)prev * MaxThreads] += cpu - s_cpuStart;
            s_cpuStart = cpu;
        }
        s_phase = phase;
        return prev;
    }

    /// <summary>The driver's side of one dispatch: issued at t0, its own chunk done at t1, every worker done at t2.</summary>
    public static void Driver(StepPhase phase, long t0, long t1, long t2)
    {
        int f = (int)phase;
        Busy[f * MaxThreads] += t1 - t0;
        Wait[f] += t2 - t1;
        Dispatches[f]++;
    }

    /// <summary>A worker's chunk of a dispatch issued at t0: started at t1 (CPU ns cpu1), done at t2 (cpu2).</summary>
    public static void Worker(StepPhase phase, int participant, long t0, long t1, long t2, long cpu1, long cpu2)
    {
        if (participant >= MaxThreads) return;
        int f = (int)phase;
        Busy[f * MaxThreads + participant] += t2 - t1;
        Cpu[f * MaxThreads + participant] += cpu2 - cpu1;
        Interlocked.Add(ref Lag[f], t1 - t0);
    }

    /// <summary>The calling thread's CPU ns, or 0 when no clock was given.</summary>
    public static long CpuNow() => ThreadCpu != null ? ThreadCpu() : 0;

    /// <summary>Clears every counter and starts the clock in <see cref="StepPhase.Other"/>.</summary>
    public static void Reset()
    {
        Array.Clear(Wall); Array.Clear(Busy); Array.Clear(Wait); Array.Clear(Dispatches); Array.Clear(Lag); Array.Clear(Cpu);
        s_phase = StepPhase.Other;
        s_start = Stopwatch.GetTimestamp();
        s_cpuStart = CpuNow();
    }

    /// <summary>Closes the running phase's interval (call before reading the counters).</summary>
    public static void Flush() => Switch(s_phase);
}
