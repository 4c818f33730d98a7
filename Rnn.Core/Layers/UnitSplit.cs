using System.Diagnostics;
using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>
/// A batch too small to split by rows, split by hidden units instead: participant k owns units [U0, U1) of H, for
/// all G gates, with its own packed rows of W_ih and W_hh (each thread streams only its panels, which stay in its
/// L2), computes their gates and the cell for them, writes its slice of h_t, then meets the others at a barrier
/// before the next step reads all of h_t. Each gate value is the same dot product in the same order as the whole
/// product's column, and the cell kernels are element-wise with boundaries on whole vectors, so the bits are the
/// single thread's.
/// </summary>
internal sealed class UnitSplit<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Unit boundaries fall on multiples of the widest vector, so each element takes the same kernel path.</summary>
    public const int Align = 16;

    /// <summary>One participant's units, weights and scratch.</summary>
    public sealed class Part
    {
        public int U0, U1;
        /// <summary>Its G·w rows of W_hh and W_ih packed (w = U1 − U0), its biases (G·w), its gates (2, B, G·w).</summary>
        public T[] Whh = [], Wih = [], Bias = [], Gates = [], Scratch = [];
        public int Width => U1 - U0;
    }

    /// <summary>Runs that went split by units (tests use it to prove the path ran).</summary>
    internal static long Runs;

    public readonly Part[] Parts;
    public readonly int Batch, Hidden, Input, Recurrent, GatesPerUnit;
    /// <summary>The weights changed (a new pass or a reset): each participant packs its rows before its first step.</summary>
    public bool Stale = true;
    /// <summary>Streaming step: the participants project x themselves (else the hoisted GEMM's gates are read).</summary>
    public bool ProjectX;
    // Steps each participant has finished, 64 bytes apart (no false sharing); int.MaxValue once it has left.
    private readonly int[] _done;
    private static readonly long YieldTicks = Stopwatch.Frequency / 50_000; // 20 µs

    public UnitSplit(int parts, int batch, int hidden, int input, int recurrent, int gates)
    {
        Batch = batch; Hidden = hidden; Input = input; Recurrent = recurrent; GatesPerUnit = gates;
        Parts = new Part[parts];
        int blocks = hidden / Align;
        for (int k = 0; k < parts; k++)
        {
            int u0 = blocks * k / parts * Align, u1 = k == parts - 1 ? hidden : blocks * (k + 1) / parts * Align;
            int n = gates * (u1 - u0);
            Parts[k] = new Part
            {
                U0 = u0, U1 = u1,
                Whh = new T[Gemm.PackedBLength<T>(n, recurrent)], Wih = new T[Gemm.PackedBLength<T>(n, input)],
                Bias = new T[n], Gates = new T[2 * batch * n], Scratch = new T[n * Math.Max(input, recurrent)],
            };
        }
        _done = new int[parts * 16];
    }

    /// <summary>Participants for H units: at most the pool, each at least one whole vector block.</summary>
    public static int Participants(int hidden) => Math.Min(WorkerPool.Size, hidden / Align);

    public bool Fits(int parts, int batch, int hidden, int input, int recurrent, int gates) =>
        Parts.Length == parts && Batch == batch && Hidden == hidden && Input == input && Recurrent == recurrent && GatesPerUnit == gates;

    /// <summary>Rows g·H + [u0, u1) of w (G·H, k), for each gate g, into dst (G·w, k).</summary>
    public static void Gather(Span<T> dst, ReadOnlySpan<T> w, int gates, int hidden, int u0, int u1, int k)
    {
        int n = (u1 - u0) * k;
        for (int g = 0; g < gates; g++) w.Slice((g * hidden + u0) * k, n).CopyTo(dst.Slice(g * n, n));
    }

    /// <summary>Packs the participant's rows of W_hh (G·H, P) and W_ih (G·H, I) for its products, and its biases.</summary>
    public void Pack(Part p, ReadOnlySpan<T> whh, ReadOnlySpan<T> wih, ReadOnlySpan<T> bias)
    {
        int n = GatesPerUnit * p.Width;
        Gather(p.Scratch, whh, GatesPerUnit, Hidden, p.U0, p.U1, Recurrent);
        Gemm.PackB<T>(p.Whh, p.Scratch, true, n, Recurrent, forOneRow: Batch == 1);
        Gather(p.Scratch, wih, GatesPerUnit, Hidden, p.U0, p.U1, Input);
        Gemm.PackB<T>(p.Wih, p.Scratch, true, n, Input);
        Gather(p.Bias, bias, GatesPerUnit, Hidden, p.U0, p.U1, 1);
    }

    /// <summary>Before a run: nobody has finished a step.</summary>
    public void Reset() => Array.Clear(_done);

    /// <summary>
    /// Participant k finished step <paramref name="step"/> (its slice of h written); waits until all have. Spins with
    /// pauses, then yields once a partner seems descheduled (a loaded machine). Allocates nothing.
    /// </summary>
    public void Arrive(int k, int step)
    {
        Volatile.Write(ref _done[k * 16], step); // release: the h slice is visible before the count
        for (int j = 0; j < Parts.Length; j++)
        {
            if (j == k) continue;
            long start = 0;
            while (Volatile.Read(ref _done[j * 16]) < step)
            {
                Thread.SpinWait(1);
                if (start == 0) start = Stopwatch.GetTimestamp();
                else if (Stopwatch.GetTimestamp() - start > YieldTicks) Thread.Yield();
            }
        }
    }

    /// <summary>Participant k is done (or failed): nobody waits for it any more.</summary>
    public void Leave(int k) => Volatile.Write(ref _done[k * 16], int.MaxValue);
}
