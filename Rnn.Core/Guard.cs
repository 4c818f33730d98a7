using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Rnn;

/// <summary>
/// Argument checks shared by every public entry point. Each failure names the argument,
/// the expected value and the actual one, so a caller can fix the call without a debugger.
/// </summary>
public static class Guard
{
    /// <summary>
    /// Throws unless <paramref name="actual"/> equals <paramref name="expected"/>. The shape text is an interpolated
    /// string that is only formatted when the check fails, so a passing check allocates nothing.
    /// </summary>
    public static void Length(int actual, int expected,
        [InterpolatedStringHandlerArgument(nameof(actual), nameof(expected))] ref ShapeText shape,
        [CallerArgumentExpression(nameof(actual))] string? name = null)
    {
        if (actual != expected) Length(actual, expected, shape.ToStringAndClear(), name);
    }

    /// <summary>Throws unless <paramref name="actual"/> equals <paramref name="expected"/>.</summary>
    public static void Length(int actual, int expected, string shape,
        [CallerArgumentExpression(nameof(actual))] string? name = null)
    {
        if (actual != expected)
        {
            // Called as Guard.Length(x.Length, ...): report the argument "x".
            string arg = Clean(name);
            if (arg.EndsWith(".Length", StringComparison.Ordinal)) arg = arg[..^7];
            throw new ArgumentException($"{arg}: expected {expected} elements for shape {shape}, got {actual}.", arg);
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is at least <paramref name="min"/>.</summary>
    public static void AtLeast(int value, int min, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(Clean(name), value, $"{Clean(name)}: expected >= {min}, got {value}.");
    }

    /// <summary>Throws when any element is NaN or infinite, naming the first bad index.</summary>
    public static void Finite<T>(ReadOnlySpan<T> x, [CallerArgumentExpression(nameof(x))] string? name = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (AllFinite(x)) return;
        for (int i = 0; i < x.Length; i++)
            if (!T.IsFinite(x[i]))
                throw new ArgumentException(
                    $"{Clean(name)}: expected finite values, got {x[i]} at flat index {i}.", Clean(name));
    }

    // x·0 is 0 for a finite x and NaN for NaN or ±Inf, so one vector sum of x·0 answers for the whole span
    // (it runs on every forward input); the scalar scan above then finds the index only when it failed.
    private static bool AllFinite<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, w = Vector<T>.Count;
        var acc = Vector<T>.Zero;
        if (Vector.IsHardwareAccelerated)
        {
            ref T r = ref MemoryMarshal.GetReference(x);
            for (; i <= x.Length - w; i += w) acc += Vector.LoadUnsafe(ref r, (nuint)i) * Vector<T>.Zero;
        }
        T s = Vector.Sum(acc);
        for (; i < x.Length; i++) s += x[i] * T.Zero;
        return s == T.Zero;
    }

    /// <summary>Throws unless every element of a mask is exactly 0 or 1. An empty mask means "no mask".</summary>
    public static void Mask<T>(ReadOnlySpan<T> mask, int batch, int seqLen,
        [CallerArgumentExpression(nameof(mask))] string? name = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (mask.IsEmpty) return;
        if (mask.Length != batch * seqLen)
            throw new ArgumentException(
                $"{Clean(name)}: expected shape (batch={batch}, seq_len={seqLen}) = {batch * seqLen} elements, got {mask.Length}.",
                Clean(name));
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] != T.Zero && mask[i] != T.One)
                throw new ArgumentException(
                    $"{Clean(name)}: expected 0 or 1, got {mask[i]} at (b={i / seqLen}, t={i % seqLen}).", Clean(name));
    }

    internal static string Clean(string? name) => name ?? "argument";
}

/// <summary>The shape text of <see cref="Guard.Length(int, int, ref ShapeText, string?)"/>: formatted only on failure.</summary>
[InterpolatedStringHandler]
public ref struct ShapeText
{
    private DefaultInterpolatedStringHandler _inner;

    /// <summary>Called by the compiler; formatting is skipped when the lengths agree.</summary>
    public ShapeText(int literalLength, int formattedCount, int actual, int expected, out bool shouldAppend)
    {
        shouldAppend = actual != expected;
        _inner = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    /// <summary>Appends literal text.</summary>
    public void AppendLiteral(string value) => _inner.AppendLiteral(value);

    /// <summary>Appends a value.</summary>
    public void AppendFormatted<TValue>(TValue value) => _inner.AppendFormatted(value);

    /// <summary>The text.</summary>
    public string ToStringAndClear() => _inner.ToStringAndClear();
}
