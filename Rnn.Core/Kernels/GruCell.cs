using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Rnn.Kernels.Activations;

namespace Rnn.Kernels;

/// <summary>
/// The fused GRU cell, PyTorch gate order r, z, n; h' = (1−z)⊙n + z⊙h. Two variants:
/// <list type="bullet">
/// <item>reset-after (PyTorch, cuDNN, Keras 3, ONNX linear_before_reset=1): n = tanh(gx_n + r⊙(gh_n + b_hn)),
/// one kernel per step after the step's GEMM gh = h·W_hhᵀ;</item>
/// <item>reset-before (Keras 2, ONNX default): n = tanh(gx_n + (r⊙h)·W_hnᵀ), split around the second GEMM:
/// <see cref="ForwardGates{T}"/> (r, z and r⊙h), then <see cref="ForwardCandidate{T}"/>.</item>
/// </list>
/// gx (batch, 3H) holds x·W_ihᵀ plus the additive biases on entry and the post-activation r, z, n on exit.
/// A masked row (mask 0) keeps h. The float forward paths write their body once over the width structs of
/// Operators.cs (Vector512, 256, 128, then one lane), on the library's one sigmoid and tanh; double runs the scalar
/// references. Backward kernels are plain arithmetic on <see cref="Vector{T}"/> for both types. Each kernel has
/// its scalar reference beside it.
/// </summary>
public static class GruCell
{
    // ---------------- reset-after ----------------

