using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Rnn.Kernels;

/// <summary>
/// A small persistent pool of kernel threads, sized by <see cref="Engine.Threads"/> (the caller is one of
/// the participants, so Threads = N keeps N − 1 workers). A dispatch hands chunk i to participant i
/// (static assignment: chunk 0 runs on the caller), so no chunk depends on scheduling. Workers spin
/// briefly after a job (RNN time loops dispatch every few microseconds), then block on a monitor.
/// A dispatch allocates nothing: the job is a function pointer and a pointer to the caller's state.
/// </summary>
internal static unsafe class WorkerPool
{
    // How long an idle worker spins before blocking: covers the gap between the GEMMs of consecutive time steps.
    private static readonly long SpinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    // How long the dispatcher spins on a worker's chunk before yielding its core to it.
    private static readonly long YieldTicks = Stopwatch.Frequency / 50_000; // 20 µs

    private sealed class Worker
    {
        public int Index;            // participant index (1..Size-1)
        public int Ack;              // last generation this worker finished
        public int Sleeping;         // 1 while blocked in Monitor.Wait
        public readonly object Gate = new();
        public Thread Thread = null!;
    }

    private static Worker[] s_workers = [];
    private static int s_busy;       // 1 while a dispatch (or resize) owns the pool
    private static int s_gen;        // bumped once per dispatch
    private static bool s_stop;
    private static delegate* managed<void*, int, void> s_fn;
    private static void* s_state;
    private static int s_count;
    private static Exception? s_error;
    private static bool s_prof;          // this dispatch is profiled (PhaseProfile.Enabled when it was issued)
    private static StepPhase s_profPhase;
    private static long s_profStart;

    /// <summary>Dispatches that actually ran on workers (tests use it to prove the parallel path ran).</summary>
    internal static long Dispatches;

    /// <summary>Participants in a dispatch: the caller plus the workers.</summary>
    public static int Size => s_workers.Length + 1;

    /// <summary>Stops the current workers and starts <paramref name="threads"/> − 1 new ones.</summary>
    public static void Resize(int threads)
    {
        Acquire();
        try
        {
            if (threads - 1 == s_workers.Length) return;
            var old = s_workers;
            if (old.Length > 0)
            {
                Volatile.Write(ref s_stop, true);
                Interlocked.Increment(ref s_gen);
                foreach (var w in old) lock (w.Gate) Monitor.Pulse(w.Gate);
                foreach (var w in old) w.Thread.Join();
                s_stop = false;
            }
            var ws = new Worker[threads - 1];
            int gen = Volatile.Read(ref s_gen);
            for (int i = 0; i < ws.Length; i++)
            {
                var w = new Worker { Index = i + 1, Ack = gen };
                w.Thread = new Thread(Loop) { IsBackground = true, Name = $"Rnn kernel {i + 1}" };
                ws[i] = w;
                w.Thread.Start(w);
            }
            s_workers = ws;
        }
        finally { Volatile.Write(ref s_busy, 0); }
    }

