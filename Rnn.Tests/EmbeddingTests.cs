using Rnn;
using Rnn.Init;
using Rnn.Layers;
using Rnn.Optimizers;

namespace Rnn.Tests;

public class EmbeddingTests
{
    private const int V = 10, D = 3, B = 2, S = 4;
    // Repeated ids within and across rows (7 three times, 0 twice) to exercise accumulation; 4, 5, 8, 9 unused.
    private static readonly int[] Tokens = [7, 1, 7, 0, 3, 7, 0, 2];

    [Fact]
    public void ForwardCopiesTheRowsOfTheIdsAndInitIsKerasUniform()
    {
        using var emb = new Embedding<float>(V, D, new Rng(1));
        Assert.All(emb.Weight.Value, v => Assert.InRange(v, -0.05f, 0.05f));
        Assert.Contains(emb.Weight.Value, v => Math.Abs(v) > 0.03f); // not a degenerate init
        var y = new float[B * S * D];
        emb.Forward(y, Tokens, B, S);
        for (int i = 0; i < Tokens.Length; i++)
            Assert.Equal(emb.Weight.Value.AsSpan(Tokens[i] * D, D).ToArray(), y.AsSpan(i * D, D).ToArray());
        Assert.Equal("weight", emb.Weight.Name);
        Assert.NotNull(emb.Weight.TouchedRows);
    }

    [Fact]
    public void GradientsMatchFiniteDifferencesWithRepeatedIds()
    {
        using var emb = new Embedding<double>(V, D, new Rng(3));
        GradCheck.Det(V * D, 0.8, 1).CopyTo(emb.Weight.Value, 0); // larger than U(±0.05) so ½y² matters
        var y = new double[B * S * D]; var dy = new double[y.Length];
        var c = GradCheck.Det(y.Length, 1.0, 2);
        double Loss() { emb.Forward(y, Tokens, B, S); return GradCheck.WeightedLoss(y, c, default); }
        void Analytic()
        {
            emb.ZeroGrad();
            emb.Forward(y, Tokens, B, S); GradCheck.WeightedLoss(y, c, dy);
            emb.Backward(dy, B, S);
        }
        GradCheck.Assert(Loss, Analytic, GradCheck.Of(emb.Weight));
        // Exactly the rows used are touched, in first-touch order, and the rest of the gradient is untouched.
        Assert.Equal(new[] { 7, 1, 0, 3, 2 }, emb.Weight.TouchedRows!.Rows.ToArray());
        foreach (int r in new[] { 4, 5, 6, 8, 9 }) Assert.All(emb.Weight.Grad.AsSpan(r * D, D).ToArray(), g => Assert.Equal(0.0, g));
    }

    [Fact]
    public void BackwardAccumulatesAndZeroGradClearsTouchedRows()
    {
        using var emb = new Embedding<double>(V, D, new Rng(3));
        var y = new double[B * S * D]; var dy = new double[y.Length]; Array.Fill(dy, 1.0);
        emb.Forward(y, Tokens, B, S);
        emb.Backward(dy, B, S);
        emb.Backward(dy, B, S);
        Assert.Equal(6.0, emb.Weight.Grad[7 * D]); // id 7 three times, twice over
        Assert.Equal(2.0, emb.Weight.Grad[1 * D + 2]);
        emb.ZeroGrad();
        Assert.All(emb.Weight.Grad, g => Assert.Equal(0.0, g));
        Assert.Equal(0, emb.Weight.TouchedRows!.Rows.Length);
    }

    [Fact]
    public void OptimizerMovesOnlyTheRowsOfTheIdsUsed()
    {
        using var emb = new Embedding<float>(V, D, new Rng(4));
        var before = (float[])emb.Weight.Value.Clone();
        var opt = new Adam<float>(emb.Parameters, 0.01);
        var y = new float[B * S * D]; var dy = new float[y.Length]; Array.Fill(dy, 0.5f);
        opt.ZeroGrad();
        emb.Forward(y, Tokens, B, S);
        emb.Backward(dy, B, S);
        opt.Step();
        for (int r = 0; r < V; r++)
        {
            bool used = Array.IndexOf(Tokens, r) >= 0;
            for (int j = 0; j < D; j++)
                if (used) Assert.NotEqual(before[r * D + j], emb.Weight.Value[r * D + j]);
                else Assert.Equal(before[r * D + j], emb.Weight.Value[r * D + j]);
        }
    }

    [Theory]
    [InlineData(10, 1, 2)]
    [InlineData(-1, 0, 3)]
    public void OutOfRangeIdThrowsNamingPositionRangeAndValue(int bad, int b, int t)
    {
        using var emb = new Embedding<float>(V, D, new Rng(1));
        var tokens = (int[])Tokens.Clone(); tokens[b * S + t] = bad;
        var y = new float[B * S * D]; Array.Fill(y, 42f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => emb.Forward(y, tokens, B, S));
        Assert.Equal("tokens", e.ParamName);
        Assert.Contains($"(b={b}, t={t})", e.Message);
        Assert.Contains("[0, 10)", e.Message);
        Assert.Contains($"got {bad}", e.Message);
        Assert.All(y, v => Assert.Equal(42f, v)); // checked before anything is written
    }

    [Fact]
    public void WrongShapesAndBackwardWithoutMatchingForwardThrow()
    {
        using var emb = new Embedding<float>(V, D, new Rng(1));
        Assert.Throws<ArgumentException>(() => emb.Forward(new float[B * S * D], Tokens.AsSpan(1), B, S));
        Assert.Throws<ArgumentException>(() => emb.Forward(new float[B * S * D - 1], Tokens, B, S));
        Assert.Throws<InvalidOperationException>(() => emb.Backward(new float[B * S * D], B, S));
        emb.Forward(new float[B * S * D], Tokens, B, S);
        Assert.Throws<InvalidOperationException>(() => emb.Backward(new float[B * S * D], S, B));
    }

    [Fact]
    public void MaskZeroMarksPaddingOnly()
    {
        using var emb = new Embedding<float>(V, D, new Rng(1), maskZero: true);
        var mask = new float[B * S];
        emb.ComputeMask(mask, Tokens, B, S);
        Assert.Equal(new float[] { 1, 1, 1, 0, 1, 1, 0, 1 }, mask);
        using var plain = new Embedding<float>(V, D, new Rng(1));
        Assert.Throws<InvalidOperationException>(() => plain.ComputeMask(mask, Tokens, B, S));
    }
}
