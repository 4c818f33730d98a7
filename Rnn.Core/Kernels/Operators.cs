using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rnn.Kernels;

// The one kernel convention (TensorPrimitives style): an elementwise float op is a struct with an Invoke per lane
// width, run by one generic loop (Operators.Map); a fused kernel writes its body once over a width struct
// (IOps, IActOps) and runs it for Vector512, Vector256, Vector128 and then one lane at a time. Every width calls
// the same operator, so a float input gives the same bits whichever width or kernel (cell, Activations) computes it.

/// <summary>A float elementwise op on every lane width; each Invoke gives the same bits for the same input.</summary>
internal interface IUnaryOperator
{
    static abstract float Invoke(float x);
    static abstract Vector128<float> Invoke(Vector128<float> x);
    static abstract Vector256<float> Invoke(Vector256<float> x);
    static abstract Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>tanh: <see cref="CellMath"/>'s rational form, |error| &lt; 1e-6.</summary>
internal readonly struct TanhOperator : IUnaryOperator
{
    public static float Invoke(float x) => CellMath.Tanh(x);
    public static Vector128<float> Invoke(Vector128<float> x) => CellMath.Tanh(x);
    public static Vector256<float> Invoke(Vector256<float> x) => CellMath.Tanh(x);
    public static Vector512<float> Invoke(Vector512<float> x) => CellMath.Tanh(x);
}

/// <summary>σ(x) = (1 + tanh(x/2))/2 on <see cref="CellMath"/>'s tanh, |error| &lt; 1e-6.</summary>
internal readonly struct SigmoidOperator : IUnaryOperator
{
    public static float Invoke(float x) => CellMath.Sigmoid(x);
    public static Vector128<float> Invoke(Vector128<float> x) => CellMath.Sigmoid(x);
    public static Vector256<float> Invoke(Vector256<float> x) => CellMath.Sigmoid(x);
    public static Vector512<float> Invoke(Vector512<float> x) => CellMath.Sigmoid(x);
}

/// <summary>max(0, x), NaN kept: a select on x &lt; 0 (false for NaN) rather than Max, which turns NaN into 0 on some ISAs.</summary>
internal readonly struct ReluOperator : IUnaryOperator
{
    public static float Invoke(float x) => x < 0f ? 0f : x;
    public static Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), Vector128<float>.Zero, x);
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), Vector256<float>.Zero, x);
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), Vector512<float>.Zero, x);
}

/// <summary>Arithmetic on a vector (or scalar) TV of T, so one loop body serves every width.</summary>
internal interface IOps<T, TV>
{
    static abstract int Count { get; }
    static abstract TV One { get; }
    static abstract TV Create(T v);
    static abstract TV Load(ref T p, nuint i);
    static abstract void Store(TV v, ref T p, nuint i);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    /// <summary>v clamped to [lo, hi] as <see cref="Vec.Clip{T}"/> does (NaN kept).</summary>
    static abstract TV Clip(TV v, TV lo, TV hi);
    /// <summary>y &gt; 0 ? d : 0, the relu derivative from the output.</summary>
    static abstract TV WherePositive(TV y, TV d);
}

/// <summary>Float operations plus the library's one sigmoid and tanh (<see cref="SigmoidOperator"/>, <see cref="TanhOperator"/>).</summary>
internal interface IActOps<TV> : IOps<float, TV>
{
    static abstract TV Sigmoid(TV x);
    static abstract TV Tanh(TV x);
}

internal readonly struct VecOps<T> : IOps<T, Vector<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector<T>.Count;
    public static Vector<T> One => Vector<T>.One;
    public static Vector<T> Create(T v) => new(v);
    public static Vector<T> Load(ref T p, nuint i) => Vector.LoadUnsafe(ref p, i);
    public static void Store(Vector<T> v, ref T p, nuint i) => v.StoreUnsafe(ref p, i);
    public static Vector<T> Add(Vector<T> a, Vector<T> b) => a + b;
    public static Vector<T> Sub(Vector<T> a, Vector<T> b) => a - b;
    public static Vector<T> Mul(Vector<T> a, Vector<T> b) => a * b;
    public static Vector<T> Clip(Vector<T> v, Vector<T> lo, Vector<T> hi)
        => Vector.ConditionalSelect(Vector.LessThan(v, lo), lo, Vector.ConditionalSelect(Vector.GreaterThan(v, hi), hi, v));
    public static Vector<T> WherePositive(Vector<T> y, Vector<T> d) => Vector.ConditionalSelect(Vector.GreaterThan(y, Vector<T>.Zero), d, Vector<T>.Zero);
}

internal readonly struct ScalarOps<T> : IOps<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => 1;
    public static T One => T.One;
    public static T Create(T v) => v;
    public static T Load(ref T p, nuint i) => Unsafe.Add(ref p, i);
    public static void Store(T v, ref T p, nuint i) => Unsafe.Add(ref p, i) = v;
    public static T Add(T a, T b) => a + b;
    public static T Sub(T a, T b) => a - b;
    public static T Mul(T a, T b) => a * b;
    public static T Clip(T v, T lo, T hi) => v > hi ? hi : v < lo ? lo : v;
    public static T WherePositive(T y, T d) => y > T.Zero ? d : T.Zero;
}