    /// <summary>
    /// Reset-after step. gx (batch, 3H): x·W_ihᵀ + b_ih + [b_hr, b_hz, 0] in, r, z, n out. gh (batch, 3H): h·W_hhᵀ in;
    /// its n block gets + b_hn (kept for Backward). bhn (H). h, hPrev (batch, H). bias (3H) or empty: added to gx
    /// first (the x-side biases; the same bits as gx that already held them, without a pass writing them there).
    /// mask (batch) or empty.
    /// </summary>
    public static void Forward<T>(Span<T> h, Span<T> gx, Span<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> bhn,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) { ForwardReference(h, gx, gh, hPrev, bhn, bias, mask, batch, hidden); return; }
        CheckAfter(h, gx, gh, hPrev, bhn, bias, mask, batch, hidden);
        int H = hidden;
        bool hasBias = !bias.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { hPrev.Slice(b * H, H).CopyTo(h.Slice(b * H, H)); continue; }
            ref float x = ref F(gx, b * 3 * H); ref float g = ref F(gh, b * 3 * H);
            ref float hp = ref F(hPrev, b * H); ref float bn = ref F(bhn, 0); ref float hr = ref F(h, b * H);
            ref float bx = ref hasBias ? ref F(bias, 0) : ref x; // not read without a bias
            nuint j = 0, n = (nuint)H;
            if (Vector512.IsHardwareAccelerated) j = AfterSpan<F512, Vector512<float>>(ref x, ref g, ref hp, ref bn, ref bx, hasBias, ref hr, n, j);
            if (Vector256.IsHardwareAccelerated) j = AfterSpan<F256, Vector256<float>>(ref x, ref g, ref hp, ref bn, ref bx, hasBias, ref hr, n, j);
            if (Vector128.IsHardwareAccelerated) j = AfterSpan<F128, Vector128<float>>(ref x, ref g, ref hp, ref bn, ref bx, hasBias, ref hr, n, j);
            AfterSpan<F1, float>(ref x, ref g, ref hp, ref bn, ref bx, hasBias, ref hr, n, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint AfterSpan<TOps, TV>(ref float x, ref float g, ref float hp, ref float bn, ref float bx, bool hasBias, ref float h, nuint H, nuint j)
        where TOps : struct, IActOps<TV>
    {
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV xr = TOps.Load(ref x, j), xz = TOps.Load(ref x, H + j), xn = TOps.Load(ref x, 2 * H + j);
            if (hasBias) { xr = TOps.Add(xr, TOps.Load(ref bx, j)); xz = TOps.Add(xz, TOps.Load(ref bx, H + j)); xn = TOps.Add(xn, TOps.Load(ref bx, 2 * H + j)); }
            var r = TOps.Sigmoid(TOps.Add(xr, TOps.Load(ref g, j)));
            var z = TOps.Sigmoid(TOps.Add(xz, TOps.Load(ref g, H + j)));
            var hn = TOps.Add(TOps.Load(ref g, 2 * H + j), TOps.Load(ref bn, j));
            var nv = TOps.Tanh(TOps.Add(xn, TOps.Mul(r, hn)));
            TOps.Store(r, ref x, j); TOps.Store(z, ref x, H + j); TOps.Store(nv, ref x, 2 * H + j); TOps.Store(hn, ref g, 2 * H + j);
            TOps.Store(TOps.Add(nv, TOps.Mul(z, TOps.Sub(TOps.Load(ref hp, j), nv))), ref h, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="Forward{T}"/>.</summary>
    public static void ForwardReference<T>(Span<T> h, Span<T> gx, Span<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> bhn,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckAfter(h, gx, gh, hPrev, bhn, bias, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { hPrev.Slice(b * H, H).CopyTo(h.Slice(b * H, H)); continue; }
            var x = gx.Slice(b * 3 * H, 3 * H); var g = gh.Slice(b * 3 * H, 3 * H);
            if (!bias.IsEmpty) for (int j = 0; j < 3 * H; j++) x[j] += bias[j];
            for (int j = 0; j < H; j++)
            {
                T r = SigmoidScalar(x[j] + g[j]), z = SigmoidScalar(x[H + j] + g[H + j]);
                T hn = g[2 * H + j] + bhn[j];
                T n = T.Tanh(x[2 * H + j] + r * hn);
                x[j] = r; x[H + j] = z; x[2 * H + j] = n; g[2 * H + j] = hn;
                h[b * H + j] = n + z * (hPrev[b * H + j] - n);
            }
        }
    }

    /// <summary>
    /// Reset-after step backward. dh (batch, H): total gradient at h'. gx, gh, hPrev: as Forward left them.
    /// Writes dgx (batch, 3H) = [dr, dz, dn] at the pre-activations (the x side and b_ih), dgh (batch, 3H) =
    /// [dr, dz, dn⊙r] (the h·W_hhᵀ + b_hh side), and dhPrev = dh⊙z (dh on masked rows, whose dgx, dgh are 0).
    /// dBias (batch, 4H) or empty: [dr, dz, dn, dn⊙r] is added to it (per-row sums over the steps: the first 3H
    /// give b_ih's gradient, the r, z and last blocks b_hh's), while the values are in registers.
    /// </summary>
    public static void Backward<T>(Span<T> dgx, Span<T> dgh, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckAfterBack(dgx, dgh, dhPrev, dBias, dh, gx, gh, hPrev, mask, batch, hidden);
        int H = hidden;
        bool acc = !dBias.IsEmpty;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedRow(dgx, dgh, dhPrev, dh, b, H); continue; }
            ref T dx = ref R(dgx, b * 3 * H); ref T dg = ref R(dgh, b * 3 * H); ref T dhp = ref R(dhPrev, b * H);
            ref T d = ref R(dh, b * H); ref T x = ref R(gx, b * 3 * H); ref T g = ref R(gh, b * 3 * H); ref T hp = ref R(hPrev, b * H);
            ref T db = ref acc ? ref dBias[b * 4 * H] : ref dx; // not written without dBias
            nuint j = AfterBackSpan<T, VecOps<T>, Vector<T>>(ref dx, ref dg, ref dhp, ref db, acc, ref d, ref x, ref g, ref hp, (nuint)H, 0);
            AfterBackSpan<T, ScalarOps<T>, T>(ref dx, ref dg, ref dhp, ref db, acc, ref d, ref x, ref g, ref hp, (nuint)H, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint AfterBackSpan<T, TOps, TV>(ref T dx, ref T dg, ref T dhp, ref T db, bool acc, ref T d, ref T x, ref T g, ref T hp, nuint H, nuint j)
        where TOps : struct, IOps<T, TV>
    {
        var one = TOps.One;
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV r = TOps.Load(ref x, j), z = TOps.Load(ref x, H + j), n = TOps.Load(ref x, 2 * H + j);
            TV hn = TOps.Load(ref g, 2 * H + j), dhv = TOps.Load(ref d, j);
            var dn = TOps.Mul(TOps.Mul(dhv, TOps.Sub(one, z)), TOps.Sub(one, TOps.Mul(n, n)));
            var dz = TOps.Mul(TOps.Mul(dhv, TOps.Sub(TOps.Load(ref hp, j), n)), TOps.Mul(z, TOps.Sub(one, z)));
            var dr = TOps.Mul(TOps.Mul(dn, hn), TOps.Mul(r, TOps.Sub(one, r)));
            var dnr = TOps.Mul(dn, r);
            TOps.Store(dr, ref dx, j); TOps.Store(dz, ref dx, H + j); TOps.Store(dn, ref dx, 2 * H + j);
            TOps.Store(dr, ref dg, j); TOps.Store(dz, ref dg, H + j); TOps.Store(dnr, ref dg, 2 * H + j);
            TOps.Store(TOps.Mul(dhv, z), ref dhp, j);
            if (acc)
            {
                TOps.Store(TOps.Add(TOps.Load(ref db, j), dr), ref db, j);
                TOps.Store(TOps.Add(TOps.Load(ref db, H + j), dz), ref db, H + j);
                TOps.Store(TOps.Add(TOps.Load(ref db, 2 * H + j), dn), ref db, 2 * H + j);
                TOps.Store(TOps.Add(TOps.Load(ref db, 3 * H + j), dnr), ref db, 3 * H + j);
            }
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="Backward{T}"/>.</summary>
    public static void BackwardReference<T>(Span<T> dgx, Span<T> dgh, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckAfterBack(dgx, dgh, dhPrev, dBias, dh, gx, gh, hPrev, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedRow(dgx, dgh, dhPrev, dh, b, H); continue; }
            int o = b * 3 * H;
            for (int j = 0; j < H; j++)
            {
                T r = gx[o + j], z = gx[o + H + j], n = gx[o + 2 * H + j], hn = gh[o + 2 * H + j], d = dh[b * H + j];
                T dn = d * (T.One - z) * (T.One - n * n);
                T dz = d * (hPrev[b * H + j] - n) * z * (T.One - z);
                T dr = dn * hn * r * (T.One - r);
                dgx[o + j] = dr; dgx[o + H + j] = dz; dgx[o + 2 * H + j] = dn;
                dgh[o + j] = dr; dgh[o + H + j] = dz; dgh[o + 2 * H + j] = dn * r;
                dhPrev[b * H + j] = d * z;
                if (dBias.IsEmpty) continue;
                int q = b * 4 * H + j;
                dBias[q] += dr; dBias[q + H] += dz; dBias[q + 2 * H] += dn; dBias[q + 3 * H] += dn * r;
            }
        }
    }

    // ---------------- reset-before ----------------

    /// <summary>
    /// Reset-before, first half. gx (batch, 3H): r, z blocks hold x·W_ihᵀ + biases on entry, σ of (that + ghrz) on exit.
    /// ghrz (batch, 2H) = hin·W_hh[r,z]ᵀ. hin (batch, H): h_{t−1} as fed to the GEMMs. rh (batch, H) = r⊙hin, written.
    /// Every row is computed (the mask is applied in <see cref="ForwardCandidate{T}"/>).
    /// </summary>
    public static void ForwardGates<T>(Span<T> rh, Span<T> gx, ReadOnlySpan<T> ghrz, ReadOnlySpan<T> hin, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) { ForwardGatesReference(rh, gx, ghrz, hin, batch, hidden); return; }
        CheckGates(rh, gx, ghrz, hin, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            ref float x = ref F(gx, b * 3 * H); ref float g = ref F(ghrz, b * 2 * H);
            ref float hi = ref F(hin, b * H); ref float o = ref F(rh, b * H);
            nuint j = 0, n = (nuint)H;
            if (Vector512.IsHardwareAccelerated) j = GatesSpan<F512, Vector512<float>>(ref o, ref x, ref g, ref hi, n, j);
            if (Vector256.IsHardwareAccelerated) j = GatesSpan<F256, Vector256<float>>(ref o, ref x, ref g, ref hi, n, j);
            if (Vector128.IsHardwareAccelerated) j = GatesSpan<F128, Vector128<float>>(ref o, ref x, ref g, ref hi, n, j);
            GatesSpan<F1, float>(ref o, ref x, ref g, ref hi, n, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint GatesSpan<TOps, TV>(ref float rh, ref float x, ref float g, ref float hin, nuint H, nuint j)
        where TOps : struct, IActOps<TV>
    {
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            var r = TOps.Sigmoid(TOps.Add(TOps.Load(ref x, j), TOps.Load(ref g, j)));
            var z = TOps.Sigmoid(TOps.Add(TOps.Load(ref x, H + j), TOps.Load(ref g, H + j)));
            TOps.Store(r, ref x, j); TOps.Store(z, ref x, H + j);
            TOps.Store(TOps.Mul(r, TOps.Load(ref hin, j)), ref rh, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="ForwardGates{T}"/>.</summary>
    public static void ForwardGatesReference<T>(Span<T> rh, Span<T> gx, ReadOnlySpan<T> ghrz, ReadOnlySpan<T> hin, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGates(rh, gx, ghrz, hin, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < H; j++)
            {
                T r = SigmoidScalar(gx[b * 3 * H + j] + ghrz[b * 2 * H + j]);
                T z = SigmoidScalar(gx[b * 3 * H + H + j] + ghrz[b * 2 * H + H + j]);
                gx[b * 3 * H + j] = r; gx[b * 3 * H + H + j] = z;
                rh[b * H + j] = r * hin[b * H + j];
            }
    }

    /// <summary>
    /// Reset-before, second half. gx: n block holds x·W_inᵀ + b_in + b_hn on entry, n on exit (r, z already activated).
    /// ghn (batch, H) = (r⊙hin)·W_hnᵀ. h, hPrev (batch, H). Masked rows copy hPrev.
    /// </summary>
    public static void ForwardCandidate<T>(Span<T> h, Span<T> gx, ReadOnlySpan<T> ghn, ReadOnlySpan<T> hPrev,
        ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) { ForwardCandidateReference(h, gx, ghn, hPrev, mask, batch, hidden); return; }
        CheckCandidate(h, gx, ghn, hPrev, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { hPrev.Slice(b * H, H).CopyTo(h.Slice(b * H, H)); continue; }
            ref float x = ref F(gx, b * 3 * H); ref float g = ref F(ghn, b * H);
            ref float hp = ref F(hPrev, b * H); ref float hr = ref F(h, b * H);
            nuint j = 0, n = (nuint)H;
            if (Vector512.IsHardwareAccelerated) j = CandidateSpan<F512, Vector512<float>>(ref hr, ref x, ref g, ref hp, n, j);
            if (Vector256.IsHardwareAccelerated) j = CandidateSpan<F256, Vector256<float>>(ref hr, ref x, ref g, ref hp, n, j);
            if (Vector128.IsHardwareAccelerated) j = CandidateSpan<F128, Vector128<float>>(ref hr, ref x, ref g, ref hp, n, j);
            CandidateSpan<F1, float>(ref hr, ref x, ref g, ref hp, n, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint CandidateSpan<TOps, TV>(ref float h, ref float x, ref float g, ref float hp, nuint H, nuint j)
        where TOps : struct, IActOps<TV>
    {
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            var nv = TOps.Tanh(TOps.Add(TOps.Load(ref x, 2 * H + j), TOps.Load(ref g, j)));
            var z = TOps.Load(ref x, H + j);
            TOps.Store(nv, ref x, 2 * H + j);
            TOps.Store(TOps.Add(nv, TOps.Mul(z, TOps.Sub(TOps.Load(ref hp, j), nv))), ref h, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="ForwardCandidate{T}"/>.</summary>
    public static void ForwardCandidateReference<T>(Span<T> h, Span<T> gx, ReadOnlySpan<T> ghn, ReadOnlySpan<T> hPrev,
        ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckCandidate(h, gx, ghn, hPrev, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { hPrev.Slice(b * H, H).CopyTo(h.Slice(b * H, H)); continue; }
            for (int j = 0; j < H; j++)
            {
                int o = b * 3 * H;
                T n = T.Tanh(gx[o + 2 * H + j] + ghn[b * H + j]);
                gx[o + 2 * H + j] = n;
                h[b * H + j] = n + gx[o + H + j] * (hPrev[b * H + j] - n);
            }
        }
    }

    /// <summary>
    /// Reset-before backward, first half. dh (batch, H): total gradient at h'. Writes the z and n blocks of dgx
    /// (batch, 3H), dgn (batch, H) = dn (the gradient at (r⊙hin)·W_hnᵀ) and dhPrev = dh⊙z. Masked rows: dgx and
    /// dgn rows 0, dhPrev = dh. The caller then forms drh = dgn·W_hn and calls <see cref="BackwardReset{T}"/>.
    /// </summary>
    public static void BackwardCandidate<T>(Span<T> dgx, Span<T> dgn, Span<T> dhPrev, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckCandidateBack(dgx, dgn, dhPrev, dh, gx, hPrev, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedRow(dgx, dgn, dhPrev, dh, b, H); continue; }
            ref T dx = ref R(dgx, b * 3 * H); ref T dn = ref R(dgn, b * H); ref T dhp = ref R(dhPrev, b * H);
            ref T d = ref R(dh, b * H); ref T x = ref R(gx, b * 3 * H); ref T hp = ref R(hPrev, b * H);
            nuint j = CandBackSpan<T, VecOps<T>, Vector<T>>(ref dx, ref dn, ref dhp, ref d, ref x, ref hp, (nuint)H, 0);
            CandBackSpan<T, ScalarOps<T>, T>(ref dx, ref dn, ref dhp, ref d, ref x, ref hp, (nuint)H, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint CandBackSpan<T, TOps, TV>(ref T dx, ref T dgn, ref T dhp, ref T d, ref T x, ref T hp, nuint H, nuint j)
        where TOps : struct, IOps<T, TV>
    {
        var one = TOps.One;
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV z = TOps.Load(ref x, H + j), n = TOps.Load(ref x, 2 * H + j), dhv = TOps.Load(ref d, j);
            var dn = TOps.Mul(TOps.Mul(dhv, TOps.Sub(one, z)), TOps.Sub(one, TOps.Mul(n, n)));
            var dz = TOps.Mul(TOps.Mul(dhv, TOps.Sub(TOps.Load(ref hp, j), n)), TOps.Mul(z, TOps.Sub(one, z)));
            TOps.Store(dz, ref dx, H + j); TOps.Store(dn, ref dx, 2 * H + j); TOps.Store(dn, ref dgn, j);
            TOps.Store(TOps.Mul(dhv, z), ref dhp, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="BackwardCandidate{T}"/>.</summary>
    public static void BackwardCandidateReference<T>(Span<T> dgx, Span<T> dgn, Span<T> dhPrev, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckCandidateBack(dgx, dgn, dhPrev, dh, gx, hPrev, mask, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            if (!mask.IsEmpty && mask[b] == T.Zero) { MaskedRow(dgx, dgn, dhPrev, dh, b, H); continue; }
            int o = b * 3 * H;
            for (int j = 0; j < H; j++)
            {
                T z = gx[o + H + j], n = gx[o + 2 * H + j], d = dh[b * H + j];
                T dn = d * (T.One - z) * (T.One - n * n);
                dgx[o + H + j] = d * (hPrev[b * H + j] - n) * z * (T.One - z);
                dgx[o + 2 * H + j] = dn; dgn[b * H + j] = dn;
                dhPrev[b * H + j] = d * z;
            }
        }
    }

    /// <summary>
    /// Reset-before backward, second half (every row; masked rows arrive with zero drh and dgx). drh (batch, H):
    /// gradient at r⊙hin. Writes dgx's r block and dgrz (batch, 2H) = [dr, dz] (the compact copy the W_hh[r,z]
    /// GEMMs read), and accumulates dhin += drh⊙r.
    /// </summary>
    public static void BackwardReset<T>(Span<T> dgx, Span<T> dgrz, Span<T> dhin, ReadOnlySpan<T> drh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hin, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckResetBack(dgx, dgrz, dhin, drh, gx, hin, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
        {
            ref T dx = ref R(dgx, b * 3 * H); ref T drz = ref R(dgrz, b * 2 * H); ref T dhi = ref R(dhin, b * H);
            ref T d = ref R(drh, b * H); ref T x = ref R(gx, b * 3 * H); ref T hi = ref R(hin, b * H);
            nuint j = ResetBackSpan<T, VecOps<T>, Vector<T>>(ref dx, ref drz, ref dhi, ref d, ref x, ref hi, (nuint)H, 0);
            ResetBackSpan<T, ScalarOps<T>, T>(ref dx, ref drz, ref dhi, ref d, ref x, ref hi, (nuint)H, j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint ResetBackSpan<T, TOps, TV>(ref T dx, ref T drz, ref T dhi, ref T d, ref T x, ref T hi, nuint H, nuint j)
        where TOps : struct, IOps<T, TV>
    {
        var one = TOps.One;
        for (nuint w = (nuint)TOps.Count; j + w <= H; j += w)
        {
            TV r = TOps.Load(ref x, j), drhv = TOps.Load(ref d, j);
            var dr = TOps.Mul(TOps.Mul(drhv, TOps.Load(ref hi, j)), TOps.Mul(r, TOps.Sub(one, r)));
            TOps.Store(dr, ref dx, j); TOps.Store(dr, ref drz, j); TOps.Store(TOps.Load(ref dx, H + j), ref drz, H + j);
            TOps.Store(TOps.Add(TOps.Load(ref dhi, j), TOps.Mul(drhv, r)), ref dhi, j);
        }
        return j;
    }

    /// <summary>Scalar reference for <see cref="BackwardReset{T}"/>.</summary>
    public static void BackwardResetReference<T>(Span<T> dgx, Span<T> dgrz, Span<T> dhin, ReadOnlySpan<T> drh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hin, int batch, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckResetBack(dgx, dgrz, dhin, drh, gx, hin, batch, hidden);
        int H = hidden;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < H; j++)
            {
                int o = b * 3 * H, k = b * H + j;
                T r = gx[o + j];
                T dr = drh[k] * hin[k] * r * (T.One - r);
                dgx[o + j] = dr;
                dgrz[b * 2 * H + j] = dr; dgrz[b * 2 * H + H + j] = dgx[o + H + j];
                dhin[k] += drh[k] * r;
            }
    }

    // ---------------- helpers ----------------

    private static void MaskedRow<T>(Span<T> d3, Span<T> dOther, Span<T> dhPrev, ReadOnlySpan<T> dh, int b, int H) where T : unmanaged
    {
        d3.Slice(b * 3 * H, 3 * H).Clear();
        int w = dOther.Length / dh.Length * H; // 3H for dgh, H for dgn
        dOther.Slice(b * w, w).Clear();
        dh.Slice(b * H, H).CopyTo(dhPrev.Slice(b * H, H));
    }

    private static ref float F<T>(ReadOnlySpan<T> s, int offset) where T : unmanaged
        => ref Unsafe.Add(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(s)), offset);

    private static ref T R<T>(ReadOnlySpan<T> s, int offset) where T : unmanaged
        => ref Unsafe.Add(ref MemoryMarshal.GetReference(s), offset);

    private static void Len(int actual, int expected, string name) => LstmCell.Len(actual, expected, name);

    private static void CheckAfter<T>(Span<T> h, Span<T> gx, Span<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> bhn,
        ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        if (!bias.IsEmpty) Len(bias.Length, 3 * hidden, nameof(bias));
        Len(h.Length, bh, nameof(h)); Len(gx.Length, 3 * bh, nameof(gx)); Len(gh.Length, 3 * bh, nameof(gh));
        Len(hPrev.Length, bh, nameof(hPrev)); Len(bhn.Length, hidden, nameof(bhn));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckAfterBack<T>(Span<T> dgx, Span<T> dgh, Span<T> dhPrev, Span<T> dBias, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> gh, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        if (!dBias.IsEmpty) Len(dBias.Length, 4 * bh, nameof(dBias));
        Len(dgx.Length, 3 * bh, nameof(dgx)); Len(dgh.Length, 3 * bh, nameof(dgh)); Len(dhPrev.Length, bh, nameof(dhPrev));
        Len(dh.Length, bh, nameof(dh)); Len(gx.Length, 3 * bh, nameof(gx)); Len(gh.Length, 3 * bh, nameof(gh));
        Len(hPrev.Length, bh, nameof(hPrev));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckGates<T>(Span<T> rh, Span<T> gx, ReadOnlySpan<T> ghrz, ReadOnlySpan<T> hin, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        Len(rh.Length, bh, nameof(rh)); Len(gx.Length, 3 * bh, nameof(gx)); Len(ghrz.Length, 2 * bh, nameof(ghrz)); Len(hin.Length, bh, nameof(hin));
    }

    private static void CheckCandidate<T>(Span<T> h, Span<T> gx, ReadOnlySpan<T> ghn, ReadOnlySpan<T> hPrev,
        ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        Len(h.Length, bh, nameof(h)); Len(gx.Length, 3 * bh, nameof(gx)); Len(ghn.Length, bh, nameof(ghn)); Len(hPrev.Length, bh, nameof(hPrev));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckCandidateBack<T>(Span<T> dgx, Span<T> dgn, Span<T> dhPrev, ReadOnlySpan<T> dh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> mask, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        Len(dgx.Length, 3 * bh, nameof(dgx)); Len(dgn.Length, bh, nameof(dgn)); Len(dhPrev.Length, bh, nameof(dhPrev));
        Len(dh.Length, bh, nameof(dh)); Len(gx.Length, 3 * bh, nameof(gx)); Len(hPrev.Length, bh, nameof(hPrev));
        if (!mask.IsEmpty) Len(mask.Length, batch, nameof(mask));
    }

    private static void CheckResetBack<T>(Span<T> dgx, Span<T> dgrz, Span<T> dhin, ReadOnlySpan<T> drh,
        ReadOnlySpan<T> gx, ReadOnlySpan<T> hin, int batch, int hidden) where T : unmanaged
    {
        int bh = batch * hidden;
        Len(dgx.Length, 3 * bh, nameof(dgx)); Len(dgrz.Length, 2 * bh, nameof(dgrz)); Len(dhin.Length, bh, nameof(dhin));
        Len(drh.Length, bh, nameof(drh)); Len(gx.Length, 3 * bh, nameof(gx)); Len(hin.Length, bh, nameof(hin));
    }
}
