using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Lookup table: token ids (batch, seq) → vectors (batch, seq, dim), Keras's Embedding / PyTorch's
/// nn.Embedding. Parameter <c>weight</c> (vocab, dim) is row-sparse: Backward scatter-adds into the rows of
/// the tokens seen in Forward and marks them in <see cref="Parameter{T}.TouchedRows"/>, so no dense
/// vocab×dim gradient is ever walked, and optimizers update only those rows. What that means per optimizer:
/// SGD without momentum and Adagrad give exactly the dense update (an untouched row has zero gradient, and
/// their dense step for it is zero too); Adam, RMSprop and SGD with momentum are lazy (PyTorch's SparseAdam,
/// TF's LazyAdam): only touched rows have their moments decayed and their values moved, so a row keeps its
/// state unchanged while it is unused, unlike dense Adam, which would keep moving it on stale momentum.
/// </summary>
public sealed class Embedding<T> : Layer<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of token ids, valid ids are 0..vocab−1.</summary>
    public int VocabSize { get; }
    /// <summary>Vector length per token.</summary>
    public int Dim { get; }
    /// <summary>Keras's mask_zero: id 0 is padding, and <see cref="ComputeMask"/> marks it 0.</summary>
    public bool MaskZero { get; }
    /// <summary>(vocab, dim), row-sparse.</summary>
    public Parameter<T> Weight { get; }

    // Only the ids are recorded for Backward: the rows to scatter into. The table itself is never copied.
    private readonly Tape<int> _tape = new();
    private Slot _tokens;

    /// <summary>Creates the table, initialised U(±0.05) (Keras's "uniform" embeddings_initializer); a null rng leaves it at zero (for loading).</summary>
    public Embedding(int vocab, int dim, Rng? rng, bool maskZero = false, string name = "")
    {
        Guard.AtLeast(vocab, 1); Guard.AtLeast(dim, 1);
        VocabSize = vocab; Dim = dim; MaskZero = maskZero;
        Weight = Add(new Parameter<T>((name.Length == 0 ? "" : name + ".") + "weight", [vocab, dim], rowSparse: true));
        if (rng != null) Initializers.Uniform<T>(Weight.Value, rng, -0.05, 0.05);
    }

    /// <summary>
    /// y (batch, seq, dim) = weight[tokens (batch, seq)], overwritten. Every id is checked before anything is
    /// written; the ids are recorded for <see cref="Backward"/>.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<int> tokens, int batch, int seqLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        var outer = PhaseProfile.Enter(StepPhase.EmbeddingGather);
        int n = batch * seqLen, D = Dim;
        Guard.Length(tokens.Length, n, $"(batch={batch}, seq={seqLen})");
        Guard.Length(y.Length, n * D, $"(batch={batch}, seq={seqLen}, dim={D})");
        CheckIds(tokens, seqLen);
        if (_tape.Begin(batch, seqLen))
        {
            _tokens = _tape.Add("tokens", 1, n); // (B, S) ids of the last Forward
            _tape.Commit();
        }
        tokens.CopyTo(_tape[_tokens]);
        Gather(y, tokens);
        PhaseProfile.Leave(outer);
    }

    // Rows ahead of the copy whose lines are requested first: the ids are known, the rows are scattered over the
    // table, so the hardware prefetcher cannot guess them.
    private const int GatherAhead = 8;

    // Elements from which a gather or scatter is split between the pool's threads (256 KB of float rows).
    private const int ParallelMinElements = 1 << 16;

    /// <summary>What the threads of a gather or scatter share; lives on the caller's stack during the dispatch.</summary>
    private unsafe struct RowsJob
    {
        public T* Table, Rows;  // the table (or its gradient) (vocab, D); the rows (n, D)
        public int* Ids;
        public int N, D, Chunks;
    }

    /// <summary>
    /// y (n, D) = the table's rows tokens (n), requesting each row GatherAhead rows before copying it. A large gather is
    /// split by positions between the pool's threads: a copy, the same bits whoever copies.
    /// </summary>
    private unsafe void Gather(Span<T> y, ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, D = Dim;
        if (Weight.PendingInt8 is { } q)
        {
            // Loaded from an int8 checkpoint and not yet read as floats: these rows only, the same values.
            var yf = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(y);
            for (int i = 0; i < n; i++) q.Row(tokens[i], yf.Slice(i * D, D));
            return;
        }
        fixed (T* w = Weight.Value, py = y)
        fixed (int* ids = tokens)
        {
            var job = new RowsJob { Table = w, Rows = py, Ids = ids, N = n, D = D };
            int chunks = (long)n * D >= ParallelMinElements ? WorkerPool.Size : 1;
            WorkerPool.RunRows(&GatherRange, &job, n, chunks);
        }
    }

    private static unsafe void GatherRange(void* state, int i0, int i1)
    {
        ref var j = ref *(RowsJob*)state;
        int D = j.D;
        for (int i = i0; i < i1; i++)
        {
            if (i + GatherAhead < i1) Vec.Prefetch<T>(new ReadOnlySpan<T>(j.Table + (nint)j.Ids[i + GatherAhead] * D, D));
            new ReadOnlySpan<T>(j.Table + (nint)j.Ids[i] * D, D).CopyTo(new Span<T>(j.Rows + (nint)i * D, D));
        }
    }

    /// <summary>
    /// Thread c of <see cref="RowsJob.Chunks"/> adds the dy rows of the ids with id mod Chunks = c into the gradient, in
    /// position order: each table row is summed in the order one thread would sum it, so the bits do not depend on the split.
    /// </summary>
    private static unsafe void ScatterPart(void* state, int c)
    {
        ref var j = ref *(RowsJob*)state;
        int D = j.D, n = j.N, k = j.Chunks;
        for (int i = 0; i < n; i++)
        {
            int id = j.Ids[i];
            if (id % k != c) continue;
            Vec.Add<T>(new Span<T>(j.Table + (nint)id * D, D), new ReadOnlySpan<T>(j.Rows + (nint)i * D, D));
        }
    }

    /// <summary>
    /// y (n, dim) = weight[tokens (n)] for inference: reads only the table (thread-safe, records nothing).
    /// Ids outside [0, vocab) throw, naming the position.
    /// </summary>
    public void Lookup(Span<T> y, ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, D = Dim;
        Guard.Length(y.Length, n * D, $"(n={n}, dim={D})");
        CheckIds(tokens, Math.Max(n, 1));
        Gather(y, tokens);
    }

    /// <summary>
    /// Accumulates dy (batch, seq, dim) into the weight-gradient rows of the ids of the last Forward and marks
    /// those rows touched. A repeated id accumulates once per occurrence. There is no input gradient (ids).
    /// </summary>
    public unsafe void Backward(ReadOnlySpan<T> dy, int batch, int seqLen)
    {
        if (_tape.Batch != batch || _tape.SeqLen != seqLen)
            throw new InvalidOperationException($"Backward: expected (batch={_tape.Batch}, seq={_tape.SeqLen}) from the last Forward, got (batch={batch}, seq={seqLen}).");
        int n = batch * seqLen, D = Dim;
        Guard.Length(dy.Length, n * D, $"(batch={batch}, seq={seqLen}, dim={D})");
        var outer = PhaseProfile.Enter(StepPhase.EmbeddingScatter);
        var ids = _tape[_tokens];
        var g = Weight.Grad.AsSpan();
        var touched = Weight.TouchedRows!;
        int chunks = (long)n * D >= ParallelMinElements && !WorkerPool.InRows ? WorkerPool.Size : 1;
        if (chunks > 1)
        {
            // Rows split between the threads by id, each thread in position order; the touched set in first-touch order.
            foreach (int id in ids) touched.Add(id);
            fixed (T* pg = Weight.Grad, pdy = dy)
            fixed (int* pid = ids)
            {
                var job = new RowsJob { Table = pg, Rows = pdy, Ids = pid, N = n, D = D, Chunks = chunks };
                WorkerPool.Run(&ScatterPart, &job, chunks);
            }
        }
        else
            for (int i = 0; i < n; i++)
            {
                if (i + GatherAhead < n) Vec.Prefetch<T>(g.Slice(ids[i + GatherAhead] * D, D)); // scattered rows, as in Gather
                int id = ids[i];
                Vec.Add<T>(g.Slice(id * D, D), dy.Slice(i * D, D));
                touched.Add(id);
            }
        PhaseProfile.Leave(outer);
    }

    /// <summary>
    /// Fills mask (batch, seq) with 1 for real tokens and 0 for id 0 (padding), the mask Keras derives with
    /// mask_zero=True. Requires <see cref="MaskZero"/>.
    /// </summary>
    public void ComputeMask(Span<T> mask, ReadOnlySpan<int> tokens, int batch, int seqLen)
    {
        if (!MaskZero) throw new InvalidOperationException("ComputeMask: this Embedding was created with maskZero=false, so id 0 is a real token.");
        Guard.Length(tokens.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        Guard.Length(mask.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        for (int i = 0; i < tokens.Length; i++) mask[i] = tokens[i] == 0 ? T.Zero : T.One;
    }

    private void CheckIds(ReadOnlySpan<int> tokens, int seqLen)
    {
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i],
                    $"tokens: expected ids in [0, {VocabSize}), got {tokens[i]} at (b={i / seqLen}, t={i % seqLen}).");
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
