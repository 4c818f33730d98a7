using System.Numerics;
using Rnn.Kernels;

namespace Rnn.Optimizers;

/// <summary>
/// Base of the optimizers. An optimizer is built over a fixed parameter registry and allocates its
/// state once, so <see cref="Step"/> allocates nothing. Row-sparse parameters (an embedding) are updated
/// only on the rows that received gradient; see each optimizer for what that means for its state.
/// </summary>
public abstract class Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The parameters updated by <see cref="Step"/>.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; set; }

    /// <summary>
    /// If positive, gradients are rescaled before each step so that their global L2 norm is at most this
    /// (PyTorch's clip_grad_norm_). 0 disables it.
    /// </summary>
    public double MaxGradNorm { get; set; }

    /// <summary>Global gradient norm measured by the last <see cref="Step"/> (before clipping).</summary>
    public double LastGradNorm { get; private set; }

    /// <summary>Steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>Builds the optimizer over a parameter list.</summary>
    protected Optimizer(IEnumerable<Parameter<T>> parameters, double learningRate)
    {
        Parameters = parameters.ToArray();
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"learningRate: expected a finite value > 0, got {learningRate}.");
        LearningRate = learningRate;
    }

    // Without clipping, the norm is summed a chunk at a time just before the chunk's update reads it again from cache.
    private const int NormChunk = 2048;

    /// <summary>Applies one update from the accumulated gradients (it does not clear them).</summary>
    public void Step()
    {
        StepCount++;
        BeginStep();
        bool clip = MaxGradNorm > 0;
        double scale = 1, sumSquares = 0;
        if (clip)
        {
            LastGradNorm = GradClip.GlobalNorm(Parameters);
            if (LastGradNorm > MaxGradNorm) scale = MaxGradNorm / (LastGradNorm + 1e-6);
        }
        T k = T.CreateTruncating(scale);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            if (p.TouchedRows is null)
            {
                for (int o = 0; o < p.Length; o += NormChunk)
                {
                    int n = Math.Min(NormChunk, p.Length - o);
                    if (!clip) sumSquares += Vec.SumSquares<T>(p.Grad.AsSpan(o, n));
                    Update(i, p, o, n, k);
                }
            }
            else
            {
                int row = p.Length / p.Shape[0];
                var rows = p.TouchedRows.Rows;
                for (int q = 0; q < rows.Length; q++)
                {
                    // Touched rows are scattered over a large table: ask for a later row's lines ahead of its update.
                    if (q + RowsAhead < rows.Length) PrefetchRow(i, p, rows[q + RowsAhead] * row, row);
                    int r = rows[q];
                    if (!clip) sumSquares += Vec.SumSquares<T>(p.Grad.AsSpan(r * row, row));
                    Update(i, p, r * row, row, k);
                }
            }
        }
        if (!clip) LastGradNorm = Math.Sqrt(sumSquares);
    }

    /// <summary>Called once at the start of each <see cref="Step"/>, after <see cref="StepCount"/> is advanced: per-step constants.</summary>
    protected virtual void BeginStep() { }

    private const int RowsAhead = 4;

    /// <summary>Prefetches what <see cref="Update"/> will read for elements [offset, offset+count) (the value and gradient; overrides add their state).</summary>
    protected virtual void PrefetchRow(int index, Parameter<T> p, int offset, int count)
    {
        Vec.Prefetch<T>(p.Value.AsSpan(offset, count));
        Vec.Prefetch<T>(p.Grad.AsSpan(offset, count));
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad() { foreach (var p in Parameters) p.ZeroGrad(); }

    /// <summary>
    /// Updates elements [offset, offset+count) of parameter <paramref name="index"/>, with the gradient
    /// multiplied by <paramref name="gradScale"/> (global-norm clipping).
    /// </summary>
    protected abstract void Update(int index, Parameter<T> p, int offset, int count, T gradScale);

    /// <summary>Allocates one zeroed state array per parameter.</summary>
    protected T[][] NewState() => Parameters.Select(p => new T[p.Length]).ToArray();
}
