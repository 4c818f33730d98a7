using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rnn.Kernels;

/// <summary>
/// The one float tanh and sigmoid of the library, on every lane width (Vector512, Vector256, Vector128, scalar):
/// tanh as a rational function and σ(x) = (1 + tanh(x/2))/2. Error bound: absolute, below 1e-6 everywhere (the
/// tests' bar, against double precision; measured 3.1e-7 for tanh, 1.7e-7 for σ). σ's relative error grows in its
/// negative tail (1e-3 near x = −8; 0 below about −16), where an exp-based form stays relatively exact. Limits
/// exact (±1, 0, 1), NaN propagates. Each width does the same
/// operations in the same order (fused multiply-adds, one division, clamps that pass NaN), so a given input gives
/// the same bits whichever width, and whichever kernel, computes it. <see cref="TanhOperator"/> and
/// <see cref="SigmoidOperator"/> wrap these for the cells and <see cref="Activations"/>; double runs T.Tanh and
/// the stable scalar sigmoid instead.
/// </summary>
internal static class CellMath
{
    // tanh(x) ≈ x·P(x²)/Q(x²) on [−9, 9], P of degree 5 and Q of degree 3 in x², fitted here for the least maximum
    // error (5e-8 in exact arithmetic, ≈ 4e-7 evaluated in float); beyond ±9 tanh rounds to ±1 in float. One
    // division and 9 multiply-adds: half the work of an exp-based form, which the cells spend most of their time in.
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

    /// <summary>tanh(x), 8 lanes: as the 16-lane form.</summary>
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

    /// <summary>tanh(x), 4 lanes: as the 16-lane form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        x = Vector128.MinNative(Vector128.Create(TanhClamp), Vector128.MaxNative(Vector128.Create(-TanhClamp), x));
        var s = x * x;
        var p = Vector128.FusedMultiplyAdd(Vector128.Create(TA5), s, Vector128.Create(TA4));
        p = Vector128.FusedMultiplyAdd(p, s, Vector128.Create(TA3));
        p = Vector128.FusedMultiplyAdd(p, s, Vector128.Create(TA2));
        p = Vector128.FusedMultiplyAdd(p, s, Vector128.Create(TA1));
        p = Vector128.FusedMultiplyAdd(p, s, Vector128.Create(TA0));
        var q = Vector128.FusedMultiplyAdd(Vector128.Create(TB3), s, Vector128.Create(TB2));
        q = Vector128.FusedMultiplyAdd(q, s, Vector128.Create(TB1));
        q = Vector128.FusedMultiplyAdd(q, s, Vector128<float>.One);
        var r = x * p / q;
        return Vector128.MinNative(Vector128<float>.One, Vector128.MaxNative(-Vector128<float>.One, r));
    }

    /// <summary>tanh(x), one lane: as the 16-lane form (MathF.FusedMultiplyAdd rounds once, as the vector FMA does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        // c > x ? c : x is x86's max(c, x), NaN included; the JIT never contracts a·b + c, so only the FMAs fuse.
        x = -TanhClamp > x ? -TanhClamp : x;
        x = TanhClamp < x ? TanhClamp : x;
        float s = x * x;
        float p = MathF.FusedMultiplyAdd(TA5, s, TA4);
        p = MathF.FusedMultiplyAdd(p, s, TA3);
        p = MathF.FusedMultiplyAdd(p, s, TA2);
        p = MathF.FusedMultiplyAdd(p, s, TA1);
        p = MathF.FusedMultiplyAdd(p, s, TA0);
        float q = MathF.FusedMultiplyAdd(TB3, s, TB2);
        q = MathF.FusedMultiplyAdd(q, s, TB1);
        q = MathF.FusedMultiplyAdd(q, s, 1f);
        float r = x * p / q;
        r = -1f > r ? -1f : r;
        return 1f < r ? 1f : r;
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

    /// <summary>σ(x) = (1 + tanh(x/2))/2, 4 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> x)
    {
        var h = Vector128.Create(0.5f);
        return Vector128.FusedMultiplyAdd(Tanh(x * h), h, h);
    }

    /// <summary>σ(x) = (1 + tanh(x/2))/2, one lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => MathF.FusedMultiplyAdd(Tanh(x * 0.5f), 0.5f, 0.5f);

    /// <summary>y = tanh(x) over spans (y may alias x): the one operator loop, every lane the same function.</summary>
    public static void Tanh(Span<float> y, ReadOnlySpan<float> x) => Operators.Map<TanhOperator>(y, x);
}