    /// <summary>
    /// Runs fn(state, i) for i in [0, count), chunk i on participant i; returns when all are done.
    /// count may not exceed <see cref="Size"/>. If the pool is busy (another thread is dispatching, or a
    /// chunk dispatches again), the chunks run on the caller, one after another: the results are the same.
    /// </summary>
    public static void Run(delegate* managed<void*, int, void> fn, void* state, int count)
    {
        if (count <= 1 || count > Size || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) fn(state, i);
            return;
        }
        RunOwned(fn, state, count);
    }

    private struct TogetherJob
    {
        public delegate* managed<void*, int, void> Body;
        public void* State;
    }

    /// <summary>
    /// Runs fn(state, i) for i in [0, count) with every chunk on its own participant AT THE SAME TIME (chunks that
    /// wait for each other at barriers), kernels inside on their own thread (<see cref="InRows"/>); false, running
    /// nothing, when the pool cannot give count participants at once (busy, too small, or inside a row loop).
    /// </summary>
    public static bool RunTogether(delegate* managed<void*, int, void> fn, void* state, int count)
    {
        if (count < 2 || count > Size || t_inRows || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0) return false;
        var job = new TogetherJob { Body = fn, State = state };
        RunOwned(&TogetherChunk, &job, count);
        return true;
    }

    private static void TogetherChunk(void* state, int chunk)
    {
        ref TogetherJob j = ref *(TogetherJob*)state;
        bool outer = t_inRows;
        t_inRows = true;
        try { j.Body(j.State, chunk); }
        finally { t_inRows = outer; }
    }

    // The dispatch proper, once s_busy is ours.
    private static void RunOwned(delegate* managed<void*, int, void> fn, void* state, int count)
    {
        try
        {
            var ws = s_workers;
            Dispatches++;
            s_fn = fn; s_state = state; s_count = count; s_error = null;
            bool prof = s_prof = PhaseProfile.Enabled;
            if (prof) { s_profPhase = PhaseProfile.Current; s_profStart = Stopwatch.GetTimestamp(); }
            int gen = Interlocked.Increment(ref s_gen); // full fence: the job is visible before the generation
            foreach (var w in ws)
                if (Volatile.Read(ref w.Sleeping) != 0) lock (w.Gate) Monitor.Pulse(w.Gate);

            // The caller's own chunk may throw: the workers still run theirs on the caller's state (its stack), so
            // its exception waits until they are done, as theirs do.
            Exception? own = null;
            try { fn(state, 0); }
            catch (Exception ex) { own = ex; }
            long done0 = prof ? Stopwatch.GetTimestamp() : 0;

            // Wait for every worker (also those without a chunk) so none still reads the job afterwards.
            foreach (var w in ws)
            {
                // Spin with pauses only (a yield costs microseconds, as much as a whole step's chunk); yield
                // only once the worker is clearly not running (descheduled on a busy machine).
                long start = 0;
                while (Volatile.Read(ref w.Ack) != gen)
                {
                    Thread.SpinWait(1);
                    if (start == 0) start = Stopwatch.GetTimestamp();
                    else if (Stopwatch.GetTimestamp() - start > YieldTicks) Thread.Yield();
                }
            }
            if (prof) PhaseProfile.Driver(s_profPhase, s_profStart, done0, Stopwatch.GetTimestamp());
            if (own != null) ExceptionDispatchInfo.Throw(own);
            if (s_error is { } e) throw new AggregateException("A kernel chunk failed.", e);
        }
        finally
        {
            s_fn = null; s_state = null;
            Volatile.Write(ref s_busy, 0);
        }
    }

    // Fewest batch rows per participant for which a recurrent layer runs its time loop row-parallel.
    internal const int MinRowsPerChunk = 4;

    [ThreadStatic] private static bool t_inRows;

    /// <summary>True inside a <see cref="RunRows"/> body: kernels called there run on the calling thread.</summary>
    public static bool InRows => t_inRows;

    /// <summary>
    /// Participants for a row-parallel loop over <paramref name="rows"/> independent batch rows: each gets at least
    /// <see cref="MinRowsPerChunk"/> rows; 1 means run on the caller (and let each kernel split its own output).
    /// </summary>
    public static int RowChunks(int rows) => t_inRows ? 1 : Math.Max(1, Math.Min(Size, rows / MinRowsPerChunk));

    private struct RowJob
    {
        public delegate* managed<void*, int, int, void> Body;
        public void* State;
        public int Rows, Chunks;
        public int* Bounds; // chunks + 1 row indices, or null for equal ranges
    }

    /// <summary>
    /// Runs body(state, r0, r1) on contiguous, near-equal row ranges of [0, rows), range i on participant i, and
    /// returns when all are done. A recurrent layer's rows (sequences of the batch) never interact inside its time
    /// loop, so the whole loop runs with no barrier per step, and each row's arithmetic is what one thread would do:
    /// results are bit-identical for any count. Kernels called inside run on their own thread (<see cref="InRows"/>).
    /// With <paramref name="bounds"/> (chunks + 1 row indices from 0 to rows), range i is [bounds[i], bounds[i + 1])
    /// instead: rows of unequal work (a packed batch's lengths) split by work, not by count.
    /// </summary>
    public static void RunRows(delegate* managed<void*, int, int, void> body, void* state, int rows, int chunks, int* bounds = null)
    {
        // One chunk runs on the caller as a plain call: its kernels may still split their own output.
        if (chunks <= 1 || Size == 1) { body(state, 0, rows); return; }
        var job = new RowJob { Body = body, State = state, Rows = rows, Chunks = Math.Min(chunks, Size), Bounds = bounds };
        Run(&RowChunk, &job, job.Chunks);
    }

    /// <summary>
    /// Splits rows of the given work (in row order) into <paramref name="chunks"/> contiguous ranges of near-equal
    /// total work: bounds (chunks + 1) from 0 to work.Length, each range at least one row when rows allow.
    /// </summary>
    public static void WorkBounds(ReadOnlySpan<int> work, int chunks, Span<int> bounds)
    {
        long total = 0;
        foreach (int w in work) total += w;
        int rows = work.Length, r = 0;
        long acc = 0;
        bounds[0] = 0;
        for (int c = 1; c < chunks; c++)
        {
            long target = total * c / chunks;
            // Leave at least one row for each later chunk; take at least one row for this one.
            while (r < rows - (chunks - c) && (acc + work[r] <= target || r < bounds[c - 1] + 1)) acc += work[r++];
            bounds[c] = r;
        }
        bounds[chunks] = rows;
    }

    private static void RowChunk(void* state, int chunk)
    {
        ref RowJob j = ref *(RowJob*)state;
        int r0 = j.Bounds != null ? j.Bounds[chunk] : (int)((long)j.Rows * chunk / j.Chunks);
        int r1 = j.Bounds != null ? j.Bounds[chunk + 1] : (int)((long)j.Rows * (chunk + 1) / j.Chunks);
        if (r0 >= r1) return;
        bool outer = t_inRows;
        t_inRows = true;
        try { j.Body(j.State, r0, r1); }
        finally { t_inRows = outer; }
    }

    private static void Acquire()
    {
        var sw = new SpinWait();
        while (Interlocked.CompareExchange(ref s_busy, 1, 0) != 0) sw.SpinOnce();
    }

    private static void Loop(object? o)
    {
        var w = (Worker)o!;
        int seen = w.Ack;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref s_gen) == seen)
            {
                if (Stopwatch.GetTimestamp() - start < SpinTicks) { Thread.SpinWait(1); continue; }
                lock (w.Gate)
                {
                    Volatile.Write(ref w.Sleeping, 1);
                    Interlocked.MemoryBarrier(); // pairs with the dispatcher's Increment: one of us sees the other
                    while (Volatile.Read(ref s_gen) == seen) Monitor.Wait(w.Gate);
                    Volatile.Write(ref w.Sleeping, 0);
                }
            }
            seen = Volatile.Read(ref s_gen);
            if (Volatile.Read(ref s_stop)) return;
            if (w.Index < s_count)
            {
                try
                {
                    if (!s_prof) s_fn(s_state, w.Index);
                    else
                    {
                        long t1 = Stopwatch.GetTimestamp(), c1 = PhaseProfile.CpuNow();
                        s_fn(s_state, w.Index);
                        long c2 = PhaseProfile.CpuNow();
                        PhaseProfile.Worker(s_profPhase, w.Index, s_profStart, t1, Stopwatch.GetTimestamp(), c1, c2);
                    }
                }
                catch (Exception e) { s_error ??= e; }
            }
            Volatile.Write(ref w.Ack, seen);
        }
    }
}

/// <summary>Clears a large span in contiguous parts on the kernel pool's threads (zeros are zeros whoever writes them).</summary>
internal static unsafe class PoolClear<T> where T : unmanaged
{
    // Elements from which the clear is split (256 KB of floats): below it a dispatch costs more than it saves.
    private const int ParallelMinElements = 1 << 16;

    private struct Job
    {
        public T* Data;
        public int Length, Chunks;
    }

    /// <summary>Clears <paramref name="span"/>.</summary>
    public static void Clear(Span<T> span)
    {
        int chunks = span.Length >= ParallelMinElements && !WorkerPool.InRows ? WorkerPool.Size : 1;
        if (chunks <= 1) { span.Clear(); return; }
        fixed (T* p = span)
        {
            var job = new Job { Data = p, Length = span.Length, Chunks = chunks };
            WorkerPool.Run(&Part, &job, chunks);
        }
    }

    private static void Part(void* state, int c)
    {
        ref var j = ref *(Job*)state;
        int lo = (int)((long)j.Length * c / j.Chunks), hi = (int)((long)j.Length * (c + 1) / j.Chunks);
        new Span<T>(j.Data + lo, hi - lo).Clear();
    }
}
