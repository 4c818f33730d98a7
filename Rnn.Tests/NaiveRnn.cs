namespace Rnn.Tests;

/// <summary>
/// An independent, deliberately plain BPTT for a tanh RNN with sequence outputs, written straight from
/// Lasagne's definition (no GEMM, no tape, batch-major indexing), used where finite differences cannot
/// apply: clipped gradients.
/// </summary>
internal static class NaiveRnn
{
    public sealed record Result(double[] DWih, double[] DWhh, double[] Db, double[] Dx, bool ClipFired);

    public static Result Bptt(double[] wih, double[] whh, double[] bias, double[] x, double[] mask, double[] dy,
        int B, int S, int I, int H, bool backwards, double clip, int steps)
    {
        var h = new double[S + 1, B, H]; // scan order
        int T(int s) => backwards ? S - 1 - s : s;
        bool M(int b, int s) => mask.Length == 0 || mask[b * S + T(s)] != 0;
        for (int s = 0; s < S; s++)
            for (int b = 0; b < B; b++)
                for (int j = 0; j < H; j++)
                {
                    if (!M(b, s)) { h[s + 1, b, j] = h[s, b, j]; continue; }
                    double a = bias[j];
                    for (int i = 0; i < I; i++) a += x[(b * S + T(s)) * I + i] * wih[j * I + i];
                    for (int k = 0; k < H; k++) a += h[s, b, k] * whh[j * H + k];
                    h[s + 1, b, j] = Math.Tanh(a);
                }
        var dWih = new double[H * I]; var dWhh = new double[H * H]; var db = new double[H]; var dx = new double[x.Length];
        var carry = new double[B, H];
        bool fired = false;
        for (int s = S - 1; s >= S - steps; s--)
        {
            var next = new double[B, H];
            for (int b = 0; b < B; b++)
            {
                var dh = new double[H];
                for (int j = 0; j < H; j++) dh[j] = carry[b, j] + dy[(b * S + T(s)) * H + j];
                if (!M(b, s)) { for (int j = 0; j < H; j++) next[b, j] = dh[j]; continue; }
                for (int j = 0; j < H; j++)
                {
                    double d = dh[j] * (1 - h[s + 1, b, j] * h[s + 1, b, j]);
                    if (clip > 0 && Math.Abs(d) > clip) { d = Math.Sign(d) * clip; fired = true; }
                    db[j] += d;
                    for (int i = 0; i < I; i++)
                    {
                        dWih[j * I + i] += d * x[(b * S + T(s)) * I + i];
                        dx[(b * S + T(s)) * I + i] += d * wih[j * I + i];
                    }
                    for (int k = 0; k < H; k++) { dWhh[j * H + k] += d * h[s, b, k]; next[b, k] += d * whh[j * H + k]; }
                }
            }
            carry = next;
        }
        return new Result(dWih, dWhh, db, dx, fired);
    }
}
