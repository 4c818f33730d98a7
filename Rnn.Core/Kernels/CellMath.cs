using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Kernels;

/// <summary>
/// Float sigmoid and tanh for the fused cell kernels (LSTM, GRU, the tanh RNN): tanh as a rational function and
/// σ(x) = (1 + tanh(x/2))/2, absolute error below 1e-6 everywhere (tests: against double precision), limits
/// exact (±1, 0, 1), NaN propagates. <see cref="Activations"/>' operators, built on the runtime's Vector512.Exp
/// (which widens to double), are the reference in the tests.
/// </summary>
internal static class CellMath
{
    // tanh(x) ≈ x·P(x²)/Q(x²) on [−9, 9], P of degree 5 and Q of degree 3 in x², fitted here for the least maximum
    // error (5e-8 in exact arithmetic, ≈ 4e-7 evaluated in float); beyond ±9 tanh rounds to ±1 in float. One
    // division and 9 multiply-adds: half the work of the exp-based form, which the cells spend most of their time in.
    private const float TanhClamp = 9f;
    private const float TA0 = 0.9999997615814209f, TA1 = 0.12910664081573486f, TA2 = 0.002911974908784032f,
        TA3 = 9.194924132316373e-06f, TA4 = -1.2590837705772628e-08f, TA5 = 1.78376133308511e-11f;
    private const float TB1 = 0.4624389708042145f, TB2 = 0.02372608706355095f, TB3 = 0.00022693841310683638f;

    /// <summary>tanh(x), 16 lanes: the rational form above, clamped to [−1, 1]; NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        // MaxNative(c, x) returns x when x is NaN (x86 max returns its second operand then), so NaN passes the clamps.
        x = Vector512.MinNative(Vector512.Create(TanhClamp), Vector512.MaxNative(Vector512.Create(-TanhClamp), x));
        var s = x * x;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(TA5), s, Vector512.Create(TA4));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(TA3));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(TA2));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(TA1));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(TA0));
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(TB3), s, Vector512.Create(TB2));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512.Create(TB1));
        q = Vector512.FusedMultiplyAdd(q, s, Vector512<float>.One);
        var r = x * p / q;
        return Vector512.MinNative(Vector512<float>.One, Vector512.MaxNative(-Vector512<float>.One, r));
    }

    /// <summary>tanh(x), 8 lanes: the rational form above, clamped to [−1, 1]; NaN propagates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        x = Vector256.MinNative(Vector256.Create(TanhClamp), Vector256.MaxNative(Vector256.Create(-TanhClamp), x));
        var s = x * x;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(TA5), s, Vector256.Create(TA4));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(TA3));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(TA2));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(TA1));
        p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(TA0));
        var q = Vector256.FusedMultiplyAdd(Vector256.Create(TB3), s, Vector256.Create(TB2));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256.Create(TB1));
        q = Vector256.FusedMultiplyAdd(q, s, Vector256<float>.One);
        var r = x * p / q;
        return Vector256.MinNative(Vector256<float>.One, Vector256.MaxNative(-Vector256<float>.One, r));
    }

    /// <summary>σ(x) = (1 + tanh(x/2))/2, 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x)
    {
        var h = Vector512.Create(0.5f);
        return Vector512.FusedMultiplyAdd(Tanh(x * h), h, h);
    }

    /// <summary>σ(x) = (1 + tanh(x/2))/2, 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x)
    {
        var h = Vector256.Create(0.5f);
        return Vector256.FusedMultiplyAdd(Tanh(x * h), h, h);
    }

    /// <summary>y = tanh(x) over spans (y may alias x): 16 or 8 lanes where accelerated, then the Activations loop for the rest.</summary>
    public static void Tanh(Span<float> y, ReadOnlySpan<float> x)
    {
        int n = x.Length, i = 0;
        ref float rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float ry = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) Tanh(Vector512.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Tanh(Vector256.LoadUnsafe(ref rx, (nuint)i)).StoreUnsafe(ref ry, (nuint)i);
        if (i < n) Activations.Tanh<float>(y[i..n], x[i..n]);
    }
}
