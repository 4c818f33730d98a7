using System.Numerics;
using Rnn.Init;
using Rnn.Models;

namespace Rnn.Samples.Adding;

/// <summary>
/// The adding problem exactly as Lasagne's examples/recurrent.py generates it (gen_data):
/// x (batch, maxLen, 2): channel 0 uniform [0,1), channel 1 two markers, one at an index in
/// [0, len/10), the other in [len/2, len); len drawn from [minLen, maxLen); padding has x = 0 and
/// mask 0. y = sum of the two marked values. Then X is centred per channel over the whole batch
/// (padding included) and y over the batch.
/// </summary>
public static class AddingData
{
    /// <summary>Fills x (batch, maxLen, 2), y (batch) and mask (batch, maxLen).</summary>
    public static void Generate<T>(Span<T> x, Span<T> y, Span<T> mask, Rng rng, int batch, int minLen = 50, int maxLen = 55)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Guard.Length(x.Length, batch * maxLen * 2, $"(batch={batch}, seq={maxLen}, 2)");
        Guard.Length(y.Length, batch, $"(batch={batch})");
        Guard.Length(mask.Length, batch * maxLen, $"(batch={batch}, seq={maxLen})");
        // numpy draws all of channel 0 first, then walks the batch; we keep that order.
        for (int i = 0; i < batch * maxLen; i++) { x[2 * i] = T.CreateTruncating(rng.NextDouble()); x[2 * i + 1] = T.Zero; }
        mask.Clear();
        for (int n = 0; n < batch; n++)
        {
            int length = rng.NextInt(minLen, maxLen);
            for (int t = 0; t < maxLen; t++)
            {
                if (t < length) mask[n * maxLen + t] = T.One;
                else x[(n * maxLen + t) * 2] = T.Zero;
            }
            int a = rng.NextInt(Math.Max(length / 10, 1));
            int b = rng.NextInt(length / 2, length);
            x[(n * maxLen + a) * 2 + 1] = T.One;
            x[(n * maxLen + b) * 2 + 1] = T.One;
            y[n] = x[(n * maxLen + a) * 2] + x[(n * maxLen + b) * 2];
        }
        // Centre: X -= X.reshape(-1, 2).mean(axis=0); y -= y.mean(). Means in double, fixed order.
        for (int ch = 0; ch < 2; ch++)
        {
            double s = 0;
            for (int i = 0; i < batch * maxLen; i++) s += double.CreateTruncating(x[2 * i + ch]);
            T mean = T.CreateTruncating(s / (batch * maxLen));
            for (int i = 0; i < batch * maxLen; i++) x[2 * i + ch] -= mean;
        }
        double sy = 0;
        for (int n = 0; n < batch; n++) sy += double.CreateTruncating(y[n]);
        T my = T.CreateTruncating(sy / batch);
        for (int n = 0; n < batch; n++) y[n] -= my;
    }

    /// <summary>
    /// The batches as a Fit source: <paramref name="count"/> samples, each batch generated on demand from
    /// <paramref name="rng"/> when Fit gathers it (the indices are not read: run it unshuffled), with its mask.
    /// </summary>
    public sealed class Source(Rng rng, int count, int minLen = 50, int maxLen = 55) : IMaskedBatchSource<float, float, float>
    {
        /// <inheritdoc/>
        public int Count => count;
        /// <inheritdoc/>
        public int SeqLen => maxLen;
        /// <inheritdoc/>
        public int InputsPerSample => 2 * maxLen;
        /// <inheritdoc/>
        public int TargetsPerSample => 1;
        /// <inheritdoc/>
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<float> targets, Span<float> mask)
            => Generate(inputs, targets, mask, rng, indices.Length, minLen, maxLen);
        /// <inheritdoc/>
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<float> targets)
            => throw new InvalidOperationException("Gather: the adding batches come with their masks; call the overload with a mask.");
    }
}
