using Rnn.Init;

namespace Rnn.Tests;

public class InitTests
{
    [Fact]
    public void RngIsReproducibleAndUniform()
    {
        var a = new Rng(42); var b = new Rng(42);
        for (int i = 0; i < 1000; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
        var r = new Rng(1);
        double mean = Enumerable.Range(0, 100_000).Select(_ => r.NextDouble()).Average();
        Assert.InRange(mean, 0.495, 0.505);
        var n = new Rng(2);
        var xs = Enumerable.Range(0, 100_000).Select(_ => n.Normal()).ToArray();
        Assert.InRange(xs.Average(), -0.01, 0.01);
        Assert.InRange(xs.Select(x => x * x).Average(), 0.98, 1.02);
        var k = new Rng(3);
        Assert.All(Enumerable.Range(0, 1000).Select(_ => k.NextInt(5, 9)), v => Assert.InRange(v, 5, 8));
    }

    [Fact]
    public void OrthogonalHasOrthonormalRowsOrColumns()
    {
        foreach (var (rows, cols) in new[] { (8, 8), (12, 4), (4, 12) })
        {
            var w = new double[rows * cols];
            Initializers.Orthogonal<double>(w, new Rng(7), rows, cols);
            bool tall = rows >= cols;
            int m = tall ? cols : rows, len = tall ? rows : cols;
            for (int p = 0; p < m; p++)
                for (int q = 0; q < m; q++)
                {
                    double dot = 0;
                    for (int i = 0; i < len; i++) dot += tall ? w[i * cols + p] * w[i * cols + q] : w[p * cols + i] * w[q * cols + i];
                    Assert.Equal(p == q ? 1.0 : 0.0, dot, 10);
                }
        }
    }

    [Fact]
    public void BoundsFollowTheirDefinitions()
    {
        var w = new double[10_000];
        Initializers.HeUniform<double>(w, new Rng(1), fanIn: 2);
        Assert.InRange(w.Max(), 1.2, Math.Sqrt(1.5)); Assert.InRange(w.Min(), -Math.Sqrt(1.5), -1.2);
        Initializers.GlorotUniform<double>(w, new Rng(1), 200, 1);
        double a = Math.Sqrt(6.0 / 201);
        Assert.InRange(w.Max(), 0.95 * a, a); Assert.InRange(w.Min(), -a, -0.95 * a);
        Initializers.Normal<double>(w, new Rng(1), 0.01);
        Assert.InRange(Math.Sqrt(w.Select(v => v * v).Average()), 0.0098, 0.0102);
    }
}
