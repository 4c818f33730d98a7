using Rnn.Data;
using Rnn.Init;

namespace Rnn.Models;

/// <summary>
/// Where <see cref="Trainer{T, TTarget}.Fit{TInput}"/> reads samples: <see cref="Count"/> samples of
/// <see cref="InputsPerSample"/> inputs (SeqLen token ids, or SeqLen·features values) and <see cref="TargetsPerSample"/>
/// targets, copied a batch at a time by <see cref="Gather"/> into buffers Fit owns (so a source may generate or decode
/// samples on demand).
/// </summary>
public interface IBatchSource<TInput, TTarget> where TInput : unmanaged where TTarget : unmanaged
{
    /// <summary>Samples.</summary>
    int Count { get; }
    /// <summary>Steps per sample.</summary>
    int SeqLen { get; }
    /// <summary>Inputs per sample: SeqLen (token ids) or SeqLen·features.</summary>
    int InputsPerSample { get; }
    /// <summary>Targets per sample (1 per sequence, or one per output step).</summary>
    int TargetsPerSample { get; }
    /// <summary>Copies samples <paramref name="indices"/> into inputs (n, InputsPerSample) and targets (n, TargetsPerSample).</summary>
    void Gather(ReadOnlySpan<int> indices, Span<TInput> inputs, Span<TTarget> targets);
}

/// <summary>
/// A batch source of variable-length sequences: each sample's real steps (1..SeqLen, its inputs post-padded). Fit
/// runs its batches packed (each row only its real steps) and can bucket them by length (<see cref="FitOptions.BucketPool"/>).
/// </summary>
public interface IPackedBatchSource<TInput, TTarget> : IBatchSource<TInput, TTarget> where TInput : unmanaged where TTarget : unmanaged
{
    /// <summary>(Count) each sample's length.</summary>
    ReadOnlySpan<int> Lengths { get; }
}

/// <summary>
/// A batch source with a (SeqLen) 0/1 mask per sample (e.g. sequences of different lengths padded anywhere, or batches
/// generated on demand with their masks). Fit calls this Gather instead of the plain one and passes the (n, SeqLen)
/// mask to the model; when the model's output has a row per input step, the mask also weights the loss per step.
/// <typeparamref name="TMask"/> is the model's element type. A source gives either a mask or lengths, not both.
/// </summary>
public interface IMaskedBatchSource<TInput, TTarget, TMask> : IBatchSource<TInput, TTarget>
    where TInput : unmanaged where TTarget : unmanaged where TMask : unmanaged
{
    /// <summary>Copies samples <paramref name="indices"/> into inputs, targets and mask (n, SeqLen).</summary>
    void Gather(ReadOnlySpan<int> indices, Span<TInput> inputs, Span<TTarget> targets, Span<TMask> mask);
}

/// <summary>A batch source over two row-major arrays: inputs (Count, InputsPerSample) and targets (Count, TargetsPerSample).</summary>
public sealed class ArrayBatchSource<TInput, TTarget> : IPackedBatchSource<TInput, TTarget> where TInput : unmanaged where TTarget : unmanaged
{
    private readonly TInput[] _x;
    private readonly TTarget[] _y;
    private readonly int[]? _lengths;

    /// <summary>(Count) each sample's real steps when built with lengths (Fit then runs packed batches); else empty.</summary>
    public ReadOnlySpan<int> Lengths => _lengths;

    /// <inheritdoc/>
    public int Count { get; }
    /// <inheritdoc/>
    public int SeqLen { get; }
    /// <inheritdoc/>
    public int InputsPerSample { get; }
    /// <inheritdoc/>
    public int TargetsPerSample { get; }

    /// <summary>Wraps the arrays (not copied): <paramref name="count"/> samples of <paramref name="seqLen"/> steps.</summary>
    public ArrayBatchSource(TInput[] inputs, TTarget[] targets, int count, int seqLen)
    {
        ArgumentNullException.ThrowIfNull(inputs); ArgumentNullException.ThrowIfNull(targets);
        Guard.AtLeast(count, 1); Guard.AtLeast(seqLen, 1);
        if (inputs.Length == 0 || inputs.Length % ((long)count * seqLen) != 0)
            throw new ArgumentException($"inputs: expected a positive multiple of count·seqLen = {(long)count * seqLen} elements, got {inputs.Length}.", nameof(inputs));
        if (targets.Length == 0 || targets.Length % count != 0)
            throw new ArgumentException($"targets: expected a positive multiple of count = {count} elements, got {targets.Length}.", nameof(targets));
        _x = inputs; _y = targets; Count = count; SeqLen = seqLen;
        InputsPerSample = inputs.Length / count; TargetsPerSample = targets.Length / count;
    }

