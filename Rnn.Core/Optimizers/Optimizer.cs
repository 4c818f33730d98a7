using System.Numerics;
using System.Runtime.CompilerServices;
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

    // Elements from which a step is split between the pool's threads (below it, a dispatch costs more than it saves).
    private const int ParallelMinElements = 1 << 15;

    // The step's items in order: each dense parameter's chunks of NormChunk elements, each row-sparse parameter's
    // touched rows. _partials[item] holds the item's sum of squares, added in item order after the (parallel) pass,
    // so the norm has the bits of one thread summing them one after another.
    private double[]? _partials;

    /// <summary>
    /// True when <see cref="Update"/> touches only elements [offset, offset+count) of the parameter and of its own
    /// state, so disjoint ranges may run on different threads at once (the built-in optimizers; a subclass elsewhere
    /// runs on the caller's thread).
    /// </summary>
    private protected virtual bool ElementwiseUpdate => false;

    /// <summary>What a step's participants share; lives on the caller's stack during the dispatch.</summary>
    private struct StepJob
    {
        public Optimizer<T> Opt;
        public T Scale;
        public bool Clip;
    }

    /// <summary>Applies one update from the accumulated gradients (it does not clear them).</summary>
    public unsafe void Step()
    {
        var outer = PhaseProfile.Enter(StepPhase.Optimizer);
        StepCount++;
        BeginStep();
        bool clip = MaxGradNorm > 0;
        double scale = 1;
        if (clip)
        {
            LastGradNorm = GradClip.GlobalNorm(Parameters);
            if (LastGradNorm > MaxGradNorm) scale = MaxGradNorm / (LastGradNorm + 1e-6);
        }
        _partials ??= new double[Parameters.Sum(p => p.TouchedRows is null ? (p.Length + NormChunk - 1) / NormChunk : p.Shape[0])];
        var job = new StepJob { Opt = this, Scale = T.CreateTruncating(scale), Clip = clip };
        int items = 0; long elements = 0;
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            items += Items(p);
            elements += p.TouchedRows is null ? p.Length : (long)p.TouchedRows.Rows.Length * (p.Length / Math.Max(1, p.Shape[0]));
        }
        int chunks = ElementwiseUpdate && elements >= ParallelMinElements && !WorkerPool.InRows ? Math.Min(WorkerPool.Size, MaxChunks) : 1;
        int* bounds = stackalloc int[chunks + 1];
        if (chunks > 1) ItemBounds(chunks, elements, new Span<int>(bounds, chunks + 1));
        WorkerPool.RunRows(&StepItems, Unsafe.AsPointer(ref job), items, chunks, chunks > 1 ? bounds : null);
        if (!clip)
        {
            double sumSquares = 0;
            for (int q = 0; q < items; q++) sumSquares += _partials[q];
            LastGradNorm = Math.Sqrt(sumSquares);
        }
        PhaseProfile.Leave(outer);
    }

    private const int MaxChunks = 16;

    /// <summary>A parameter's items this step: its chunks (dense) or its touched rows (row-sparse).</summary>
    private static int Items(Parameter<T> p) => p.TouchedRows is null ? (p.Length + NormChunk - 1) / NormChunk : p.TouchedRows.Rows.Length;

    /// <summary>Splits the step's items into contiguous ranges of near-equal element counts: bounds (chunks + 1).</summary>
    private void ItemBounds(int chunks, long elements, Span<int> bounds)
    {
        bounds[0] = 0;
        int c = 1, item = 0; long acc = 0;
        for (int i = 0; i < Parameters.Count && c < chunks; i++)
        {
            var p = Parameters[i];
            int n = Items(p);
            long per = p.TouchedRows is null ? NormChunk : p.Length / Math.Max(1, p.Shape[0]);
            for (int q = 0; q < n && c < chunks; q++)
            {
                acc += per; item++;
                if (acc * chunks >= elements * c) bounds[c++] = item;
            }
        }
        int total = 0;
        for (int i = 0; i < Parameters.Count; i++) total += Items(Parameters[i]);
        for (; c <= chunks; c++) bounds[c] = total;
    }

    /// <summary>Items [i0, i1) of the step: updates, and (without clipping) each item's sum of squares into _partials.</summary>
    private static unsafe void StepItems(void* state, int i0, int i1)
    {
        ref var job = ref Unsafe.AsRef<StepJob>(state);
        var o = job.Opt;
        var partials = o._partials!;
        int first = 0; // the first item of parameter i
        for (int i = 0; i < o.Parameters.Count && first < i1; i++)
        {
            var p = o.Parameters[i];
            int n = Items(p);
            int q0 = Math.Max(i0 - first, 0), q1 = Math.Min(i1 - first, n);
            if (p.TouchedRows is null)
            {
                for (int q = q0; q < q1; q++)
                {
                    int off = q * NormChunk, len = Math.Min(NormChunk, p.Length - off);
                    if (!job.Clip) partials[first + q] = Vec.SumSquares<T>(p.Grad.AsSpan(off, len));
                    o.Update(i, p, off, len, job.Scale);
                }
            }
            else
            {
                int row = p.Length / p.Shape[0];
                var rows = p.TouchedRows.Rows;
                for (int q = q0; q < q1; q++)
                {
                    // Touched rows are scattered over a large table: ask for a later row's lines ahead of its update.
                    if (q + RowsAhead < q1) o.PrefetchRow(i, p, rows[q + RowsAhead] * row, row);
                    int r = rows[q];
                    if (!job.Clip) partials[first + q] = Vec.SumSquares<T>(p.Grad.AsSpan(r * row, row));
                    o.Update(i, p, r * row, row, job.Scale);
                }
            }
            first += n;
        }
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
    public void ZeroGrad() => GradZeroing<T>.Zero(Parameters); // split between the kernel threads when large

    /// <summary>
    /// Updates elements [offset, offset+count) of parameter <paramref name="index"/>, with the gradient
    /// multiplied by <paramref name="gradScale"/> (global-norm clipping). The built-in optimizers run disjoint ranges
    /// on the kernel pool's threads at once; an optimizer defined elsewhere gets every call on the caller's thread.
    /// </summary>
    protected abstract void Update(int index, Parameter<T> p, int offset, int count, T gradScale);

    /// <summary>Allocates one zeroed state array per parameter.</summary>
    protected T[][] NewState() => Parameters.Select(p => new T[p.Length]).ToArray();
}
