using Rnn.Kernels;
using Xunit;

namespace Rnn.Tests;

/// <summary>A dispatch whose chunk throws returns only once every chunk is done, and leaves the pool usable.</summary>
[Collection("Kernels")]
public unsafe class WorkerPoolTests
{
    // (2): chunk 1's "finished" flag, and how many chunks ran; pinned, so the chunks can hold a pointer to it.
    private static readonly int[] s_flags = GC.AllocateArray<int>(2, pinned: true);

    private static void ThrowOnCaller(void* state, int chunk)
    {
        var f = (int*)state;
        Interlocked.Increment(ref f[1]);
        if (chunk == 0) throw new InvalidOperationException("chunk 0 failed");
        Thread.Sleep(100); // still running on the worker when the caller's chunk has thrown
        Volatile.Write(ref f[0], 1);
    }

    private static void ThrowOnWorker(void* state, int chunk)
    {
        var f = (int*)state;
        Interlocked.Increment(ref f[1]);
        if (chunk == 1) throw new InvalidOperationException("chunk 1 failed");
    }

    private static void Count(void* state, int chunk) => Interlocked.Increment(ref ((int*)state)[1]);

    private static Exception? Catch(delegate* managed<void*, int, void> fn, int* f, bool together)
    {
        try
        {
            if (together) Assert.True(WorkerPool.RunTogether(fn, f, 2), "the pool was busy");
            else WorkerPool.Run(fn, f, 2);
            return null;
        }
        catch (Exception e) { return e; }
    }

    [Fact]
    public void ACallersChunkThatThrowsWaitsForTheOthersAndKeepsItsException()
    {
        try
        {
            Engine.Threads = 2;
            int* f = (int*)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(s_flags, 0);
            foreach (bool together in new[] { false, true })
            {
                s_flags[0] = s_flags[1] = 0;
                var e = Assert.IsType<InvalidOperationException>(Catch(&ThrowOnCaller, f, together));
                Assert.Equal("chunk 0 failed", e.Message);
                // The worker's chunk had finished before the exception reached us (it sleeps 100 ms first).
                Assert.Equal(1, Volatile.Read(ref s_flags[0]));
                Assert.Equal(2, s_flags[1]);
            }
            // A worker's exception still comes wrapped, after every chunk ran.
            s_flags[1] = 0;
            var agg = Assert.IsType<AggregateException>(Catch(&ThrowOnWorker, f, false));
            Assert.Equal("chunk 1 failed", agg.InnerException!.Message);
            Assert.Equal(2, s_flags[1]);
            // The pool works afterwards: both chunks run on their participants.
            s_flags[1] = 0;
            long before = WorkerPool.Dispatches;
            Assert.Null(Catch(&Count, f, false));
            Assert.Equal(2, s_flags[1]);
            Assert.True(WorkerPool.Dispatches > before, "the dispatch did not reach the pool");
        }
        finally { Engine.Threads = 1; }
    }
}
