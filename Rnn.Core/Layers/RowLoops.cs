using System.Numerics;
using System.Runtime.CompilerServices;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>A recurrent layer's time loops over a range of batch rows (the rows never interact inside them).</summary>
internal interface IRowLoops<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The forward recurrence for batch rows [r0, r1).</summary>
    void ForwardSteps(int r0, int r1, int seqLen);

    /// <summary>The reverse loop for batch rows [r0, r1), from the last step down to seqLen − steps; dy as Backward got it.</summary>
    void BackwardSteps(int r0, int r1, int seqLen, int steps, ReadOnlySpan<T> dy);
}

/// <summary>
/// Runs a layer's time loops row-parallel on the kernel pool (<see cref="WorkerPool.RunRows"/>): each participant
/// takes a contiguous range of the batch for the whole loop, so there is no barrier per step, and each row gets
/// the arithmetic one thread would give it (bit-identical for any thread count).
/// </summary>
internal static unsafe class RowLoops<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>What a row range needs besides the layer's fields; lives on the caller's stack during the run.</summary>
    private struct Job
    {
        public IRowLoops<T> Layer;
        public int Seq, Steps;
        public T* Dy;      // Backward: dy, (batch, seq, H) or (batch, H)
        public int DyLength;
    }

    // Participants a split by work can serve (bounds live on the stack).
    private const int MaxChunks = 64;

    /// <summary>
    /// The time loop over all rows. work (batch), when given, is each row's step count (a packed batch's sorted
    /// lengths): the ranges then split by work, so the thread holding the longest rows does not finish last.
    /// Which thread runs a row never changes its bits.
    /// </summary>
    public static void Forward(IRowLoops<T> layer, int batch, int seqLen, ReadOnlySpan<int> work = default)
    {
        var job = new Job { Layer = layer, Seq = seqLen };
        int chunks = Math.Min(WorkerPool.RowChunks(batch), MaxChunks);
        int* bounds = stackalloc int[chunks + 1];
        if (!work.IsEmpty) WorkerPool.WorkBounds(work, chunks, new Span<int>(bounds, chunks + 1));
        WorkerPool.RunRows(&ForwardChunk, Unsafe.AsPointer(ref job), batch, chunks, work.IsEmpty ? null : bounds);
    }

    /// <summary>The reverse loop over all rows; work as in <see cref="Forward"/> (each row's steps in this pass).</summary>
    public static void Backward(IRowLoops<T> layer, int batch, int seqLen, int steps, ReadOnlySpan<T> dy, ReadOnlySpan<int> work = default)
    {
        int chunks = Math.Min(WorkerPool.RowChunks(batch), MaxChunks);
        int* bounds = stackalloc int[chunks + 1];
        if (!work.IsEmpty) WorkerPool.WorkBounds(work, chunks, new Span<int>(bounds, chunks + 1));
        fixed (T* p = dy)
        {
            var job = new Job { Layer = layer, Seq = seqLen, Steps = steps, Dy = p, DyLength = dy.Length };
            WorkerPool.RunRows(&BackwardChunk, Unsafe.AsPointer(ref job), batch, chunks, work.IsEmpty ? null : bounds);
        }
    }

    private static void ForwardChunk(void* state, int r0, int r1)
    {
        ref var j = ref Unsafe.AsRef<Job>(state);
        j.Layer.ForwardSteps(r0, r1, j.Seq);
    }

    private static void BackwardChunk(void* state, int r0, int r1)
    {
        ref var j = ref Unsafe.AsRef<Job>(state);
        j.Layer.BackwardSteps(r0, r1, j.Seq, j.Steps, new ReadOnlySpan<T>(j.Dy, j.DyLength));
    }
}
