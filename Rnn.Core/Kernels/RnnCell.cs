using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Rnn.Kernels;

/// <summary>
/// The vanilla RNN cell, h = f(pre) with pre = x·W_ihᵀ + h_{t−1}·W_hhᵀ + b formed by the caller, and Lasagne's
/// elementwise gradient clipping at the pre-activation. The float forward runs the library's one tanh, sigmoid
/// and relu (<see cref="Activations"/>, every lane the same bits); double runs the scalar references. Backward is
/// plain arithmetic, written once over <see cref="Vector{T}"/> and then one lane, for both types. Each kernel has
/// its scalar reference beside it.
/// </summary>
public static class RnnCell
{
    /// <summary>
    /// One step forward. h (batch, H): the complete pre-activation in, f(pre) out; rows whose mask is 0 take
    /// hPrev (batch, H) instead. mask (batch) of 0/1, or empty.
    /// </summary>
    public static void Forward<T>(Span<T> h, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, Activation f, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckForward(h, hPrev, mask, f, batch, hidden);
        int H = hidden;
        if (mask.IsEmpty) { Activations.Forward(h, h, f); return; }
        for (int b = 0; b < batch; b++)
        {
            var row = h.Slice(b * H, H);
            if (mask[b] == T.Zero) hPrev.Slice(b * H, H).CopyTo(row);
            else Activations.Forward(row, row, f);
        }
    }

    /// <summary>Scalar reference for <see cref="Forward{T}"/> (T.Tanh, the stable scalar sigmoid).</summary>
    public static void ForwardReference<T>(Span<T> h, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, Activation f, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckForward(h, hPrev, mask, f, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < H; j++)
            {
                int k = b * H + j;
                T v = h[k];
                h[k] = !mask.IsEmpty && mask[b] == T.Zero ? hPrev[k] : f switch
                {
                    Activation.Tanh => T.Tanh(v),
                    Activation.Sigmoid => Activations.SigmoidScalar(v),
                    Activation.Relu => v < T.Zero ? T.Zero : v,
                    _ => v,
                };
            }
    }

