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
/// tanh(c'), which is all Backward needs. The peephole variant (ONNX's input P, Lasagne's LSTMLayer) adds
/// diagonal weights: i and f see c, o sees c'. The float forward paths write their body once over the width
/// structs of Operators.cs (Vector512, 256, 128, then one lane), on the library's one sigmoid and tanh, so every
/// lane gives the same bits; the double paths are the scalar references. Backward is plain arithmetic, written once
/// over <see cref="Vector{T}"/> and then one lane, for both types. Each kernel has its scalar reference beside it.
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
            nuint j = 0, n = (nuint)H;
            if (Vector512.IsHardwareAccelerated) j = ForwardSpan<F512, Vector512<float>>(ref g, ref cp, ref cr, ref tr, ref hr, n, j);
            if (Vector256.IsHardwareAccelerated) j = ForwardSpan<F256, Vector256<float>>(ref g, ref cp, ref cr, ref tr, ref hr, n, j);
            if (Vector128.IsHardwareAccelerated) j = ForwardSpan<F128, Vector128<float>>(ref g, ref cp, ref cr, ref tr, ref hr, n, j);
            ForwardSpan<F1, float>(ref g, ref cp, ref cr, ref tr, ref hr, n, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint ForwardSpan<TOps, TV>(ref float g, ref float cp, ref float c, ref float tc, ref float h, nuint H, nuint j)
        where TOps : struct, IActOps<TV>
    {
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            var i = TOps.Sigmoid(TOps.Load(ref g, j));
            var f = TOps.Sigmoid(TOps.Load(ref g, H + j));
            var gg = TOps.Tanh(TOps.Load(ref g, 2 * H + j));
            var o = TOps.Sigmoid(TOps.Load(ref g, 3 * H + j));
            var cv = TOps.Add(TOps.Mul(f, TOps.Load(ref cp, j)), TOps.Mul(i, gg));
            var t = TOps.Tanh(cv);
            TOps.Store(i, ref g, j); TOps.Store(f, ref g, H + j); TOps.Store(gg, ref g, 2 * H + j); TOps.Store(o, ref g, 3 * H + j);
            TOps.Store(cv, ref c, j); TOps.Store(t, ref tc, j); TOps.Store(TOps.Mul(o, t), ref h, j);
        }
        return j;
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
        int H = hidden;
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
            nuint j = BackwardSpan<T, VecOps<T>, Vector<T>>(ref g, ref dg, ref db, acc, ref cp, ref t, ref dhr, ref dcr, (nuint)H, 0);
            BackwardSpan<T, ScalarOps<T>, T>(ref g, ref dg, ref db, acc, ref cp, ref t, ref dhr, ref dcr, (nuint)H, j);
            dhPrev.Slice(b * H, H).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint BackwardSpan<T, TOps, TV>(ref T g, ref T dg, ref T db, bool acc, ref T cp, ref T tc, ref T dh, ref T dc, nuint H, nuint j)
        where TOps : struct, IOps<T, TV>
    {
        var one = TOps.One;
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV i = TOps.Load(ref g, j), f = TOps.Load(ref g, H + j), gg = TOps.Load(ref g, 2 * H + j), o = TOps.Load(ref g, 3 * H + j);
            TV t = TOps.Load(ref tc, j), dhv = TOps.Load(ref dh, j);
            var dct = TOps.Add(TOps.Load(ref dc, j), TOps.Mul(TOps.Mul(dhv, o), TOps.Sub(one, TOps.Mul(t, t)))); // at c' from both c'-paths
            var di = TOps.Mul(TOps.Mul(TOps.Mul(dct, gg), i), TOps.Sub(one, i));
            var df = TOps.Mul(TOps.Mul(TOps.Mul(dct, TOps.Load(ref cp, j)), f), TOps.Sub(one, f));
            var dgg = TOps.Mul(TOps.Mul(dct, i), TOps.Sub(one, TOps.Mul(gg, gg)));
            var dov = TOps.Mul(TOps.Mul(TOps.Mul(dhv, t), o), TOps.Sub(one, o));
            TOps.Store(di, ref dg, j); TOps.Store(df, ref dg, H + j); TOps.Store(dgg, ref dg, 2 * H + j); TOps.Store(dov, ref dg, 3 * H + j);
            TOps.Store(TOps.Mul(dct, f), ref dc, j);
            if (acc) AddGates<T, TOps, TV>(ref db, j, H, di, df, dgg, dov);
        }
        return j;
    }

    /// <summary>The four gate gradients added to a row of per-row bias sums (batch, 4H).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddGates<T, TOps, TV>(ref T db, nuint j, nuint H, TV di, TV df, TV dgg, TV dov) where TOps : struct, IOps<T, TV>
    {
        TOps.Store(TOps.Add(TOps.Load(ref db, j), di), ref db, j);
        TOps.Store(TOps.Add(TOps.Load(ref db, H + j), df), ref db, H + j);
        TOps.Store(TOps.Add(TOps.Load(ref db, 2 * H + j), dgg), ref db, 2 * H + j);
        TOps.Store(TOps.Add(TOps.Load(ref db, 3 * H + j), dov), ref db, 3 * H + j);
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

    // ---------------- peepholes ----------------

    /// <summary>
    /// One peephole step forward (ONNX's LSTM input P, Lasagne's LSTMLayer): i = σ(a_i + p_i⊙cPrev),
    /// f = σ(a_f + p_f⊙cPrev), g = tanh(a_g), c = f⊙cPrev + i⊙g, o = σ(a_o + p_o⊙c), h = o⊙tanh(c), where a is
    /// gates (+ bias, added first as <see cref="Forward{T}"/> adds it). peep (3H) = [p_i | p_f | p_o]. Every other
    /// argument and the storage (post-activation gates, c, tc; masked rows copy hPrev, cPrev) as Forward.
    /// </summary>
    public static void ForwardPeephole<T>(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> peep, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) { ForwardPeepholeReference(h, c, tc, gates, hPrev, cPrev, bias, peep, mask, batch, hidden, gatesStride); return; }
        int gs = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckForward(h, c, tc, gates, hPrev, cPrev, bias, mask, batch, hidden, gs);
        Len(peep.Length, 3 * hidden, nameof(peep));
        int H = hidden;
        bool hasBias = !bias.IsEmpty;
        ref float bb = ref hasBias ? ref F(bias, 0) : ref F(gates, 0); // not read without a bias
        ref float p = ref F(peep, 0);
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { Carry(h, c, hPrev, cPrev, b, H); continue; }
            ref float g = ref F(gates, b * gs);
            if (hasBias) AddBias(ref g, ref bb, (nuint)(4 * H));
            ref float cp = ref F(cPrev, b * H);
            ref float cr = ref F(c, b * H);
            ref float tr = ref F(tc, b * H);
            ref float hr = ref F(h, b * H);
            nuint j = 0, n = (nuint)H;
            if (Vector512.IsHardwareAccelerated) j = PeepSpan<F512, Vector512<float>>(ref g, ref p, ref cp, ref cr, ref tr, ref hr, n, j);
            if (Vector256.IsHardwareAccelerated) j = PeepSpan<F256, Vector256<float>>(ref g, ref p, ref cp, ref cr, ref tr, ref hr, n, j);
            if (Vector128.IsHardwareAccelerated) j = PeepSpan<F128, Vector128<float>>(ref g, ref p, ref cp, ref cr, ref tr, ref hr, n, j);
            PeepSpan<F1, float>(ref g, ref p, ref cp, ref cr, ref tr, ref hr, n, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint PeepSpan<TOps, TV>(ref float g, ref float p, ref float cp, ref float c, ref float tc, ref float h, nuint H, nuint j)
        where TOps : struct, IActOps<TV>
    {
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            var cpv = TOps.Load(ref cp, j);
            var i = TOps.Sigmoid(TOps.Add(TOps.Load(ref g, j), TOps.Mul(TOps.Load(ref p, j), cpv)));
            var f = TOps.Sigmoid(TOps.Add(TOps.Load(ref g, H + j), TOps.Mul(TOps.Load(ref p, H + j), cpv)));
            var gg = TOps.Tanh(TOps.Load(ref g, 2 * H + j));
            var cv = TOps.Add(TOps.Mul(f, cpv), TOps.Mul(i, gg));
            var o = TOps.Sigmoid(TOps.Add(TOps.Load(ref g, 3 * H + j), TOps.Mul(TOps.Load(ref p, 2 * H + j), cv)));
            var t = TOps.Tanh(cv);
            TOps.Store(i, ref g, j); TOps.Store(f, ref g, H + j); TOps.Store(gg, ref g, 2 * H + j); TOps.Store(o, ref g, 3 * H + j);
            TOps.Store(cv, ref c, j); TOps.Store(t, ref tc, j); TOps.Store(TOps.Mul(o, t), ref h, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="ForwardPeephole{T}"/> (T.Tanh and the stable scalar sigmoid).</summary>
    public static void ForwardPeepholeReference<T>(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> peep, ReadOnlySpan<T> mask, int batch, int hidden, int gatesStride = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int gs = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckForward(h, c, tc, gates, hPrev, cPrev, bias, mask, batch, hidden, gs);
        Len(peep.Length, 3 * hidden, nameof(peep));
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { Carry(h, c, hPrev, cPrev, b, H); continue; }
            var g = gates.Slice(b * gs, 4 * H);
            if (!bias.IsEmpty) for (int j = 0; j < 4 * H; j++) g[j] += bias[j];
            for (int j = 0; j < H; j++)
            {
                T cp = cPrev[b * H + j];
                T i = SigmoidScalar(g[j] + peep[j] * cp), f = SigmoidScalar(g[H + j] + peep[H + j] * cp), gg = T.Tanh(g[2 * H + j]);
                T cv = f * cp + i * gg;
                T o = SigmoidScalar(g[3 * H + j] + peep[2 * H + j] * cv);
                T t = T.Tanh(cv);
                g[j] = i; g[H + j] = f; g[2 * H + j] = gg; g[3 * H + j] = o;
                c[b * H + j] = cv; tc[b * H + j] = t; h[b * H + j] = o * t;
            }
        }
    }

    /// <summary>
    /// One peephole step backward, as <see cref="Backward{T}"/> with c (batch, H) = c' and peep as in Forward:
    /// dc' = dc + dh⊙o⊙(1−tc²) + do⊙p_o, dc out = dc'⊙f + di⊙p_i + df⊙p_f (di, df, do at the pre-activations).
    /// dPeep (batch, 3H) or empty: per-row sums, += [di⊙cPrev | df⊙cPrev | do⊙c']. dGates may be gates itself.
    /// Masked rows: dGates 0, dhPrev = dh, dc kept, nothing added to dBias or dPeep.
    /// </summary>
    public static void BackwardPeephole<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, Span<T> dPeep, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> c, ReadOnlySpan<T> tc, ReadOnlySpan<T> peep, ReadOnlySpan<T> mask,
        int batch, int hidden, int gatesStride = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ds = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckPeepBackward(dGates, dhPrev, dc, dBias, dPeep, dh, gates, cPrev, c, tc, peep, mask, batch, hidden, ds);
        int H = hidden;
        bool acc = !dBias.IsEmpty, accP = !dPeep.IsEmpty;
        ref T p = ref R(peep, 0);
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedBackward(dGates, dhPrev, dh, b, H, ds); continue; }
            ref T g = ref R(gates, b * ds);
            ref T dg = ref R(dGates, b * ds);
            ref T db = ref acc ? ref dBias[b * 4 * H] : ref dg; // not written without dBias
            ref T dp = ref accP ? ref dPeep[b * 3 * H] : ref dg; // not written without dPeep
            ref T cp = ref R(cPrev, b * H);
            ref T cr = ref R(c, b * H);
            ref T t = ref R(tc, b * H);
            ref T dhr = ref R(dh, b * H);
            ref T dcr = ref R(dc, b * H);
            nuint j = PeepBackSpan<T, VecOps<T>, Vector<T>>(ref g, ref dg, ref db, acc, ref dp, accP, ref p, ref cp, ref cr, ref t, ref dhr, ref dcr, (nuint)H, 0);
            PeepBackSpan<T, ScalarOps<T>, T>(ref g, ref dg, ref db, acc, ref dp, accP, ref p, ref cp, ref cr, ref t, ref dhr, ref dcr, (nuint)H, j);
            dhPrev.Slice(b * H, H).Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint PeepBackSpan<T, TOps, TV>(ref T g, ref T dg, ref T db, bool acc, ref T dp, bool accP, ref T p,
        ref T cp, ref T c, ref T tc, ref T dh, ref T dc, nuint H, nuint j) where TOps : struct, IOps<T, TV>
    {
        var one = TOps.One;
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV i = TOps.Load(ref g, j), f = TOps.Load(ref g, H + j), gg = TOps.Load(ref g, 2 * H + j), o = TOps.Load(ref g, 3 * H + j);
            TV t = TOps.Load(ref tc, j), dhv = TOps.Load(ref dh, j), cpv = TOps.Load(ref cp, j);
            var dov = TOps.Mul(TOps.Mul(TOps.Mul(dhv, t), o), TOps.Sub(one, o));
            // at c' from the later steps, from h' and through o's peephole
            var dct = TOps.Add(TOps.Add(TOps.Load(ref dc, j), TOps.Mul(TOps.Mul(dhv, o), TOps.Sub(one, TOps.Mul(t, t)))), TOps.Mul(dov, TOps.Load(ref p, 2 * H + j)));
            var di = TOps.Mul(TOps.Mul(TOps.Mul(dct, gg), i), TOps.Sub(one, i));
            var df = TOps.Mul(TOps.Mul(TOps.Mul(dct, cpv), f), TOps.Sub(one, f));
            var dgg = TOps.Mul(TOps.Mul(dct, i), TOps.Sub(one, TOps.Mul(gg, gg)));
            TOps.Store(di, ref dg, j); TOps.Store(df, ref dg, H + j); TOps.Store(dgg, ref dg, 2 * H + j); TOps.Store(dov, ref dg, 3 * H + j);
            TOps.Store(TOps.Add(TOps.Add(TOps.Mul(dct, f), TOps.Mul(di, TOps.Load(ref p, j))), TOps.Mul(df, TOps.Load(ref p, H + j))), ref dc, j);
            if (acc) AddGates<T, TOps, TV>(ref db, j, H, di, df, dgg, dov);
            if (accP)
            {
                TOps.Store(TOps.Add(TOps.Load(ref dp, j), TOps.Mul(di, cpv)), ref dp, j);
                TOps.Store(TOps.Add(TOps.Load(ref dp, H + j), TOps.Mul(df, cpv)), ref dp, H + j);
                TOps.Store(TOps.Add(TOps.Load(ref dp, 2 * H + j), TOps.Mul(dov, TOps.Load(ref c, j))), ref dp, 2 * H + j);
            }
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="BackwardPeephole{T}"/>.</summary>
    public static void BackwardPeepholeReference<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, Span<T> dPeep, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> c, ReadOnlySpan<T> tc, ReadOnlySpan<T> peep, ReadOnlySpan<T> mask,
        int batch, int hidden, int gatesStride = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int ds = gatesStride > 0 ? gatesStride : 4 * hidden;
        CheckPeepBackward(dGates, dhPrev, dc, dBias, dPeep, dh, gates, cPrev, c, tc, peep, mask, batch, hidden, ds);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedBackward(dGates, dhPrev, dh, b, H, ds); continue; }
            for (int j = 0; j < H; j++)
            {
                int d = b * ds, k = b * H + j;
                T i = gates[d + j], f = gates[d + H + j], gg = gates[d + 2 * H + j], o = gates[d + 3 * H + j];
                T t = tc[k], dhv = dh[k], cp = cPrev[k];
                T dov = dhv * t * o * (T.One - o);
                T dct = dc[k] + dhv * o * (T.One - t * t) + dov * peep[2 * H + j];
                T di = dct * gg * i * (T.One - i), df = dct * cp * f * (T.One - f), dgg = dct * i * (T.One - gg * gg);
                dGates[d + j] = di; dGates[d + H + j] = df; dGates[d + 2 * H + j] = dgg; dGates[d + 3 * H + j] = dov;
                dc[k] = dct * f + di * peep[j] + df * peep[H + j];
                if (!dBias.IsEmpty)
                {
                    int r = b * 4 * H + j;
                    dBias[r] += di; dBias[r + H] += df; dBias[r + 2 * H] += dgg; dBias[r + 3 * H] += dov;
                }
                if (dPeep.IsEmpty) continue;
                int q = b * 3 * H + j;
                dPeep[q] += di * cp; dPeep[q + H] += df * cp; dPeep[q + 2 * H] += dov * c[k];
            }
            dhPrev.Slice(b * H, H).Clear();
        }
    }

    private static void CheckPeepBackward<T>(Span<T> dGates, Span<T> dhPrev, Span<T> dc, Span<T> dBias, Span<T> dPeep, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> c, ReadOnlySpan<T> tc, ReadOnlySpan<T> peep, ReadOnlySpan<T> mask,
        int batch, int hidden, int gs) where T : unmanaged
    {
        CheckBackward(dGates, dhPrev, dc, dBias, dh, gates, cPrev, tc, mask, batch, hidden, gs);
        Len(c.Length, batch * hidden, nameof(c)); Len(peep.Length, 3 * hidden, nameof(peep));
        if (!dPeep.IsEmpty) Len(dPeep.Length, 3 * batch * hidden, nameof(dPeep));
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
    private static void Rows(int length, int batch, int gatesStride, int hidden, string name)
    {
        int gs = gatesStride;
        if (gs < 4 * hidden) throw new ArgumentOutOfRangeException(nameof(gatesStride), $"gatesStride: expected 0 or at least 4H = {4 * hidden}, got {gs}.");
        if (gs == 4 * hidden) { Len(length, 4 * batch * hidden, name); return; }
        long need = batch == 0 ? 0 : (long)(batch - 1) * gs + 4 * hidden;
        if (length < need) throw new ArgumentException($"{name}: expected at least {need} elements for {batch} rows {gs} apart, got {length}.", name);
    }

    internal static void Len(int actual, int expected, string name)
    {
        if (actual != expected) throw new ArgumentException($"{name}: expected {expected} elements, got {actual}.", name);
    }
}
