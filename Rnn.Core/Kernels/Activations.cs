using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
/// The float path runs the library's one tanh and sigmoid (<see cref="TanhOperator"/>, <see cref="SigmoidOperator"/>:
/// <see cref="CellMath"/>'s rational tanh, |error| &lt; 1e-6) in the one operator loop, so it gives the cells' bits;
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
        if (typeof(T) == typeof(float)) Operators.Map<TanhOperator>(Cast(y), CastRo(x));
        else TanhReference(y, x);
    }

    /// <summary>y = σ(x) = 1/(1+e^−x) (float: (1 + tanh(x/2))/2).</summary>
    public static void Sigmoid<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Operators.Map<SigmoidOperator>(Cast(y), CastRo(x));
        else SigmoidReference(y, x);
    }

    /// <summary>y = max(0, x); NaN stays NaN.</summary>
    public static void Relu<T>(Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Operators.Map<ReluOperator>(Cast(y), CastRo(x));
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

    private static Span<float> Cast<T>(Span<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);
    private static ReadOnlySpan<float> CastRo<T>(ReadOnlySpan<T> s) where T : unmanaged => MemoryMarshal.Cast<T, float>(s);

    private static void Same(int a, int b)
    {
        if (a != b) throw new ArgumentException($"length mismatch: expected {a}, got {b}.");
    }
}
