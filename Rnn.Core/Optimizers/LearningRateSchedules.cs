using Rnn.Models;

namespace Rnn.Optimizers;

/// <summary>
/// A learning rate per epoch from the optimizer's rate at the start of the fit (lr₀), set before each epoch
/// (Keras's LearningRateScheduler). Epochs count from 1.
/// </summary>
public abstract class LearningRateSchedule : Callback
{
    /// <summary>The rate the fit started with.</summary>
    public double Initial { get; private set; }

    /// <summary>The rate for <paramref name="epoch"/> (1-based) from lr₀.</summary>
    public abstract double Rate(int epoch, double initial);

    /// <inheritdoc/>
    public override void OnTrainBegin(IFitControl fit)
    {
        ArgumentNullException.ThrowIfNull(fit);
        Initial = fit.LearningRate;
    }

    /// <inheritdoc/>
    public override void OnEpochBegin(IFitControl fit, int epoch)
    {
        ArgumentNullException.ThrowIfNull(fit);
        fit.LearningRate = Rate(epoch, Initial);
    }
}

/// <summary>lr₀ · factor^⌊(epoch − 1)/every⌋: the rate times factor every `every` epochs (Keras's step decay).</summary>
public sealed class StepDecay : LearningRateSchedule
{
    private readonly double _factor;
    private readonly int _every;

    /// <summary>Creates the schedule: factor in (0, 1], every ≥ 1.</summary>
    public StepDecay(double factor, int every)
    {
        if (!(factor > 0 && factor <= 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, $"factor: expected a value in (0, 1], got {factor}.");
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, $"every: expected >= 1, got {every}.");
        _factor = factor; _every = every;
    }

    /// <inheritdoc/>
    public override double Rate(int epoch, double initial) => initial * Math.Pow(_factor, (epoch - 1) / _every);
}

/// <summary>lr₀ · rate^(epoch − 1).</summary>
public sealed class ExponentialDecay : LearningRateSchedule
{
    private readonly double _rate;

    /// <summary>Creates the schedule: rate in (0, 1].</summary>
    public ExponentialDecay(double rate)
    {
        if (!(rate > 0 && rate <= 1)) throw new ArgumentOutOfRangeException(nameof(rate), rate, $"rate: expected a value in (0, 1], got {rate}.");
        _rate = rate;
    }

    /// <inheritdoc/>
    public override double Rate(int epoch, double initial) => initial * Math.Pow(_rate, epoch - 1);
}

/// <summary>Cosine annealing: min + (lr₀ − min)·(1 + cos(π·(epoch − 1)/epochs))/2, from lr₀ at epoch 1 towards min.</summary>
public sealed class CosineDecay : LearningRateSchedule
{
    private readonly int _epochs;
    private readonly double _min;

    /// <summary>Creates the schedule over <paramref name="epochs"/> epochs (≥ 1), down to <paramref name="minLearningRate"/> (≥ 0).</summary>
    public CosineDecay(int epochs, double minLearningRate = 0)
    {
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, $"epochs: expected >= 1, got {epochs}.");
        if (!(minLearningRate >= 0) || !double.IsFinite(minLearningRate))
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, $"minLearningRate: expected a finite value >= 0, got {minLearningRate}.");
        _epochs = epochs; _min = minLearningRate;
    }

    /// <inheritdoc/>
    public override double Rate(int epoch, double initial)
    {
        double r = _min + (initial - _min) * (1 + Math.Cos(Math.PI * Math.Min(epoch - 1, _epochs) / _epochs)) / 2;
        return r > 0 ? r : double.Epsilon; // the optimizer takes only rates > 0
    }
}

/// <summary>
/// Keras's ReduceLROnPlateau: when <see cref="Watched"/> has not improved by more than minDelta for patience epochs,
/// the rate is multiplied by factor (not below minLearningRate), then cooldown epochs pass before counting again.
/// </summary>
public sealed class ReduceLROnPlateau : Callback
{
    /// <summary>The monitored quantity.</summary>
    public Metric Watched { get; }
    private readonly double _factor, _minDelta, _min;
    private readonly int _patience, _cooldown;
    private double _best = double.NaN;
    private int _wait, _cooldownLeft;

    /// <summary>Creates the callback (Keras's defaults: factor 0.1, patience 10, minDelta 1e-4, cooldown 0, min 0).</summary>
    public ReduceLROnPlateau(Metric monitor = Metric.ValLoss, double factor = 0.1, int patience = 10, double minDelta = 1e-4, int cooldown = 0, double minLearningRate = 0)
    {
        if (!(factor > 0 && factor < 1)) throw new ArgumentOutOfRangeException(nameof(factor), factor, $"factor: expected a value in (0, 1), got {factor}.");
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, $"patience: expected >= 0, got {patience}.");
        if (!(minDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, $"minDelta: expected >= 0, got {minDelta}.");
        if (cooldown < 0) throw new ArgumentOutOfRangeException(nameof(cooldown), cooldown, $"cooldown: expected >= 0, got {cooldown}.");
        if (!(minLearningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, $"minLearningRate: expected >= 0, got {minLearningRate}.");
        Watched = monitor; _factor = factor; _patience = patience; _minDelta = minDelta; _cooldown = cooldown; _min = minLearningRate;
    }

    /// <inheritdoc/>
    public override void OnTrainBegin(IFitControl fit)
    {
        CheckMonitor(fit, Watched);
        _best = double.NaN; _wait = 0; _cooldownLeft = 0;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(IFitControl fit, in EpochEnd epoch)
    {
        ArgumentNullException.ThrowIfNull(fit);
        double v = epoch.Get(Watched);
        if (_cooldownLeft > 0) { _cooldownLeft--; _wait = 0; }
        if (Improved(Watched, v, _best, _minDelta)) { _best = v; _wait = 0; return; }
        if (_cooldownLeft > 0 || ++_wait < _patience) return; // as Keras: reduce once wait reaches patience
        double lr = fit.LearningRate;
        if (lr > _min)
        {
            double next = Math.Max(lr * _factor, _min);
            if (next > 0) fit.LearningRate = next;
            _cooldownLeft = _cooldown; _wait = 0;
        }
    }
}
