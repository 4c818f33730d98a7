using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Models;

/// <summary>
/// Keras's RepeatVector: a vector per sequence (batch, F) repeated <see cref="Times"/> times, giving
/// (batch, n, F); the way a one-vector input becomes a sequence for a decoder (Karpathy's mode 2, "one to many",
/// and the addition_rnn decoder). It has no parameters and records nothing: Backward sums dy over the n copies.
/// </summary>
public sealed class RepeatVector<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Features per vector F.</summary>
    public int Features { get; }
    /// <summary>Copies n (the output sequence length).</summary>
    public int Times { get; }

    /// <summary>Creates the layer for vectors of <paramref name="features"/> elements repeated <paramref name="times"/> times.</summary>
    public RepeatVector(int features, int times)
    {
        Guard.AtLeast(features, 1); Guard.AtLeast(times, 1);
        Features = features; Times = times;
    }

    /// <summary>y (batch, n, F), overwritten: y[b, t] = x[b] for every t. x is (batch, F).</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, int batch)
    {
        int F = Features, n = Times;
        Guard.AtLeast(batch, 1);
        Guard.Length(x.Length, batch * F, $"(batch={batch}, F={F})");
        Guard.Length(y.Length, batch * n * F, $"(batch={batch}, n={n}, F={F})");
        for (int b = 0; b < batch; b++)
        {
            var row = x.Slice(b * F, F);
            for (int t = 0; t < n; t++) row.CopyTo(y.Slice((b * n + t) * F, F));
        }
    }

    /// <summary>Accumulates dx (batch, F) += Σ_t dy[b, t] from dy (batch, n, F).</summary>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch)
    {
        int F = Features, n = Times;
        Guard.Length(dx.Length, batch * F, $"(batch={batch}, F={F})");
        Guard.Length(dy.Length, batch * n * F, $"(batch={batch}, n={n}, F={F})");
        for (int b = 0; b < batch; b++)
        {
            var row = dx.Slice(b * F, F);
            for (int t = 0; t < n; t++) Vec.Add(row, dy.Slice((b * n + t) * F, F));
        }
    }
}