    /// <summary>
    /// Wraps the arrays of variable-length samples: inputs post-padded, lengths (count) each sample's real steps,
    /// each in 1..seqLen. Fit then trains on packed batches (each row only its real steps).
    /// </summary>
    public ArrayBatchSource(TInput[] inputs, TTarget[] targets, int[] lengths, int count, int seqLen) : this(inputs, targets, count, seqLen)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        Layers.SequenceLengths.Check(lengths, count, seqLen);
        _lengths = lengths;
    }

    /// <inheritdoc/>
    public void Gather(ReadOnlySpan<int> indices, Span<TInput> inputs, Span<TTarget> targets)
    {
        Batcher.Gather(inputs, _x, indices, InputsPerSample);
        Batcher.Gather(targets, _y, indices, TargetsPerSample);
    }
}

/// <summary>The settings of <see cref="Trainer{T, TTarget}.Fit{TInput}"/>.</summary>
public sealed class FitOptions
{
    /// <summary>Epochs (≥ 1).</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Samples per batch (≥ 1); the last batch may be smaller. Validation uses the same size.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Reshuffle the training samples each epoch (Keras's shuffle=True).</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>The generator of the shuffles (the same one gives the same order); null: <c>new Rng(0)</c>.</summary>
    public Rng? ShuffleRng { get; init; }
    /// <summary>
    /// With a packed source: batches of similar lengths, drawn from pools of this many batches sorted by length, the
    /// batch order shuffled (seeded by <see cref="ShuffleRng"/>); 0 = off. Less padding per batch, so fewer steps.
    /// </summary>
    public int BucketPool { get; init; }
    /// <summary>
    /// Reset the carried states of a stateful model (<see cref="RecurrentSpec.Stateful"/>) before each epoch and before
    /// its validation (Keras users write this callback themselves); no effect on other models. Run a stateful
    /// model's source unshuffled, its batches in reading order, each a multiple of the batch size.
    /// </summary>
    public bool ResetStates { get; init; } = true;
    /// <summary>Called in order at every event.</summary>
    public IReadOnlyList<Callback> Callbacks { get; init; } = [];

    internal void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"options.Epochs: expected >= 1, got {Epochs}.");
        if (BucketPool < 0) throw new ArgumentOutOfRangeException(nameof(BucketPool), BucketPool, $"options.BucketPool: expected 0 (off) or more batches per pool, got {BucketPool}.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"options.BatchSize: expected >= 1, got {BatchSize}.");
        if (Callbacks == null) throw new ArgumentNullException(nameof(Callbacks), "options.Callbacks: expected a list (empty for none), got null.");
        for (int i = 0; i < Callbacks.Count; i++)
            if (Callbacks[i] == null) throw new ArgumentException($"options.Callbacks[{i}]: expected a callback, got null.", nameof(Callbacks));
    }
}

/// <summary>After each training batch: running means over the epoch so far.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="Batch">Batches done this epoch (1-based).</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Samples">Samples seen this epoch.</param>
/// <param name="Loss">Mean loss over the epoch so far (each batch weighted by its size).</param>
/// <param name="BatchLoss">This batch's loss.</param>
/// <param name="Accuracy">Accuracy over the epoch so far; NaN when the loss has none.</param>
/// <param name="Seconds">Seconds since the epoch began.</param>
public readonly record struct BatchEnd(int Epoch, int Epochs, int Batch, int Batches, long Samples, double Loss, double BatchLoss, double Accuracy, double Seconds);

/// <summary>After each epoch (and its validation).</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="Loss">Mean training loss.</param>
/// <param name="Accuracy">Training accuracy; NaN when the loss has none.</param>
/// <param name="ValLoss">Validation loss; NaN without validation data.</param>
/// <param name="ValAccuracy">Validation accuracy; NaN without validation data.</param>
/// <param name="Batches">Batches run (fewer than <paramref name="BatchesPerEpoch"/> when cancelled).</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="Seconds">Training seconds.</param>
/// <param name="ValSeconds">Validation seconds.</param>
/// <param name="LearningRate">The learning rate the epoch trained with.</param>
/// <param name="Complete">False when cancelled during the epoch or its validation.</param>
public readonly record struct EpochEnd(int Epoch, int Epochs, double Loss, double Accuracy, double ValLoss, double ValAccuracy,
    int Batches, int BatchesPerEpoch, double Seconds, double ValSeconds, double LearningRate, bool Complete)
{
    /// <summary>The monitored quantity.</summary>
    public double Get(Metric m) => m switch
    {
        Metric.Loss => Loss,
        Metric.Accuracy => Accuracy,
        Metric.ValLoss => ValLoss,
        Metric.ValAccuracy => ValAccuracy,
        _ => throw new ArgumentOutOfRangeException(nameof(m), m, $"m: expected a Metric, got {m}."),
    };
}

