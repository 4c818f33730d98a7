using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.Data;
using Rnn.Init;
using Rnn.Losses;
using Rnn.Optimizers;

namespace Rnn.Models;

/// <summary>
/// Trains a <see cref="Model{T}"/> with a loss and an optimizer. <see cref="TrainStep(ReadOnlySpan{int}, ReadOnlySpan{TTarget}, int, int, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
/// is one whole step: clear every gradient, Forward, loss, loss gradient (written into the model's output gradient),
/// Backward, optimizer step; it returns the loss and leaves nothing for the caller to clear. <see cref="Fit{TInput}"/>
/// runs epochs of steps as Keras's fit does. Both allocate nothing in steady state.
/// </summary>
public sealed class Trainer<T, TTarget> where T : unmanaged, IFloatingPointIeee754<T> where TTarget : unmanaged
{
    /// <summary>The model trained.</summary>
    public Model<T> Model { get; }
    /// <summary>The loss.</summary>
    public ILoss<T, TTarget> Loss { get; }
    /// <summary>The optimizer (its parameters are the model's, or a subset of them).</summary>
    public Optimizer<T> Optimizer { get; }
    /// <summary>Rows the last step or evaluated batch predicted correctly (see <see cref="ILoss{T, TTarget}.Correct"/>).</summary>
    public int LastCorrect { get; private set; }
    /// <summary>Rows that counted for <see cref="LastCorrect"/> (0 when the loss has no accuracy).</summary>
    public int LastCounted { get; private set; }

    /// <summary>
    /// Keras's clipvalue: after Backward, every gradient element of the optimizer's parameters is clamped to
    /// [−ClipValue, ClipValue], before the optimizer's step (and its <see cref="Optimizer{T}.MaxGradNorm"/>); 0 = off.
    /// </summary>
    public double ClipValue
    {
        get => _clipValue;
        set => _clipValue = value >= 0 && double.IsFinite(value) ? value
            : throw new ArgumentOutOfRangeException(nameof(ClipValue), value, $"ClipValue: expected a finite value >= 0 (0 = off), got {value}.");
    }
    private double _clipValue;