    /// <summary>
    /// One step backward. dh (batch, H): total gradient at h. h: what Forward wrote. Writes dpre (batch, H) =
    /// dh⊙f'(from h) (tanh: dh·(1−h²); sigmoid dh·h·(1−h); relu: dh where h &gt; 0), clipped elementwise to
    /// [−clip, clip] when clip &gt; 0, and dhPrev (batch, H): 0 (the caller adds dpre·W_hh). Masked rows: dpre 0,
    /// dhPrev = dh. Without a mask dhPrev may be empty (not written: the caller overwrites it). dBias (batch, H) or empty: dpre added to it (per-row sums over the steps, for the bias
    /// gradient, while the values are in registers).
    /// </summary>
    public static void Backward<T>(Span<T> dpre, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> h, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> mask, Activation f, T clip, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (f)
        {
            case Activation.Tanh: Backward<T, TanhGrad>(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden); break;
            case Activation.Sigmoid: Backward<T, SigmoidGrad>(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden); break;
            case Activation.Relu: Backward<T, ReluGrad>(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden); break;
            case Activation.Linear: Backward<T, LinearGrad>(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), $"f: expected an Activation, got {f}.");
        }
    }

    private static void Backward<T, TGrad>(Span<T> dpre, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> h, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> mask, T clip, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T> where TGrad : struct, IGrad
    {
        CheckBackward(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden);
        int H = hidden;
        bool acc = !dBias.IsEmpty, clips = clip > T.Zero;
        if (mask.IsEmpty)
        {
            // Unmasked rows are contiguous and alike: one pass over batch·H with one tail (each element gets the same
            // arithmetic as per row). An empty dhPrev is left to the caller, who then overwrites it (a GEMM with β = 0).
            ref T d0 = ref R(dpre, 0); ref T y0 = ref R(h, 0); ref T g0 = ref R(dh, 0);
            ref T s0 = ref acc ? ref dBias[0] : ref d0;
            nuint n = (nuint)(batch * H);
            nuint k = BackSpan<T, VecOps<T>, Vector<T>, TGrad>(ref d0, ref s0, acc, clips, clip, ref y0, ref g0, n, 0);
            BackSpan<T, ScalarOps<T>, T, TGrad>(ref d0, ref s0, acc, clips, clip, ref y0, ref g0, n, k);
            dhPrev.Clear();
            return;
        }
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero)
            {
                dpre.Slice(b * H, H).Clear();
                dh.Slice(b * H, H).CopyTo(dhPrev.Slice(b * H, H));
                continue;
            }
            ref T d = ref R(dpre, b * H); ref T y = ref R(h, b * H); ref T g = ref R(dh, b * H);
            ref T s = ref acc ? ref dBias[b * H] : ref d; // not written without dBias
            nuint j = BackSpan<T, VecOps<T>, Vector<T>, TGrad>(ref d, ref s, acc, clips, clip, ref y, ref g, (nuint)H, 0);
            BackSpan<T, ScalarOps<T>, T, TGrad>(ref d, ref s, acc, clips, clip, ref y, ref g, (nuint)H, j);
            dhPrev.Slice(b * H, H).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint BackSpan<T, TOps, TV, TGrad>(ref T dpre, ref T sums, bool acc, bool clips, T clip, ref T h, ref T dh, nuint H, nuint j)
        where T : unmanaged, IFloatingPointIeee754<T> where TOps : struct, IOps<T, TV> where TGrad : struct, IGrad
    {
        TV hi = TOps.Create(clip), lo = TOps.Create(-clip);
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            var d = TGrad.Invoke<T, TOps, TV>(TOps.Load(ref h, j), TOps.Load(ref dh, j));
            if (clips) d = TOps.Clip(d, lo, hi);
            TOps.Store(d, ref dpre, j);
            if (acc) TOps.Store(TOps.Add(TOps.Load(ref sums, j), d), ref sums, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="Backward{T}"/>.</summary>
    public static void BackwardReference<T>(Span<T> dpre, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> h, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> mask, Activation f, T clip, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckBackward(dpre, dhPrev, dBias, h, dh, mask, clip, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            bool masked = !mask.IsEmpty && mask[b] == T.Zero;
            for (int j = 0; j < H; j++)
            {
                int k = b * H + j;
                if (masked) { dpre[k] = T.Zero; dhPrev[k] = dh[k]; continue; }
                T y = h[k], g = dh[k];
                T d = f switch
                {
                    Activation.Tanh => g * (T.One - y * y),
                    Activation.Sigmoid => g * y * (T.One - y),
                    Activation.Relu => y > T.Zero ? g : T.Zero,
                    _ => g,
                };
                if (clip > T.Zero) d = d > clip ? clip : d < -clip ? -clip : d;
                dpre[k] = d; if (!dhPrev.IsEmpty) dhPrev[k] = T.Zero;
                if (!dBias.IsEmpty) dBias[k] += d;
            }
        }
    }

    /// <summary>dy⊙f'(from y), written once for every width.</summary>
    private interface IGrad
    {
        static abstract TV Invoke<T, TOps, TV>(TV y, TV dy) where TOps : struct, IOps<T, TV>;
    }

    private readonly struct TanhGrad : IGrad
    {
        public static TV Invoke<T, TOps, TV>(TV y, TV dy) where TOps : struct, IOps<T, TV> => TOps.Mul(dy, TOps.Sub(TOps.One, TOps.Mul(y, y)));
    }

    private readonly struct SigmoidGrad : IGrad
    {
        public static TV Invoke<T, TOps, TV>(TV y, TV dy) where TOps : struct, IOps<T, TV> => TOps.Mul(TOps.Mul(dy, y), TOps.Sub(TOps.One, y));
    }

    private readonly struct ReluGrad : IGrad
    {
        public static TV Invoke<T, TOps, TV>(TV y, TV dy) where TOps : struct, IOps<T, TV> => TOps.WherePositive(y, dy);
    }

    private readonly struct LinearGrad : IGrad
    {
        public static TV Invoke<T, TOps, TV>(TV y, TV dy) where TOps : struct, IOps<T, TV> => dy;
    }

    private static ref T R<T>(ReadOnlySpan<T> s, int offset) where T : unmanaged
        => ref Unsafe.Add(ref MemoryMarshal.GetReference(s), offset);

    private static void CheckForward<T>(Span<T> h, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, Activation f, int batch, int hidden) where T : unmanaged
    {
        CheckShape(batch, hidden, f);
        int bh = batch * hidden;
        LstmCell.Len(h.Length, bh, nameof(h)); LstmCell.Len(hPrev.Length, bh, nameof(hPrev));
        if (!mask.IsEmpty) LstmCell.Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckBackward<T>(Span<T> dpre, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> h, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> mask, T clip, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(batch, hidden, Activation.Linear);
        if (!(clip >= T.Zero)) throw new ArgumentOutOfRangeException(nameof(clip), $"clip: expected 0 (off) or a positive limit, got {clip}.");
        int bh = batch * hidden;
        LstmCell.Len(dpre.Length, bh, nameof(dpre));
        if (!dhPrev.IsEmpty || !mask.IsEmpty) LstmCell.Len(dhPrev.Length, bh, nameof(dhPrev)); // empty: unmasked, the caller writes it
        if (!dBias.IsEmpty) LstmCell.Len(dBias.Length, bh, nameof(dBias));
        LstmCell.Len(h.Length, bh, nameof(h)); LstmCell.Len(dh.Length, bh, nameof(dh));
        if (!mask.IsEmpty) LstmCell.Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckShape(int batch, int hidden, Activation f)
    {
        if (batch < 0) throw new ArgumentOutOfRangeException(nameof(batch), $"batch: expected at least 0, got {batch}.");
        if (hidden < 0) throw new ArgumentOutOfRangeException(nameof(hidden), $"hidden: expected at least 0, got {hidden}.");
        if (f is not (Activation.Linear or Activation.Tanh or Activation.Sigmoid or Activation.Relu))
            throw new ArgumentOutOfRangeException(nameof(f), $"f: expected Linear, Tanh, Sigmoid or Relu, got {f}.");
    }
}
