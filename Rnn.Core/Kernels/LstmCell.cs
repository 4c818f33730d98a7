using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Rnn.Kernels.Activations;

namespace Rnn.Kernels;

/// <summary>
/// The fused LSTM cell, PyTorch equations and gate order i, f, g, o over gates (batch, 4H):
/// i=σ, f=σ, g=tanh, o=σ; c' = f⊙c + i⊙g; h' = o⊙tanh(c'). One pass per row does the activations, the
/// cell update and the mask (a masked row keeps h and c). Forward stores post-activation gates, c' and
/// tanh(c'), which is all Backward needs. The float forward path is vectorised (Vector512/256 on the sigmoid and tanh
/// of <see cref="CellMath"/>, Vector128 on <see cref="Activations"/>' operators); the double path is the scalar reference. Backward is
/// plain arithmetic and runs on <see cref="Vector{T}"/> for both types. Each has its scalar reference beside it.
/// </summary>
public static class LstmCell
{
    /// <summary>
    /// One step forward. gates (batch, 4H): pre-activations in (without the bias when <paramref name="bias"/> is
    /// given: it is added here, which spares the layer a pass writing the bias into every step's gates),
    /// post-activation i, f, g, o out. h, c, tc (batch, H): written (tc = tanh(c)). hPrev, cPrev (batch, H).
    /// bias (4H) or empty. mask (batch) of 0/1, or empty. Masked rows copy hPrev, cPrev into h, c and leave
    /// gates and tc as they were. gatesStride: elements between gates rows (0: 4H), for a padded layout.
    /// </summary>
    public static void Forward<T>(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates,
        ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) { ForwardReference(h, c, tc, gates, hPrev, cPrev, bias, mask, batch, hidden, gatesStride); return; }
        int gs = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckForward(h, c, tc, gates, hPrev, cPrev, bias, mask, batch, hidden, gs);
        int H = hidden;
        bool hasBias = !bias.IsEmpty;
        ref float bb = ref hasBias ? ref F(bias, 0) : ref F(gates, 0); // not read without a bias
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { Carry(h, c, hPrev, cPrev, b, H); continue; }
            ref float g = ref F(gates, b * gs);
            if (hasBias) AddBias(ref g, ref bb, (nuint)(4 * H));
            ref float cp = ref F(cPrev, b * H);
            ref float cr = ref F(c, b * H);
            ref float tr = ref F(tc, b * H);
            ref float hr = ref F(h, b * H);
            nuint j = 0, n = (nuint)H, nh = (nuint)H;
            if (Vector512.IsHardwareAccelerated)
                for (; j + 16 <= n; j += 16)
                {
                    var i = CellMath.Sigmoid(Vector512.LoadUnsafe(ref g, j));
                    var f = CellMath.Sigmoid(Vector512.LoadUnsafe(ref g, nh + j));
                    var gg = CellMath.Tanh(Vector512.LoadUnsafe(ref g, 2 * nh + j));
                    var o = CellMath.Sigmoid(Vector512.LoadUnsafe(ref g, 3 * nh + j));
                    var cv = f * Vector512.LoadUnsafe(ref cp, j) + i * gg;
                    var t = CellMath.Tanh(cv);
                    i.StoreUnsafe(ref g, j); f.StoreUnsafe(ref g, nh + j); gg.StoreUnsafe(ref g, 2 * nh + j); o.StoreUnsafe(ref g, 3 * nh + j);
                    cv.StoreUnsafe(ref cr, j); t.StoreUnsafe(ref tr, j); (o * t).StoreUnsafe(ref hr, j);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= n; j += 8)
                {
                    var i = CellMath.Sigmoid(Vector256.LoadUnsafe(ref g, j));
                    var f = CellMath.Sigmoid(Vector256.LoadUnsafe(ref g, nh + j));
                    var gg = CellMath.Tanh(Vector256.LoadUnsafe(ref g, 2 * nh + j));
                    var o = CellMath.Sigmoid(Vector256.LoadUnsafe(ref g, 3 * nh + j));
                    var cv = f * Vector256.LoadUnsafe(ref cp, j) + i * gg;
                    var t = CellMath.Tanh(cv);
                    i.StoreUnsafe(ref g, j); f.StoreUnsafe(ref g, nh + j); gg.StoreUnsafe(ref g, 2 * nh + j); o.StoreUnsafe(ref g, 3 * nh + j);
                    cv.StoreUnsafe(ref cr, j); t.StoreUnsafe(ref tr, j); (o * t).StoreUnsafe(ref hr, j);
                }
            if (Vector128.IsHardwareAccelerated)
                for (; j + 4 <= n; j += 4)
                {
                    var i = SigmoidOp.Invoke(Vector128.LoadUnsafe(ref g, j));
                    var f = SigmoidOp.Invoke(Vector128.LoadUnsafe(ref g, nh + j));
                    var gg = TanhOp.Invoke(Vector128.LoadUnsafe(ref g, 2 * nh + j));
                    var o = SigmoidOp.Invoke(Vector128.LoadUnsafe(ref g, 3 * nh + j));
                    var cv = f * Vector128.LoadUnsafe(ref cp, j) + i * gg;
                    var t = TanhOp.Invoke(cv);
                    i.StoreUnsafe(ref g, j); f.StoreUnsafe(ref g, nh + j); gg.StoreUnsafe(ref g, 2 * nh + j); o.StoreUnsafe(ref g, 3 * nh + j);
                    cv.StoreUnsafe(ref cr, j); t.StoreUnsafe(ref tr, j); (o * t).StoreUnsafe(ref hr, j);
                }
            for (; j < n; j++)
            {
                float i = SigmoidOp.Invoke(Unsafe.Add(ref g, j));
                float f = SigmoidOp.Invoke(Unsafe.Add(ref g, nh + j));
                float gg = TanhOp.Invoke(Unsafe.Add(ref g, 2 * nh + j));
                float o = SigmoidOp.Invoke(Unsafe.Add(ref g, 3 * nh + j));
                float cv = f * Unsafe.Add(ref cp, j) + i * gg;
                float t = TanhOp.Invoke(cv);
                Unsafe.Add(ref g, j) = i; Unsafe.Add(ref g, nh + j) = f; Unsafe.Add(ref g, 2 * nh + j) = gg; Unsafe.Add(ref g, 3 * nh + j) = o;
                Unsafe.Add(ref cr, j) = cv; Unsafe.Add(ref tr, j) = t; Unsafe.Add(ref hr, j) = o * t;
            }
        }
    }

    /// <summary>g[0..n) += bias[0..n): the row's pre-activations get the summed biases (rounded once, as the GEMM did).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddBias(ref float g, ref float bias, nuint n)
    {
        nuint j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= n; j += 16) (Vector512.LoadUnsafe(ref g, j) + Vector512.LoadUnsafe(ref bias, j)).StoreUnsafe(ref g, j);
        if (Vector256.IsHardwareAccelerated)
            for (; j + 8 <= n; j += 8) (Vector256.LoadUnsafe(ref g, j) + Vector256.LoadUnsafe(ref bias, j)).StoreUnsafe(ref g, j);
        for (; j < n; j++) Unsafe.Add(ref g, j) += Unsafe.Add(ref bias, j);
    }

    /// <summary>Scalar reference for <see cref="Forward{T}"/> (T.Tanh and the stable scalar sigmoid).</summary>
    public static void ForwardReference<T>(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates,
        ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int gs = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckForward(h, c, tc, gates, hPrev, cPrev, bias, mask, batch, hidden, gs);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { Carry(h, c, hPrev, cPrev, b, H); continue; }
            var g = gates.Slice(b * gs, 4 * H);
            if (!bias.IsEmpty) for (int j = 0; j < 4 * H; j++) g[j] += bias[j];
            for (int j = 0; j < H; j++)
            {
                T i = SigmoidScalar(g[j]), f = SigmoidScalar(g[H + j]), gg = T.Tanh(g[2 * H + j]), o = SigmoidScalar(g[3 * H + j]);
                T cv = f * cPrev[b * H + j] + i * gg;
                T t = T.Tanh(cv);
                g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;
                c[b * H + j] = cv; tc[b * H + j] = t; h[b * H + j] = o * t;
            }
        }
    }

    /// <summary>
    /// One step backward. dh (batch, H): total gradient at h'. dc (batch, H): gradient at c' in, at c out.
    /// gates, cPrev, tc: what Forward stored. Writes dGates (batch, 4H) at the pre-activations, and dhPrev
    /// (batch, H): dh for masked rows (the state passed through), 0 otherwise (the caller adds dGates·W_hh).
    /// dBias (batch, 4H) or empty: dGates is added to it (per-row sums over the steps, for the bias gradient,
    /// while the values are in registers instead of in a pass over every step's dGates afterwards).
    /// gatesStride: elements between the rows of gates and of dGates (0: 4H), so that a caller can pad rows that
    /// would otherwise lie a multiple of 2 KB apart (the weight-gradient GEMM then reads dGatesᵀ in place).
    /// dGates may be gates itself: each element's gates are read before its dGates are written.
    /// Masked rows get zero dGates and keep dc.
    /// </summary>
    public static void Backward<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tc, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ds = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckBackward(dGates, dhPrev, dc, dBias, dh, gates, cPrev, tc, mask, batch, hidden, ds);
        int H = hidden, w = Vector<T>.Count;
        var one = Vector<T>.One;
        bool acc = !dBias.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedBackward(dGates, dhPrev, dh, b, H, ds); continue; }
            ref T g = ref R(gates, b * ds);
            ref T dg = ref R(dGates, b * ds);
            ref T db = ref acc ? ref dBias[b * 4 * H] : ref dg; // not written without dBias
            ref T cp = ref R(cPrev, b * H);
            ref T t = ref R(tc, b * H);
            ref T dhr = ref R(dh, b * H);
            ref T dcr = ref R(dc, b * H);
            nuint nh = (nuint)H;
            int j = 0;
            for (; j <= H - w; j += w)
            {
                nuint u = (nuint)j;
                var i = Vector.LoadUnsafe(ref g, u); var f = Vector.LoadUnsafe(ref g, nh + u);
                var gg = Vector.LoadUnsafe(ref g, 2 * nh + u); var o = Vector.LoadUnsafe(ref g, 3 * nh + u);
                var tv = Vector.LoadUnsafe(ref t, u); var dhv = Vector.LoadUnsafe(ref dhr, u);
                var dct = Vector.LoadUnsafe(ref dcr, u) + dhv * o * (one - tv * tv);
                var di = dct * gg * i * (one - i);
                var df = dct * Vector.LoadUnsafe(ref cp, u) * f * (one - f);
                var dgg = dct * i * (one - gg * gg);
                var dov = dhv * tv * o * (one - o);
                di.StoreUnsafe(ref dg, u); df.StoreUnsafe(ref dg, nh + u); dgg.StoreUnsafe(ref dg, 2 * nh + u); dov.StoreUnsafe(ref dg, 3 * nh + u);
                (dct * f).StoreUnsafe(ref dcr, u);
                if (acc)
                {
                    (Vector.LoadUnsafe(ref db, u) + di).StoreUnsafe(ref db, u);
                    (Vector.LoadUnsafe(ref db, nh + u) + df).StoreUnsafe(ref db, nh + u);
                    (Vector.LoadUnsafe(ref db, 2 * nh + u) + dgg).StoreUnsafe(ref db, 2 * nh + u);
                    (Vector.LoadUnsafe(ref db, 3 * nh + u) + dov).StoreUnsafe(ref db, 3 * nh + u);
                }
            }
            for (; j < H; j++) BackwardOne(dGates, dc, dBias, dh, gates, cPrev, tc, b, j, H, ds);
            dhPrev.Slice(b * H, H).Clear();
        }
    }

    /// <summary>Scalar reference for <see cref="Backward{T}"/>.</summary>
    public static void BackwardReference<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tc, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ds = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckBackward(dGates, dhPrev, dc, dBias, dh, gates, cPrev, tc, mask, batch, hidden, ds);
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedBackward(dGates, dhPrev, dh, b, hidden, ds); continue; }
            for (int j = 0; j < hidden; j++) BackwardOne(dGates, dc, dBias, dh, gates, cPrev, tc, b, j, hidden, ds);
            dhPrev.Slice(b * hidden, hidden).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardOne<T>(Span<T> dGates, Span<T> dc, Span<T> dBias, ReadOnlySpan<T> dh, ReadOnlySpan<T> gates,
        ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tc, int b, int j, int H, int ds) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r = b * 4 * H, d = b * ds, k = b * H + j;
        T i = gates[d + j], f = gates[d + H + j], gg = gates[d + 2 * H + j], o = gates[d + 3 * H + j];
        T t = tc[k], dhv = dh[k];
        T dct = dc[k] + dhv * o * (T.One - t * t);   // gradient at c' from both c'-paths
        dGates[d + j] = dct * gg * i * (T.One - i);
        dGates[d + H + j] = dct * cPrev[k] * f * (T.One - f);
        dGates[d + 2 * H + j] = dct * i * (T.One - gg * gg);
        dGates[d + 3 * H + j] = dhv * t * o * (T.One - o);
        dc[k] = dct * f;
        if (dBias.IsEmpty) return;
        for (int q = 0; q < 4; q++) dBias[r + q * H + j] += dGates[d + q * H + j];
    }

    private static void MaskedBackward<T>(Span<T> dGates, Span<T> dhPrev, ReadOnlySpan<T> dh, int b, int H, int ds) where T : unmanaged
    {
        dGates.Slice(b * ds, 4 * H).Clear();
        dh.Slice(b * H, H).CopyTo(dhPrev.Slice(b * H, H));
    }

    private static void Carry<T>(Span<T> h, Span<T> c, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev, int b, int H) where T : unmanaged
    {
        hPrev.Slice(b * H, H).CopyTo(h.Slice(b * H, H));
        cPrev.Slice(b * H, H).CopyTo(c.Slice(b * H, H));
    }

    private static ref float F<T>(ReadOnlySpan<T> s, int offset) where T : unmanaged
        => ref Unsafe.Add(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(s)), offset);

    private static ref T R<T>(ReadOnlySpan<T> s, int offset) where T : unmanaged
        => ref Unsafe.Add(ref MemoryMarshal.GetReference(s), offset);

    private static void CheckForward<T>(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates,
        ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden, int gs) where T : unmanaged
    {
        int bh = batch * hidden;
        Len(h.Length, bh, nameof(h)); Len(c.Length, bh, nameof(c)); Len(tc.Length, bh, nameof(tc));
        Rows(gates.Length, batch, gs, hidden, nameof(gates)); Len(hPrev.Length, bh, nameof(hPrev)); Len(cPrev.Length, bh, nameof(cPrev));
        if (!bias.IsEmpty) Len(bias.Length, 4 * hidden, nameof(bias));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckBackward<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tc, ReadOnlySpan<T> mask, int batch, int hidden, int gs) where T : unmanaged
    {
        int bh = batch * hidden;
        Rows(dGates.Length, batch, gs, hidden, nameof(dGates)); Rows(gates.Length, batch, gs, hidden, nameof(gates));
        Len(dhPrev.Length, bh, nameof(dhPrev)); Len(dc.Length, bh, nameof(dc));
        if (!dBias.IsEmpty) Len(dBias.Length, 4 * bh, nameof(dBias));
        Len(dh.Length, bh, nameof(dh)); Len(cPrev.Length, bh, nameof(cPrev)); Len(tc.Length, bh, nameof(tc));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    /// <summary>A (batch, 4H) gates buffer, rows gs apart: exactly batch·4H elements when dense, enough for the rows when padded.</summary>
    private static void Rows(int length, int batch, int gs, int hidden, string name)
    {
        if (gs < 4 * hidden) throw new ArgumentOutOfRangeException("gatesStride", $"gatesStride: expected 0 or at least 4H = {4 * hidden}, got {gs}.");
        if (gs == 4 * hidden) { Len(length, 4 * batch * hidden, name); return; }
        long need = batch == 0 ? 0 : (long)(batch - 1) * gs + 4 * hidden;
        if (length < need) throw new ArgumentException($"{name}: expected at least {need} elements for {batch} rows {gs} apart, got {length}.", name);
    }

    internal static void Len(int actual, int expected, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name}: expected {expected} elements, got {actual}.", name);
    }
}