    /// <summary>Binds the three; every optimizer parameter must belong to the model.</summary>
    public Trainer(Model<T> model, ILoss<T, TTarget> loss, Optimizer<T> optimizer)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Loss = loss ?? throw new ArgumentNullException(nameof(loss));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        var own = new HashSet<Parameter<T>>(model.Parameters, ReferenceEqualityComparer.Instance);
        foreach (var p in optimizer.Parameters)
            if (!own.Contains(p))
                throw new ArgumentException($"optimizer: expected parameters of this model, got '{p.Name}' {p.ShapeText}, which the model does not hold.", nameof(optimizer));
    }

    /// <summary>One training step on token ids (batch, seq): returns the mean loss. mask (batch, seq) or empty; weights per output row or empty.</summary>
    public T TrainStep(ReadOnlySpan<int> tokens, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> weights = default)
        => Run(tokens, mask, default, false, targets, weights, batch, seqLen, true);

    /// <summary>One training step on features x (batch, seq, InputSize): returns the mean loss.</summary>
    public T TrainStep(ReadOnlySpan<T> x, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> weights = default)
        => Run(x, mask, default, false, targets, weights, batch, seqLen, true);

    /// <summary>One training step on a packed batch of token ids (batch, seq), post-padded, with lengths (batch) of real tokens.</summary>
    public T TrainStepPacked(ReadOnlySpan<int> tokens, ReadOnlySpan<int> lengths, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> weights = default)
        => Run(tokens, default, lengths, true, targets, weights, batch, seqLen, true);

    /// <summary>One training step on a packed batch of features (batch, seq, InputSize), post-padded, with lengths (batch).</summary>
    public T TrainStepPacked(ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> weights = default)
        => Run(x, default, lengths, true, targets, weights, batch, seqLen, true);

    /// <summary>The loss of one batch of token ids in evaluation mode (dropout off, nothing recorded or updated); sets <see cref="LastCorrect"/>.</summary>
    public T Evaluate(ReadOnlySpan<int> tokens, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> weights = default)
        => Run(tokens, mask, default, false, targets, weights, batch, seqLen, false);

    /// <summary>The loss of one batch of features in evaluation mode; sets <see cref="LastCorrect"/>.</summary>
    public T Evaluate(ReadOnlySpan<T> x, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> mask = default, ReadOnlySpan<T> weights = default)
        => Run(x, mask, default, false, targets, weights, batch, seqLen, false);

    /// <summary>The loss of one packed batch of token ids in evaluation mode; sets <see cref="LastCorrect"/>.</summary>
    public T EvaluatePacked(ReadOnlySpan<int> tokens, ReadOnlySpan<int> lengths, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> weights = default)
        => Run(tokens, default, lengths, true, targets, weights, batch, seqLen, false);

    /// <summary>The loss of one packed batch of features in evaluation mode; sets <see cref="LastCorrect"/>.</summary>
    public T EvaluatePacked(ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<TTarget> targets, int batch, int seqLen, ReadOnlySpan<T> weights = default)
        => Run(x, default, lengths, true, targets, weights, batch, seqLen, false);

    // The one path of every step and evaluation: a mask (or none) or lengths (packed), training or not.
    private T Run(ReadOnlySpan<int> tokens, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights,
        int batch, int seqLen, bool train)
    {
        Begin(train);
        return Finish(packed ? Model.ForwardPacked(tokens, lengths, batch, seqLen) : Model.Forward(tokens, mask, batch, seqLen), targets, weights, batch, seqLen, train);
    }

    private T Run(ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights,
        int batch, int seqLen, bool train)
    {
        Begin(train);
        return Finish(packed ? Model.ForwardPacked(x, lengths, batch, seqLen) : Model.Forward(x, mask, batch, seqLen), targets, weights, batch, seqLen, train);
    }

    private void Begin(bool train)
    {
        Model.Training = train;
        if (train) Model.ZeroGrad(); // the step owns the clearing: every model parameter, whether or not the optimizer moves it
    }

    // Loss and accuracy of the output; when training, also its gradient (written, not accumulated), Backward and the optimizer step.
    private T Finish(ReadOnlySpan<T> output, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights, int batch, int seqLen, bool train)
    {
        CheckTargets(targets, batch, seqLen);
        T loss = Loss.Forward(output, targets, weights);
        var grad = train ? Model.OutputGrad : default;
        if (train) Loss.Backward(grad, output, targets, weights);
        LastCorrect = Loss.Correct(output, targets, weights, out int counted);
        LastCounted = counted;
        if (!train) return loss;
        Model.Backward(grad, default, batch, seqLen);
        if (_clipValue > 0)
        {
            var ps = Optimizer.Parameters;
            T c = T.CreateTruncating(_clipValue);
            for (int i = 0; i < ps.Count; i++) Kernels.Vec.Clip<T>(ps[i].Grad, c); // no boxed enumerator
        }
        Optimizer.Step();
        return loss;
    }

    private void CheckTargets(ReadOnlySpan<TTarget> targets, int batch, int seqLen)
    {
        int expected = Model.OutputRows(batch, seqLen) * Loss.TargetsPerRow(Model.OutputSize);
        if (targets.Length != expected)
            throw new ArgumentException($"targets: expected {expected} elements ({Model.OutputRows(batch, seqLen)} output rows of the model for batch={batch}, seq={seqLen}), got {targets.Length}.", nameof(targets));
    }

    /// <summary>
    /// Keras's fit: <see cref="FitOptions.Epochs"/> epochs of shuffled mini-batches from <paramref name="train"/>, then
    /// the loss and accuracy on <paramref name="validation"/> (when given) each epoch; callbacks see every batch and epoch
    /// and may change the learning rate or stop. <typeparamref name="TInput"/> is int (token ids) or T (features).
    /// Cancelling <paramref name="cancel"/> stops before the next batch (or validation batch) and returns what ran,
    /// with <see cref="History.Cancelled"/> set. Allocates nothing per batch.
    /// </summary>
    public History Fit<TInput>(IBatchSource<TInput, TTarget> train, FitOptions? options = null, IBatchSource<TInput, TTarget>? validation = null,
        CancellationToken cancel = default) where TInput : unmanaged
    {
        ArgumentNullException.ThrowIfNull(train);
        options ??= new FitOptions();
        options.Validate();
        bool tokens = typeof(TInput) == typeof(int);
        if (!tokens && typeof(TInput) != typeof(T))
            throw new ArgumentException($"train: expected inputs of int (token ids) or {typeof(T).Name} (features), got {typeof(TInput).Name}.", nameof(train));
        if (tokens != Model.TakesTokens)
            throw new ArgumentException($"train: expected {(Model.TakesTokens ? "token ids (int)" : $"features ({typeof(T).Name})")} for this model, got {typeof(TInput).Name}.", nameof(train));
        CheckSource(train, nameof(train));
        if (validation != null)
        {
            CheckSource(validation, nameof(validation));
            if (validation.SeqLen != train.SeqLen)
                throw new ArgumentException($"validation: expected SeqLen {train.SeqLen} like the training data, got {validation.SeqLen}.", nameof(validation));
        }
        var callbacks = options.Callbacks.ToArray();
        var control = new Control(this, validation != null);
        int B = options.BatchSize, S = train.SeqLen;
        var xb = new TInput[B * train.InputsPerSample];
        var yb = new TTarget[B * train.TargetsPerSample];
        var lb = new int[B]; // the batch's lengths, packed sources only
        var mb = train is IMaskedBatchSource<TInput, TTarget, T> || validation is IMaskedBatchSource<TInput, TTarget, T> ? new T[B * S] : []; // (B, S), masked sources only
        var packedTrain = Packed(train);
        var shuffle = options.Shuffle ? options.ShuffleRng ?? new Rng(0) : null;
        if (options.BucketPool > 0 && packedTrain == null)
            throw new ArgumentException($"options.BucketPool: expected 0 unless the training source has lengths (IPackedBatchSource), got {options.BucketPool}.", nameof(options));
        var batcher = options.BucketPool > 0 ? new Batcher(packedTrain!.Lengths, B, shuffle, options.BucketPool) : new Batcher(train.Count, B, shuffle);
        var valBatcher = validation != null ? new Batcher(validation.Count, B, null) : null;
        var history = new History();
        foreach (var c in callbacks) c.OnTrainBegin(control);
        long ticks = Stopwatch.Frequency;
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            if (cancel.IsCancellationRequested) { history.Cancelled = true; break; }
            if (options.ResetStates) Model.ResetStates(); // a stateful model reads each epoch from zero states
            foreach (var c in callbacks) c.OnEpochBegin(control, epoch);
            long start = Stopwatch.GetTimestamp();
            batcher.StartEpoch();
            int nb = batcher.BatchesPerEpoch, done = 0;
            double lossSum = 0;
            long correct = 0, counted = 0, seen = 0;
            for (int k = 0; k < nb; k++)
            {
                if (cancel.IsCancellationRequested) break;
                var idx = batcher.Batch(k);
                int n = idx.Length;
                T loss = Batch(train, idx, xb, yb, mb, lb, true);
                lossSum += double.CreateTruncating(loss * T.CreateTruncating(n)); // the batch's mean times its size, in T as a caller writes it
                correct += LastCorrect; counted += LastCounted; seen += n; done++;
                var be = new BatchEnd(epoch, options.Epochs, done, nb, seen, lossSum / seen, double.CreateTruncating(loss),
                    counted > 0 ? (double)correct / counted : double.NaN, (double)(Stopwatch.GetTimestamp() - start) / ticks);
                history.LastBatch = be;
                foreach (var c in callbacks) c.OnBatchEnd(control, be);
            }
            double trainSeconds = (double)(Stopwatch.GetTimestamp() - start) / ticks;
            double trainLoss = seen > 0 ? lossSum / seen : double.NaN, trainAcc = counted > 0 ? (double)correct / counted : double.NaN;
            double valLoss = double.NaN, valAcc = double.NaN;
            bool complete = done == nb;
            if (complete && validation != null)
            {
                if (options.ResetStates) Model.ResetStates();
                (valLoss, valAcc) = Validate(validation, valBatcher!, xb, yb, mb, lb, cancel);
                complete = !double.IsNaN(valLoss) || !cancel.IsCancellationRequested;
            }
            var ee = new EpochEnd(epoch, options.Epochs, trainLoss, trainAcc, valLoss, valAcc, done, nb, trainSeconds,
                (double)(Stopwatch.GetTimestamp() - start) / ticks - trainSeconds, Optimizer.LearningRate, complete);
            history.Add(ee);
            if (!complete) { history.Cancelled = true; break; }
            foreach (var c in callbacks) c.OnEpochEnd(control, ee);
            if (control.StopTraining) { history.Stopped = true; break; }
        }
        Model.Training = false;
        foreach (var c in callbacks) c.OnTrainEnd(control, history);
        return history;
    }

    private static void CheckSource<TInput>(IBatchSource<TInput, TTarget> s, string name) where TInput : unmanaged
    {
        if (s.Count < 1) throw new ArgumentException($"{name}.Count: expected >= 1 samples, got {s.Count}.", name);
        if (s.SeqLen < 1) throw new ArgumentException($"{name}.SeqLen: expected >= 1, got {s.SeqLen}.", name);
        if (s.InputsPerSample < 1 || s.InputsPerSample % s.SeqLen != 0)
            throw new ArgumentException($"{name}.InputsPerSample: expected a positive multiple of SeqLen {s.SeqLen}, got {s.InputsPerSample}.", name);
        if (s.TargetsPerSample < 1) throw new ArgumentException($"{name}.TargetsPerSample: expected >= 1, got {s.TargetsPerSample}.", name);
        if (s is IMaskedBatchSource<TInput, TTarget, T> && Packed(s) != null)
            throw new ArgumentException($"{name}: expected either lengths (IPackedBatchSource) or a mask (IMaskedBatchSource), got a source with both.", name);
    }

    private static IPackedBatchSource<TInput, TTarget>? Packed<TInput>(IBatchSource<TInput, TTarget> s) where TInput : unmanaged
        => s is IPackedBatchSource<TInput, TTarget> { Lengths.IsEmpty: false } p ? p : null;

    // Gathers samples idx of src into the batch buffers and runs one training step or evaluation on them: packed with
    // the source's lengths, or with its mask (which also weights a per-step loss), or plain.
    private T Batch<TInput>(IBatchSource<TInput, TTarget> src, ReadOnlySpan<int> idx, TInput[] xb, TTarget[] yb, T[] mb, int[] lb, bool train) where TInput : unmanaged
    {
        int n = idx.Length, S = src.SeqLen;
        var xs = xb.AsSpan(0, n * src.InputsPerSample); var ys = yb.AsSpan(0, n * src.TargetsPerSample);
        Span<T> mask = default; Span<int> lengths = default;
        if (src is IMaskedBatchSource<TInput, TTarget, T> masked) { mask = mb.AsSpan(0, n * S); masked.Gather(idx, xs, ys, mask); }
        else src.Gather(idx, xs, ys);
        var packed = Packed(src);
        if (packed != null) { lengths = lb.AsSpan(0, n); Batcher.Gather<int>(lengths, packed.Lengths, idx, 1); }
        var weights = !mask.IsEmpty && Model.OutputIsSequence && Model.OutputRows(n, S) == n * S ? mask : default;
        return typeof(TInput) == typeof(int)
            ? Run(MemoryMarshal.Cast<TInput, int>(xs), mask, lengths, packed != null, ys, weights, n, S, train)
            : Run(MemoryMarshal.Cast<TInput, T>(xs), mask, lengths, packed != null, ys, weights, n, S, train);
    }

    // Mean loss (Σ batch mean · n / count) and accuracy over the whole source in order; (NaN, NaN) when cancelled first.
    private (double Loss, double Acc) Validate<TInput>(IBatchSource<TInput, TTarget> v, Batcher batcher, TInput[] xb, TTarget[] yb, T[] mb, int[] lb, CancellationToken cancel)
        where TInput : unmanaged
    {
        double lossSum = 0;
        long correct = 0, counted = 0;
        batcher.StartEpoch();
        for (int k = 0; k < batcher.BatchesPerEpoch; k++)
        {
            if (cancel.IsCancellationRequested) return (double.NaN, double.NaN);
            var idx = batcher.Batch(k);
            int n = idx.Length;
            T loss = Batch(v, idx, xb, yb, mb, lb, false);
            lossSum += double.CreateTruncating(loss * T.CreateTruncating(n));
            correct += LastCorrect; counted += LastCounted;
        }
        return (lossSum / v.Count, counted > 0 ? (double)correct / counted : double.NaN);
    }

    // What callbacks may read and change.
    private sealed class Control(Trainer<T, TTarget> owner, bool hasValidation) : IFitControl
    {
        private T[][]? _snapshot;
        public bool HasValidation => hasValidation;
        public double LearningRate { get => owner.Optimizer.LearningRate; set => owner.Optimizer.LearningRate = value; }
        public bool StopTraining { get; set; }
        public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? extra) => IO.Checkpoint.Save(owner.Model, path, extra);
        public void CaptureWeights()
        {
            var ps = owner.Model.Parameters;
            _snapshot ??= ps.Select(p => new T[p.Length]).ToArray();
            for (int i = 0; i < ps.Count; i++) ps[i].Value.CopyTo(_snapshot[i], 0);
        }
        public bool RestoreWeights()
        {
            if (_snapshot == null) return false;
            var ps = owner.Model.Parameters;
            for (int i = 0; i < ps.Count; i++) _snapshot[i].CopyTo(ps[i].Value, 0);
            return true;
        }
    }
}
