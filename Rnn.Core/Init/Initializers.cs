using System.Numerics;

namespace Rnn.Init;

/// <summary>
/// Weight initialisers. Each fills a row-major (fanOut, fanIn) matrix, the PyTorch weight layout,
/// from a seeded <see cref="Rng"/>, drawing in row-major order so a seed fixes every value.
/// </summary>
public static class Initializers
{
    /// <summary>U(lo, hi).</summary>
    public static void Uniform<T>(Span<T> w, Rng rng, double lo, double hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating(rng.Uniform(lo, hi));
    }

    /// <summary>N(mean, std²).</summary>
    public static void Normal<T>(Span<T> w, Rng rng, double std, double mean = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating(mean + std * rng.Normal());
    }

    /// <summary>
    /// He uniform as Lasagne defines it: U(±gain·√(3/fanIn)), fanIn = the input dimension of the
    /// matrix. gain √2 is Lasagne's "relu" gain; the adding example uses HeUniform() with gain 1.
    /// </summary>
    public static void HeUniform<T>(Span<T> w, Rng rng, int fanIn, double gain = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double a = gain * Math.Sqrt(3.0 / fanIn);
        Uniform(w, rng, -a, a);
    }

    /// <summary>Glorot (Xavier) uniform: U(±gain·√(6/(fanIn+fanOut))), Keras's default kernel initialiser.</summary>
    public static void GlorotUniform<T>(Span<T> w, Rng rng, int fanIn, int fanOut, double gain = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double a = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        Uniform(w, rng, -a, a);
    }

    /// <summary>
    /// Orthogonal (Saxe et al.), Keras's default recurrent initialiser: a (rows, cols) matrix with
    /// orthonormal rows or columns, from the QR decomposition of a Gaussian matrix, signs fixed by R's diagonal.
    /// </summary>
    public static void Orthogonal<T>(Span<T> w, Rng rng, int rows, int cols, double gain = 1.0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (w.Length != rows * cols)
            throw new ArgumentException($"w: expected {rows}x{cols} = {rows * cols} elements, got {w.Length}.", nameof(w));
        // Work on the tall orientation (n >= m), then transpose back if needed.
        bool tall = rows >= cols;
        int n = tall ? rows : cols, m = tall ? cols : rows;
        var a = new double[n * m]; // (n, m), columns get orthonormalised
        for (int i = 0; i < a.Length; i++) a[i] = rng.Normal();
        // Modified Gram–Schmidt on columns; sign of each R diagonal folded in, as numpy's qr + sign fix.
        for (int j = 0; j < m; j++)
        {
            for (int p = 0; p < j; p++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += a[i * m + p] * a[i * m + j];
                for (int i = 0; i < n; i++) a[i * m + j] -= dot * a[i * m + p];
            }
            double norm = 0;
            for (int i = 0; i < n; i++) norm += a[i * m + j] * a[i * m + j];
            norm = Math.Sqrt(norm);
            for (int i = 0; i < n; i++) a[i * m + j] /= norm;
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                w[r * cols + c] = T.CreateTruncating(gain * (tall ? a[r * m + c] : a[c * m + r]));
    }
}