internal readonly struct F512 : IActOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> One => Vector512<float>.One;
    public static Vector512<float> Create(float v) => Vector512.Create(v);
    public static Vector512<float> Load(ref float p, nuint i) => Vector512.LoadUnsafe(ref p, i);
    public static void Store(Vector512<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    public static Vector512<float> Clip(Vector512<float> v, Vector512<float> lo, Vector512<float> hi)
        => Vector512.ConditionalSelect(Vector512.LessThan(v, lo), lo, Vector512.ConditionalSelect(Vector512.GreaterThan(v, hi), hi, v));
    public static Vector512<float> WherePositive(Vector512<float> y, Vector512<float> d) => Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), d, Vector512<float>.Zero);
    public static Vector512<float> Sigmoid(Vector512<float> x) => SigmoidOperator.Invoke(x);
    public static Vector512<float> Tanh(Vector512<float> x) => TanhOperator.Invoke(x);
}

internal readonly struct F256 : IActOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> One => Vector256<float>.One;
    public static Vector256<float> Create(float v) => Vector256.Create(v);
    public static Vector256<float> Load(ref float p, nuint i) => Vector256.LoadUnsafe(ref p, i);
    public static void Store(Vector256<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    public static Vector256<float> Clip(Vector256<float> v, Vector256<float> lo, Vector256<float> hi)
        => Vector256.ConditionalSelect(Vector256.LessThan(v, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(v, hi), hi, v));
    public static Vector256<float> WherePositive(Vector256<float> y, Vector256<float> d) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), d, Vector256<float>.Zero);
    public static Vector256<float> Sigmoid(Vector256<float> x) => SigmoidOperator.Invoke(x);
    public static Vector256<float> Tanh(Vector256<float> x) => TanhOperator.Invoke(x);
}

internal readonly struct F128 : IActOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static Vector128<float> One => Vector128<float>.One;
    public static Vector128<float> Create(float v) => Vector128.Create(v);
    public static Vector128<float> Load(ref float p, nuint i) => Vector128.LoadUnsafe(ref p, i);
    public static void Store(Vector128<float> v, ref float p, nuint i) => v.StoreUnsafe(ref p, i);
    public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    public static Vector128<float> Clip(Vector128<float> v, Vector128<float> lo, Vector128<float> hi)
        => Vector128.ConditionalSelect(Vector128.LessThan(v, lo), lo, Vector128.ConditionalSelect(Vector128.GreaterThan(v, hi), hi, v));
    public static Vector128<float> WherePositive(Vector128<float> y, Vector128<float> d) => Vector128.ConditionalSelect(Vector128.GreaterThan(y, Vector128<float>.Zero), d, Vector128<float>.Zero);
    public static Vector128<float> Sigmoid(Vector128<float> x) => SigmoidOperator.Invoke(x);
    public static Vector128<float> Tanh(Vector128<float> x) => TanhOperator.Invoke(x);
}

internal readonly struct F1 : IActOps<float>
{
    public static int Count => 1;
    public static float One => 1f;
    public static float Create(float v) => v;
    public static float Load(ref float p, nuint i) => Unsafe.Add(ref p, i);
    public static void Store(float v, ref float p, nuint i) => Unsafe.Add(ref p, i) = v;
    public static float Add(float a, float b) => a + b;
    public static float Sub(float a, float b) => a - b;
    public static float Mul(float a, float b) => a * b;
    public static float Clip(float v, float lo, float hi) => v > hi ? hi : v < lo ? lo : v;
    public static float WherePositive(float y, float d) => y > 0f ? d : 0f;
    public static float Sigmoid(float x) => SigmoidOperator.Invoke(x);
    public static float Tanh(float x) => TanhOperator.Invoke(x);
}

/// <summary>The loop that runs an <see cref="IUnaryOperator"/> over spans.</summary>
internal static class Operators
{
    /// <summary>
    /// y[i] = Op(x[i]) (y may alias x): the widest accelerated vector first, then narrower ones, then one lane at
    /// a time. Every width gives the same bits, so where an element lands does not change its value.
    /// </summary>
    public static void Map<TOp>(Span<float> y, ReadOnlySpan<float> x) where TOp : struct, IUnaryOperator
    {
        if (y.Length != x.Length) throw new ArgumentException($"length mismatch: expected {x.Length}, got {y.Length}.", nameof(y));
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) TOp.Invoke(Vector512.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) TOp.Invoke(Vector256.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        if (Vector128.IsHardwareAccelerated)
            for (; i + 4 <= n; i += 4) TOp.Invoke(Vector128.LoadUnsafe(ref rx, i)).StoreUnsafe(ref ry, i);
        for (; i < n; i++) Unsafe.Add(ref ry, i) = TOp.Invoke(Unsafe.Add(ref rx, i));
    }
}
