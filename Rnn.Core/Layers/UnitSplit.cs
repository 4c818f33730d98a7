using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>
/// A batch too small to split by rows, split by hidden units instead: participant k owns units [U0, U1) of H, for
/// all G gates, with its own packed rows of W_ih and W_hh (each thread streams only its panels, which stay in its
/// L2), computes their gates and the cell for them, writes its slice of h_t; a step starts once every chunk has
/// finished the previous one (a barrier per step; a late participant's chunk is taken over by an idle one). Each gate value is the same dot product in the same order as the whole
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
        public T[] Whh = [], Wih = [], Bias = [], Gates = [];
        /// <summary>Its rows of W_hh (G·w, P) then of W_ih (G·w, I), as last packed (valid while <see cref="HasKept"/>).</summary>
        public T[] Kept = [];
        public bool HasKept;
        /// <summary>Reduced precision (streams): its rows quantised, and its own scratch for the int8 product's x.</summary>
        public QuantMatrix? QWhh, QWih;
        public sbyte[] Xq = [];
        public float[] Sx = [];
        /// <summary>Forward without a hoisted GEMM: x·W_ihᵀ of its units for every step, (S·B, G·w).</summary>
        public T[] XGates = [];
        public int Width => U1 - U0;
    }

    /// <summary>Runs that went split by units (tests use it to prove the path ran).</summary>
    internal static long Runs;

    /// <summary>Forward passes planned split by units that found the pool busy and ran on the row loops instead.</summary>
    internal static long Fallbacks;

    public readonly Part[] Parts;
    public readonly int Batch, Hidden, Input, Recurrent, GatesPerUnit;
    public readonly WeightPrecision Precision;
    /// <summary>The weights changed (a new pass or a reset): each participant packs its rows before its first step.</summary>
    public bool Stale = true;
    /// <summary>Streaming step: the participants project x themselves (else the hoisted GEMM's gates are read).</summary>
    public bool ProjectX;
    /// <summary>Forward: each participant projects every step's x for its units before its first step (<see cref="ProjectInputs"/>).</summary>
    public bool ProjectAll;
    // Per chunk, 64 bytes apart (no false sharing): steps claimed, steps finished. Chunk c's step s is claimed by one
    // participant (its owner c unless that one is late: a descheduled vCPU then costs a chunk's time, not a time slice).
    private readonly int[] _claimed, _completed;
    private int _failed;
    private static readonly long YieldTicks = Stopwatch.Frequency / 50_000; // 20 µs

    public UnitSplit(int parts, int batch, int hidden, int input, int recurrent, int gates, WeightPrecision precision = WeightPrecision.Float32)
    {
        Batch = batch; Hidden = hidden; Input = input; Recurrent = recurrent; GatesPerUnit = gates; Precision = precision;
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
                Bias = new T[n], Gates = new T[2 * batch * n], Kept = new T[n * (recurrent + input)],
            };
            if (precision == WeightPrecision.Float32) continue;
            bool int8 = precision == WeightPrecision.Int8;
            Parts[k].QWhh = new QuantMatrix(n, recurrent, int8); Parts[k].QWih = new QuantMatrix(n, input, int8);
            Parts[k].Xq = new sbyte[batch * ((Math.Max(input, recurrent) + 3) / 4 * 4)]; Parts[k].Sx = new float[batch];
        }
        _claimed = new int[parts * 16];
        _completed = new int[parts * 16];
    }

    /// <summary>Participants for H units: at most the pool, each at least one whole vector block.</summary>
    public static int Participants(int hidden) => Math.Min(WorkerPool.Size, hidden / Align);

    public bool Fits(int parts, int batch, int hidden, int input, int recurrent, int gates, WeightPrecision precision) =>
        Parts.Length == parts && Batch == batch && Hidden == hidden && Input == input && Recurrent == recurrent && GatesPerUnit == gates
        && Precision == precision;

    /// <summary>Rows g·H + [u0, u1) of w (G·H, k), for each gate g, into dst (G·w, k).</summary>
    public static void Gather(Span<T> dst, ReadOnlySpan<T> w, int gates, int hidden, int u0, int u1, int k)
    {
        int n = (u1 - u0) * k;
        for (int g = 0; g < gates; g++) w.Slice((g * hidden + u0) * k, n).CopyTo(dst.Slice(g * n, n));
    }

    /// <summary>True when w's rows g·H + [u0, u1) for each gate g hold the same bytes as kept (G·w, k).</summary>
    public static bool SameRows(ReadOnlySpan<T> kept, ReadOnlySpan<T> w, int gates, int hidden, int u0, int u1, int k)
    {
        int n = (u1 - u0) * k;
        for (int g = 0; g < gates; g++)
            if (!MemoryMarshal.AsBytes(w.Slice((g * hidden + u0) * k, n)).SequenceEqual(MemoryMarshal.AsBytes(kept.Slice(g * n, n))))
                return false;
        return true;
    }

    /// <summary>
    /// Packs the participant's rows of W_hh (G·H, P) and W_ih (G·H, I) for its products, and its biases. Every inference
    /// pass calls it (the weights may have changed in between); rows with the same bytes as last time are not packed
    /// again: comparing reads them once, packing (a gather, then a transpose) cost several times that.
    /// </summary>
    public void Pack(Part p, ReadOnlySpan<T> whh, ReadOnlySpan<T> wih, ReadOnlySpan<T> bias)
    {
        int n = GatesPerUnit * p.Width;
        Gather(p.Bias, bias, GatesPerUnit, Hidden, p.U0, p.U1, 1);
        var kh = p.Kept.AsSpan(0, n * Recurrent); // (G·w, P)
        var ki = p.Kept.AsSpan(n * Recurrent, n * Input); // (G·w, I)
        if (p.HasKept && SameRows(kh, whh, GatesPerUnit, Hidden, p.U0, p.U1, Recurrent)
            && SameRows(ki, wih, GatesPerUnit, Hidden, p.U0, p.U1, Input)) return;
        p.HasKept = false; // until both are packed (a throw half way leaves nothing half kept)
        Gather(kh, whh, GatesPerUnit, Hidden, p.U0, p.U1, Recurrent);
        if (p.QWhh != null) p.QWhh.Pack(MemoryMarshal.Cast<T, float>(kh));
        else Gemm.PackB<T>(p.Whh, kh, true, n, Recurrent, forOneRow: Batch == 1);
        Gather(ki, wih, GatesPerUnit, Hidden, p.U0, p.U1, Input);
        if (p.QWih != null) p.QWih.Pack(MemoryMarshal.Cast<T, float>(ki));
        else Gemm.PackB<T>(p.Wih, ki, true, n, Input);
        p.HasKept = true;
    }

    /// <summary>
    /// c (n, G·w) = x·Wᵀ (β = 0) or c += it (β = 1) over participant p's rows of W_hh (<paramref name="recurrent"/>) or
    /// W_ih: <see cref="ScanArena{T}.Product"/>'s kernels at its precision, so each column gets the whole product's bits.
    /// </summary>
    public void Product(Part p, bool recurrent, Span<T> c, ReadOnlySpan<T> x, T beta, int n, int ldc = 0)
    {
        int N = GatesPerUnit * p.Width, K = recurrent ? Recurrent : Input;
        var q = recurrent ? p.QWhh : p.QWih;
        if (q == null) { Gemm.MultiplyPacked<T>(c, x, recurrent ? p.Whh : p.Wih, false, T.One, beta, n, N, K, ldc: ldc); return; }
        var cf = MemoryMarshal.Cast<T, float>(c);
        var xf = MemoryMarshal.Cast<T, float>(x);
        if (q.Int8) QuantGemv.MultiplyInt8(cf, xf, q, beta != T.Zero, n, p.Xq, p.Sx, ldc);
        else QuantGemv.MultiplyBf16(cf, xf, q, beta != T.Zero, n, ldc);
    }

    /// <summary>
    /// x·W_ihᵀ for participant p's units over all rows of xs (rows, I) into its <see cref="Part.XGates"/> (rows, G·w):
    /// the hoisted GEMM's columns of these units, the same bits (each column is the same dot product in the same order).
    /// </summary>
    public void ProjectInputs(Part p, ReadOnlySpan<T> xs, int rows)
    {
        int n = GatesPerUnit * p.Width;
        if (p.XGates.Length < rows * n) p.XGates = new T[rows * n]; // once per longer sequence
        Gemm.MultiplyPacked<T>(p.XGates, xs, p.Wih, false, T.One, T.Zero, rows, n, Input);
    }

    /// <summary>Participant p's projected inputs of step s (n rows): its gates before the recurrent product adds to them.</summary>
    public Span<T> InputRows(Part p, int s, int n)
    {
        int gw = GatesPerUnit * p.Width;
        return p.XGates.AsSpan(s * n * gw, n * gw);
    }

    /// <summary>Before a run: no chunk claimed or finished.</summary>
    public void Reset() { Array.Clear(_claimed); Array.Clear(_completed); _failed = 0; }

    /// <summary>The earliest step with a chunk nobody has claimed yet (the run's length once all are).</summary>
    public int NextStep()
    {
        int s = int.MaxValue;
        for (int c = 0; c < Parts.Length; c++) s = Math.Min(s, Volatile.Read(ref _claimed[c * 16]));
        return s;
    }

    /// <summary>
    /// Waits until every chunk has finished step s − 1 (all of h_{t−1} written); false once a chunk failed. Spins with
    /// pauses, then yields (a partner descheduled on a loaded machine). Allocates nothing.
    /// </summary>
    public bool AwaitStep(int s)
    {
        for (int c = 0; c < Parts.Length; c++)
        {
            long start = 0;
            while (Volatile.Read(ref _completed[c * 16]) < s) // acquire: the chunk's slice of h is visible after it
            {
                if (Volatile.Read(ref _failed) != 0) return false;
                Thread.SpinWait(1);
                if (start == 0) start = Stopwatch.GetTimestamp();
                else if (Stopwatch.GetTimestamp() - start > YieldTicks) Thread.Yield();
            }
        }
        return Volatile.Read(ref _failed) == 0;
    }

    /// <summary>Claims chunk c's step s (true for exactly one caller): its owner first, else whoever is idle.</summary>
    public bool TryClaim(int c, int s) => Volatile.Read(ref _claimed[c * 16]) == s && Interlocked.CompareExchange(ref _claimed[c * 16], s + 1, s) == s;

    /// <summary>Chunk c finished step s (release: its slice of h_t is visible before the count).</summary>
    public void Complete(int c, int s) => Volatile.Write(ref _completed[c * 16], s + 1);

    /// <summary>A chunk threw: the others stop waiting.</summary>
    public void Fail() => Volatile.Write(ref _failed, 1);
}