/// <summary>A quantity callbacks watch: losses improve downwards, accuracies upwards.</summary>
public enum Metric
{
    /// <summary>Training loss.</summary>
    Loss,
    /// <summary>Training accuracy.</summary>
    Accuracy,
    /// <summary>Validation loss (Keras's default "val_loss").</summary>
    ValLoss,
    /// <summary>Validation accuracy.</summary>
    ValAccuracy,
}

/// <summary>What <see cref="Trainer{T, TTarget}.Fit{TInput}"/> returns: every epoch's metrics, and how it ended.</summary>
public sealed class History
{
    private readonly List<EpochEnd> _epochs = [];
    /// <summary>Every epoch run, in order (the last one incomplete when <see cref="Cancelled"/>).</summary>
    public IReadOnlyList<EpochEnd> Epochs => _epochs;
    /// <summary>The cancellation token stopped the run.</summary>
    public bool Cancelled { get; internal set; }
    /// <summary>A callback stopped the run (early stopping).</summary>
    public bool Stopped { get; internal set; }
    /// <summary>The last training batch's event (default before any batch).</summary>
    public BatchEnd LastBatch { get; internal set; }
    internal void Add(EpochEnd e) => _epochs.Add(e);
}

/// <summary>What a callback may read and change during a fit.</summary>
public interface IFitControl
{
    /// <summary>True when Fit has validation data (Val* monitors are defined).</summary>
    bool HasValidation { get; }
    /// <summary>The optimizer's learning rate (set it to schedule).</summary>
    double LearningRate { get; set; }
    /// <summary>Set true to end the fit after the current epoch.</summary>
    bool StopTraining { get; set; }
    /// <summary>Saves the model as a checkpoint (atomically: temp file, flush, rename).</summary>
    void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? extra);
    /// <summary>Copies every weight aside (one buffer, reused).</summary>
    void CaptureWeights();
    /// <summary>Writes the captured weights back; false when none were captured.</summary>
    bool RestoreWeights();
}

/// <summary>Keras's callbacks: override the events of interest. One instance serves one fit at a time.</summary>
public abstract class Callback
{
    /// <summary>Before the first epoch.</summary>
    public virtual void OnTrainBegin(IFitControl fit) { }
    /// <summary>Before an epoch's first batch.</summary>
    public virtual void OnEpochBegin(IFitControl fit, int epoch) { }
    /// <summary>After each training batch.</summary>
    public virtual void OnBatchEnd(IFitControl fit, in BatchEnd batch) { }
    /// <summary>After each complete epoch and its validation.</summary>
    public virtual void OnEpochEnd(IFitControl fit, in EpochEnd epoch) { }
    /// <summary>After the last epoch, or when stopped or cancelled.</summary>
    public virtual void OnTrainEnd(IFitControl fit, History history) { }

    /// <summary>Throws when a Val* monitor has no validation data.</summary>
    protected static void CheckMonitor(IFitControl fit, Metric monitor)
    {
        ArgumentNullException.ThrowIfNull(fit);
        if (!Enum.IsDefined(monitor)) throw new ArgumentOutOfRangeException(nameof(monitor), monitor, $"monitor: expected a Metric, got {monitor}.");
        if (monitor is Metric.ValLoss or Metric.ValAccuracy && !fit.HasValidation)
            throw new InvalidOperationException($"monitor: {monitor} needs validation data; pass validation to Fit or monitor Loss/Accuracy.");
    }

    /// <summary>True when <paramref name="current"/> beats <paramref name="best"/> by more than minDelta in the monitor's direction.</summary>
    protected static bool Improved(Metric monitor, double current, double best, double minDelta)
        => double.IsNaN(best) ? !double.IsNaN(current)
        : monitor is Metric.Loss or Metric.ValLoss ? current < best - minDelta : current > best + minDelta;
}

