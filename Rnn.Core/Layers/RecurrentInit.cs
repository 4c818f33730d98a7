using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.Init;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>How a gated recurrent layer (Lstm, Gru) initialises its weights.</summary>
public enum InitScheme
{
    /// <summary>
    /// Keras: W_ih glorot_uniform with Keras's kernel fans (fan_in = I, fan_out = G·H), W_hh orthogonal
    /// (the transpose of Keras's orthogonal (H, G·H) recurrent kernel, i.e. orthonormal columns), biases zero.
    /// </summary>
    Keras,
    /// <summary>PyTorch: every weight and bias U(±1/√H).</summary>
    PyTorch,
}

/// <summary>Shared pieces of the gated layers: weight initialisation and per-sequence dropout masks.</summary>
internal static class RecurrentInit
{
    /// <summary>
    /// y (B, S, W) batch-major from hs (S, B, W) in scan order (scan step s is time S − 1 − s when backwards):
    /// a recurrent layer's outputs from its time-major tape.
    /// </summary>
    public static void FromScanOrder<T>(Span<T> y, ReadOnlySpan<T> hs, int batch, int seqLen, int width, bool backwards) where T : unmanaged
    {
        int B = batch, S = seqLen, W = width;
        for (int s = 0; s < S; s++)
        {
            int t = backwards ? S - 1 - s : s;
            for (int b = 0; b < B; b++) hs.Slice((s * B + b) * W, W).CopyTo(y.Slice((b * S + t) * W, W));
        }
    }

    /// <summary>
    /// xs (S, B, W) in scan order from x (B, S, W) batch-major, each row times <paramref name="dropMask"/>'s row
    /// (B, W) when given: a layer's input (or, with W = 1, its mask) laid out for the time loop.
    /// </summary>
    public static void ToScanOrder<T>(Span<T> xs, ReadOnlySpan<T> x, ReadOnlySpan<T> dropMask, int batch, int seqLen, int width, bool backwards)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ScanOrderCopy<T>.Split(xs, x, dropMask, batch, seqLen, seqLen, width, backwards, add: false)) return;
        int B = batch, S = seqLen, W = width;
        for (int s = 0; s < S; s++)
        {
            int t = backwards ? S - 1 - s : s;
            for (int b = 0; b < B; b++)
            {
                var src = x.Slice((b * S + t) * W, W); var dst = xs.Slice((s * B + b) * W, W);
                if (dropMask.IsEmpty) src.CopyTo(dst);
                else Kernels.Vec.Mul(dst, src, dropMask.Slice(b * W, W));
            }
        }
    }

    /// <summary>
    /// dx (B, S, W) batch-major += dxs (steps, B, W), the gradients of scan steps [S − steps, S) in scan order, each
    /// row times <paramref name="dropMask"/>'s row (B, W) when given: the input gradient back in the caller's layout.
    /// </summary>
    public static void AddFromScanOrder<T>(Span<T> dx, ReadOnlySpan<T> dxs, ReadOnlySpan<T> dropMask, int batch, int seqLen, int steps, int width, bool backwards)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (ScanOrderCopy<T>.Split(dx, dxs, dropMask, batch, seqLen, steps, width, backwards, add: true)) return;
        int B = batch, S = seqLen, W = width, s0 = S - steps;
        for (int s = s0; s < S; s++)
        {
            int t = backwards ? S - 1 - s : s;
            for (int b = 0; b < B; b++)
            {
                var dst = dx.Slice((b * S + t) * W, W); var src = dxs.Slice(((s - s0) * B + b) * W, W);
                if (dropMask.IsEmpty) Kernels.Vec.Add(dst, src);
                else Kernels.Vec.AddMul(dst, src, dropMask.Slice(b * W, W));
            }
        }
    }

    /// <summary>
    /// xs in the packed order from x (B, S, W) batch-major: scan step s holds the rows j &lt; Alive[s] (sorted longest
    /// first) at rows off[s] + j, each the caller's row perm[j] at time s (backwards: len[j] − 1 − s, so each sequence
    /// starts at its own last real step), times <paramref name="dropMask"/>'s row (B, W) of the caller's row when given.
    /// </summary>
    public static void ToPackedOrder<T>(Span<T> xs, ReadOnlySpan<T> x, ReadOnlySpan<T> dropMask, int[] perm, int[] len, int[] off,
        int seqLen, int width, bool backwards) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int S = seqLen, W = width;
        for (int j = 0; j < perm.Length; j++)
        {
            int b = perm[j], L = len[j];
            for (int s = 0; s < L; s++)
            {
                int t = backwards ? L - 1 - s : s;
                var src = x.Slice((b * S + t) * W, W); var dst = xs.Slice((off[s] + j) * W, W);
                if (dropMask.IsEmpty) src.CopyTo(dst);
                else Kernels.Vec.Mul(dst, src, dropMask.Slice(b * W, W));
            }
        }
    }

    /// <summary>
    /// dx (B, S, W) += dxs, the packed gradients of scan steps [sStop, S) (rows from off[sStop]): the inverse of
    /// <see cref="ToPackedOrder"/>, each row times the caller's <paramref name="dropMask"/> row when given.
    /// </summary>
    public static void AddFromPackedOrder<T>(Span<T> dx, ReadOnlySpan<T> dxs, ReadOnlySpan<T> dropMask, int[] perm, int[] len, int[] off,
        int sStop, int seqLen, int width, bool backwards) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int S = seqLen, W = width;
        for (int j = 0; j < perm.Length; j++)
        {
            int b = perm[j], L = len[j];
            for (int s = sStop; s < L; s++)
            {
                int t = backwards ? L - 1 - s : s;
                var dst = dx.Slice((b * S + t) * W, W); var src = dxs.Slice((off[s] - off[sStop] + j) * W, W);
                if (dropMask.IsEmpty) Kernels.Vec.Add(dst, src);
                else Kernels.Vec.AddMul(dst, src, dropMask.Slice(b * W, W));
            }
        }
    }

    /// <summary>Fills W_ih (G·H, I), W_hh (G·H, P) and the biases (G·H) per <paramref name="scheme"/>; draws in that order.</summary>
    public static void Weights<T>(InitScheme scheme, Rng rng, int gates, int inputSize, int hiddenSize,
        Parameter<T> wih, Parameter<T> whh, Parameter<T> bih, Parameter<T>? bhh) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int gh = gates * hiddenSize;
        if (scheme == InitScheme.Keras)
        {
            Initializers.GlorotUniform<T>(wih.Value, rng, inputSize, gh);
            Initializers.Orthogonal<T>(whh.Value, rng, gh, whh.Length / gh); // (G·H, P): P = H unless projected
            Array.Clear(bih.Value);
            if (bhh != null) Array.Clear(bhh.Value);
        }
        else
        {
            double a = 1.0 / Math.Sqrt(hiddenSize);
            Initializers.Uniform<T>(wih.Value, rng, -a, a);
            Initializers.Uniform<T>(whh.Value, rng, -a, a);
            Initializers.Uniform<T>(bih.Value, rng, -a, a);
            if (bhh != null) Initializers.Uniform<T>(bhh.Value, rng, -a, a);
        }
    }

    /// <summary>Inverted-dropout mask: each element 0 with probability p, else 1/(1−p).</summary>
    public static void DropoutMask<T>(Span<T> mask, double p, Rng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T keep = T.CreateTruncating(1.0 / (1.0 - p));
        for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextDouble() < p ? T.Zero : keep;
    }

    /// <summary>True for a dropout rate in [0, 1).</summary>
    public static bool IsRate(double p) => p >= 0 && p < 1;

    /// <summary>The message for a dropout rate outside [0, 1).</summary>
    public static string RateError(double p, string name) => $"options.{name}: expected a rate in [0, 1), got {p}.";
}

