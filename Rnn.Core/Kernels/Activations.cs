using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rnn.Kernels;

/// <summary>The nonlinearities a layer can use.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    Linear,
    /// <summary>tanh.</summary>
    Tanh,
    /// <summary>Logistic sigmoid.</summary>
    Sigmoid,
    /// <summary>max(0, x).</summary>
    Relu,
}

/// <summary>
/// Vectorised tanh, sigmoid and relu, and their derivatives computed from the outputs
/// (σ' = σ(1−σ), tanh' = 1−tanh²), which is all the tape stores.
/// The float path uses <c>Vector512/256/128.Exp</c> (TensorPrimitives-style operator structs, one generic loop);
/// the double path is the scalar reference, so gradient checks run on exact math.
/// In-place use (y and x the same span) is allowed.
/// </summary>
public static class Activations
{
    /// <summary>y = f(x) for the given activation.</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> x, Activation f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (f)
        {
            case Activation.Tanh: Tanh(y, x); break;
            case Activation.Sigmoid: Sigmoid(y, x); break;
            case Activation.Relu: Relu(y, x); break;
            default: if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(y), ref MemoryMarshal.GetReference(x))) x.CopyTo(y); break;
        }
    }

    /// <summary>dx = dy·f'(from y), overwriting dx (dx may alias dy).</summary>
    public static void Backward<T>(Span<T> dx, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Activation f) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(dx.Length, y.Length); Same(dx.Length, dy.Length);
        switch (f)
        {
            case Activation.Tanh: for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * (T.One - y[i] * y[i]); break;
            case Activation.Sigmoid: for (int i = 0; i < dx.Length; i++) dx[i] = dy[i] * y[i] * (T.One - y[i]); break;
            case Activation.Relu: for (int i = 0; i < dx.Length; i++) dx[i] = y[i] > T.Zero ? dy[i] : T.Zero; break;
            default: if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(dx), ref MemoryMarshal.GetReference(dy))) dy.CopyTo(dx); break;
        }
    }

    /// <summary>y = tanh(x).</summary>
    public static void Tanh<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Map<TanhOp>(Cast(y), CastRo(x));
        else TanhReference(y, x);
    }

    /// <summary>y = σ(x) = 1/(1+e^−x).</summary>
    public static void Sigmoid<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Map<SigmoidOp>(Cast(y), CastRo(x));
        else SigmoidReference(y, x);
    }

    /// <summary>y = max(0, x); NaN stays NaN.</summary>
    public static void Relu<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Map<ReluOp>(Cast(y), CastRo(x));
        else ReluReference(y, x);
    }

    /// <summary>Scalar reference: Math.Tanh.</summary>
    public static void TanhReference<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        for (int i = 0; i < y.Length; i++) y[i] = T.Tanh(x[i]);
    }

    /// <summary>Scalar reference: 1/(1+e^−x), written to stay finite for large |x|.</summary>
    public static void SigmoidReference<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        for (int i = 0; i < y.Length; i++) y[i] = SigmoidScalar(x[i]);
    }

    /// <summary>Scalar reference for relu.</summary>
    public static void ReluReference<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Same(y.Length, x.Length);
        for (int i = 0; i < y.Length; i++) y[i] = x[i] < T.Zero ? T.Zero : x[i];
    }

    /// <summary>σ(x) for one value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T SigmoidScalar<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x >= T.Zero) return T.One / (T.One + T.Exp(-x));
        T e = T.Exp(x);
        return e / (T.One + e);
    }

    // ---- the float operator structs and the one loop that runs them ----

    internal interface IUnaryOp
    {
        static abstract float Invoke(float x);
        static abstract Vector128<float> Invoke(Vector128<float> x);
        static abstract Vector256<float> Invoke(Vector256<float> x);
        static abstract Vector512<float> Invoke(Vector512<float> x);
    }

    internal readonly struct SigmoidOp : IUnaryOp
    {
        // exp(-x) overflows to +inf for x < -88: 1/(1+inf) = 0, the right limit; NaN propagates.
        public static float Invoke(float x) => 1f / (1f + MathF.Exp(-x));
        public static Vector128<float> Invoke(Vector128<float> x) => Vector128<float>.One / (Vector128<float>.One + Vector128.Exp(-x));
        public static Vector256<float> Invoke(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));
        public static Vector512<float> Invoke(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));
    }

    internal readonly struct TanhOp : IUnaryOp
    {
        // tanh(x) = 1 − 2/(e^{2x}+1): exact limits ±1 at saturation (e^{2x} → inf or 0), NaN propagates.
        public static float Invoke(float x) => 1f - 2f / (MathF.Exp(2f * x) + 1f);
        public static Vector128<float> Invoke(Vector128<float> x)
            => Vector128<float>.One - Vector128.Create(2f) / (Vector128.Exp(x + x) + Vector128<float>.One);
        public static Vector256<float> Invoke(Vector256<float> x)
            => Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(x + x) + Vector256<float>.One);
        public static Vector512<float> Invoke(Vector512<float> x)
            => Vector512<float>.One - Vector512.Create(2f) / (Vector512.Exp(x + x) + Vector512<float>.One);
    }

    internal readonly struct ReluOp : IUnaryOp
    {
        public static float Invoke(float x) => x < 0f ? 0f : x;
        // Max(x, 0) would turn NaN into 0 on some ISAs; select keeps NaN (x < 0 is false for NaN).
        public static Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128<float>.Zero, x);
        public static Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256<float>.Zero, x);
        public static Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512<float>.Zero, x);
    }

    /// <summary>
    /// y[i] = Op(x[i]). Widest accelerated vector first; the last vector overlaps the previous one
    /// rather than falling to scalar (safe because the op is elementwise and x is read before y is written
    /// within one vector; for in-place use the overlap recomputes from already-written values, so in-place
    /// falls back to a scalar tail).
    /// </summary>
    internal static void Map<TOp>(Span<float> y, ReadOnlySpan<float> x) where TOp : struct, IUnaryOp
    {
        Same(y.Length, x.Length);
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint w = (nuint)Vector512<float>.Count;
            for (; i + w <= n; i += w) TOp.Invoke(Vector512.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        }
        if (Vector256.IsHardwareAccelerated && n - i >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            for (; i + w <= n; i += w) TOp.Invoke(Vector256.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        }
        if (Vector128.IsHardwareAccelerated && n - i >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            for (; i + w <= n; i += w) TOp.Invoke(Vector128.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        }
        for (; i < n; i++) Unsafe.Add(ref ry, i) = TOp.Invoke(Unsafe.Add(ref rx, i));
    }

    private static Span<float> Cast<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);
    private static ReadOnlySpan<float> CastRo<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    private static void Same(int a, int b)
    {
        if (a != b) throw new ArgumentException($"length mismatch: expected {a}, got {b}.");
    }
}
