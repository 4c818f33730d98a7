using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>
/// Concatenation of two layers' outputs along the feature axis: a (n, fa) and b (n, fb) → y (n, fa+fb),
/// where n is the batch, or batch·seq for sequences. No parameters, nothing recorded.
/// </summary>
public static class Concat
{
    /// <summary>y (n, fa+fb) = [a | b].</summary>
    public static void Forward<T>(Span<T> y, ReadOnlySpan<T> a, ReadOnlySpan<T> b, int n, int fa, int fb) where T : unmanaged
    {
        Guard.Length(a.Length, n * fa, $"(n={n}, fa={fa})");
        Guard.Length(b.Length, n * fb, $"(n={n}, fb={fb})");
        Guard.Length(y.Length, n * (fa + fb), $"(n={n}, fa+fb={fa + fb})");
        for (int r = 0; r < n; r++)
        {
            a.Slice(r * fa, fa).CopyTo(y.Slice(r * (fa + fb), fa));
            b.Slice(r * fb, fb).CopyTo(y.Slice(r * (fa + fb) + fa, fb));
        }
    }

    /// <summary>Splits dy (n, fa+fb) and accumulates into da (n, fa) and db (n, fb).</summary>
    public static void Backward<T>(Span<T> da, Span<T> db, ReadOnlySpan<T> dy, int n, int fa, int fb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.Length(da.Length, n * fa, $"(n={n}, fa={fa})");
        Guard.Length(db.Length, n * fb, $"(n={n}, fb={fb})");
        Guard.Length(dy.Length, n * (fa + fb), $"(n={n}, fa+fb={fa + fb})");
        for (int r = 0; r < n; r++)
        {
            Vec.Add(da.Slice(r * fa, fa), dy.Slice(r * (fa + fb), fa));
            Vec.Add(db.Slice(r * fb, fb), dy.Slice(r * (fa + fb) + fa, fb));
        }
    }
}