/// <summary>
/// <see cref="RecurrentInit.ToScanOrder"/> and <see cref="RecurrentInit.AddFromScanOrder"/> split by scan steps between
/// the kernel pool's threads when large: every element is the same copy (or the same one addition) whichever thread
/// does it, so the bits do not depend on the split.
/// </summary>
internal static unsafe class ScanOrderCopy<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Elements from which the copy is split (256 KB of floats): below it a dispatch costs more than it saves.
    private const long ParallelMinElements = 1 << 16;

    private struct Job
    {
        public T* Scan, Batch, Mask; // (steps, B, W) scan order; (B, S, W) batch-major; (B, W) or null
        public int B, S, Steps, W;
        public bool Backwards, Add;
    }

    /// <summary>Runs the copy split by steps and returns true, or returns false (small, or one thread) for the caller's loop.</summary>
    public static bool Split(Span<T> dst, ReadOnlySpan<T> src, ReadOnlySpan<T> dropMask, int batch, int seqLen, int steps, int width, bool backwards, bool add)
    {
        int chunks = Math.Min(WorkerPool.Size, steps);
        if (chunks <= 1 || WorkerPool.InRows || (long)batch * steps * width < ParallelMinElements) return false;
        long need = (long)batch * steps * width;
        if (dst.Length < (add ? (long)batch * seqLen * width : need) || src.Length < (add ? need : (long)batch * seqLen * width)) return false; // the loop's own bounds checks throw
        fixed (T* d = dst, s = src, m = dropMask)
        {
            var job = new Job
            {
                Scan = add ? s : d, Batch = add ? d : s, Mask = dropMask.IsEmpty ? null : m,
                B = batch, S = seqLen, Steps = steps, W = width, Backwards = backwards, Add = add,
            };
            WorkerPool.RunRows(&Steps, &job, steps, chunks);
        }
        return true;
    }

    /// <summary>Scan steps [q0, q1) of the last <see cref="Job.Steps"/> (q = s − (S − Steps)).</summary>
    private static void Steps(void* state, int q0, int q1)
    {
        ref var j = ref *(Job*)state;
        int B = j.B, S = j.S, W = j.W, s0 = S - j.Steps;
        for (int q = q0; q < q1; q++)
        {
            int s = s0 + q, t = j.Backwards ? S - 1 - s : s;
            for (int b = 0; b < B; b++)
            {
                var row = new Span<T>(j.Batch + ((nint)b * S + t) * W, W);
                var scan = new Span<T>(j.Scan + ((nint)q * B + b) * W, W);
                var mask = j.Mask == null ? default : new ReadOnlySpan<T>(j.Mask + (nint)b * W, W);
                if (!j.Add)
                {
                    if (mask.IsEmpty) row.CopyTo(scan);
                    else Kernels.Vec.Mul(scan, row, mask);
                }
                else if (mask.IsEmpty) Kernels.Vec.Add(row, scan);
                else Kernels.Vec.AddMul(row, scan, mask);
            }
        }
    }
}