/// <summary>Progress events as delegates: per batch (a progress line) and per epoch (a report row).</summary>
public sealed class ProgressCallback(Action<BatchEnd>? onBatch, Action<EpochEnd>? onEpoch) : Callback
{
    /// <inheritdoc/>
    public override void OnBatchEnd(IFitControl fit, in BatchEnd batch) => onBatch?.Invoke(batch);
    /// <inheritdoc/>
    public override void OnEpochEnd(IFitControl fit, in EpochEnd epoch) => onEpoch?.Invoke(epoch);
}

/// <summary>
/// Keras's EarlyStopping: stops when <see cref="Watched"/> has not improved by more than <see cref="MinDelta"/> for
/// <see cref="Patience"/> epochs in a row (patience 0 and 1 both stop at the first epoch without improvement, as in
/// Keras); optionally restores the best epoch's weights at the end.
/// </summary>
public sealed class EarlyStopping : Callback
{
    /// <summary>The monitored quantity.</summary>
    public Metric Watched { get; }
    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }
    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }
    /// <summary>Write the best epoch's weights back when the fit ends.</summary>
    public bool RestoreBestWeights { get; }
    /// <summary>The best value seen, and its epoch (0 before any).</summary>
    public double Best { get; private set; } = double.NaN;
    /// <summary>The epoch of <see cref="Best"/>.</summary>
    public int BestEpoch { get; private set; }
    /// <summary>The epoch after which the fit was stopped; 0 if it was not.</summary>
    public int StoppedEpoch { get; private set; }
    private int _wait;

    /// <summary>Creates the callback.</summary>
    public EarlyStopping(Metric monitor = Metric.ValLoss, int patience = 0, double minDelta = 0, bool restoreBestWeights = false)
    {
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, $"patience: expected >= 0, got {patience}.");
        if (!(minDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, $"minDelta: expected >= 0, got {minDelta}.");
        Watched = monitor; Patience = patience; MinDelta = minDelta; RestoreBestWeights = restoreBestWeights;
    }

    /// <inheritdoc/>
    public override void OnTrainBegin(IFitControl fit)
    {
        CheckMonitor(fit, Watched);
        Best = double.NaN; BestEpoch = 0; StoppedEpoch = 0; _wait = 0;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(IFitControl fit, in EpochEnd epoch)
    {
        double v = epoch.Get(Watched);
        if (Improved(Watched, v, Best, MinDelta))
        {
            Best = v; BestEpoch = epoch.Epoch; _wait = 0;
            if (RestoreBestWeights) fit.CaptureWeights();
            return;
        }
        if (++_wait >= Patience) { fit.StopTraining = true; StoppedEpoch = epoch.Epoch; } // as Keras: wait reaching patience stops
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(IFitControl fit, History history)
    {
        if (RestoreBestWeights && BestEpoch > 0) fit.RestoreWeights();
    }
}

/// <summary>
/// Keras's ModelCheckpoint(save_best_only=True): saves the model to <see cref="Path"/> each time <see cref="Watched"/>
/// improves, atomically (a crash mid-save leaves the previous best intact).
/// </summary>
public sealed class BestCheckpoint : Callback
{
    /// <summary>The checkpoint file.</summary>
    public string Path { get; }
    /// <summary>The monitored quantity.</summary>
    public Metric Watched { get; }
    /// <summary>The best value so far.</summary>
    public double Best { get; private set; } = double.NaN;
    /// <summary>The epoch of the saved checkpoint (0 before any).</summary>
    public int BestEpoch { get; private set; }
    private readonly IReadOnlyDictionary<string, string>? _extra;

    /// <summary>Creates the callback; <paramref name="extra"/> is written into the checkpoint's metadata.</summary>
    public BestCheckpoint(string path, Metric monitor = Metric.ValLoss, IReadOnlyDictionary<string, string>? extra = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path; Watched = monitor; _extra = extra;
    }

    /// <inheritdoc/>
    public override void OnTrainBegin(IFitControl fit) { CheckMonitor(fit, Watched); Best = double.NaN; BestEpoch = 0; }

    /// <inheritdoc/>
    public override void OnEpochEnd(IFitControl fit, in EpochEnd epoch)
    {
        double v = epoch.Get(Watched);
        if (!Improved(Watched, v, Best, 0)) return;
        Best = v; BestEpoch = epoch.Epoch;
        fit.SaveCheckpoint(Path, _extra);
    }
}
