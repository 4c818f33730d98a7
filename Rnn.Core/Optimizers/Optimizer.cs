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

    /// <summary>Learning rate: finite and &gt; 0, checked here as in the constructor (a NaN would make every weight NaN).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = CheckLearningRate(value, nameof(LearningRate));
    }
    private double _learningRate;

    /// <summary>
    /// If positive, gradients are rescaled before each step so that their global L2 norm is at most this
    /// (PyTorch's clip_grad_norm_). 0 disables it; NaN and negative values throw (NaN would turn clipping off silently).
    /// </summary>
    public double MaxGradNorm
    {
        get => _maxGradNorm;
        set
        {
            if (!(value >= 0))
                throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), value, $"MaxGradNorm: expected >= 0 (0 disables clipping), got {value}.");
            _maxGradNorm = value;
        }
    }
    private double _maxGradNorm;

    /// <summary>Global gradient norm measured by the last <see cref="Step"/> (before clipping).</summary>
    public double LastGradNorm { get; private set; }

    /// <summary>Steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>Builds the optimizer over a parameter list.</summary>
    protected Optimizer(IEnumerable<Parameter<T>> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
        _learningRate = CheckLearningRate(learningRate, nameof(learningRate));
    }

    private static double CheckLearningRate(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected a finite value > 0, got {value}.");
        return value;
    }

    /// <summary>Throws unless <paramref name="value"/> is in [0, 1) (a decay rate such as β1, β2, ρ or momentum).</summary>
    protected static double CheckDecay(double value, string name)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected a value in [0, 1), got {value}.");
        return value;
    }

    /// <summary>Throws unless <paramref name="value"/> is finite and &gt; 0 (an ε: 0 divides by zero on a zero gradient).</summary>
    protected static double CheckEpsilon(double value, string name)
    {
        if (!(value > 0) || !double.IsFinite(value))
            throw new ArgumentOutOfRangeException(name, value, $"{name}: expected a finite value > 0, got {value}.");
        return value;
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
    public void ZeroGrad() { for (int i = 0; i < Parameters.Count; i++) Parameters[i].ZeroGrad(); } // no boxed enumerator: runs every step

    /// <summary>
    /// Updates elements [offset, offset+count) of parameter <paramref name="index"/>, with the gradient
    /// multiplied by <paramref name="gradScale"/> (global-norm clipping).
    /// </summary>
    protected abstract void Update(int index, Parameter<T> p, int offset, int count, T gradScale);

    /// <summary>Allocates one zeroed state array per parameter.</summary>
    protected T[][] NewState() => Parameters.Select(p => new T[p.Length]).ToArray();
}
