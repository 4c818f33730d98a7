using Rnn.Models;

namespace Rnn.Samples.Common;

/// <summary>
/// The samples' Fit callback: the progress line per batch, and per epoch the line printed and the row added to the
/// report (train and test loss and accuracy, seconds); the report is saved after each epoch when --report is given.
/// A sample with its own metrics passes <paramref name="onEpoch"/>, which then prints the line and adds the row itself
/// (and may stop the fit).
/// </summary>
public sealed class FitProgress(Progress progress, Report report, string? reportPath, Action<IFitControl, EpochEnd>? onEpoch = null) : Callback
{
    /// <summary>The best test accuracy and its epoch.</summary>
    public double Best { get; private set; }
    /// <summary>The epoch of <see cref="Best"/>.</summary>
    public int BestEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnEpochBegin(IFitControl fit, int epoch) => progress.StartEpoch();

    /// <inheritdoc/>
    public override void OnBatchEnd(IFitControl fit, in BatchEnd batch) => progress.Update(batch.Epoch, batch.Epochs, batch.Batch, batch.Batches, (int)batch.Samples, batch.Loss);

    /// <inheritdoc/>
    public override void OnEpochEnd(IFitControl fit, in EpochEnd epoch)
    {
        var e = epoch;
        if (onEpoch != null)
        {
            onEpoch(fit, e);
            if (reportPath != null) report.Save(reportPath);
            return;
        }
        Console.WriteLine($"Epoch {e.Epoch}/{e.Epochs}: train loss {e.Loss:F4} acc {e.Accuracy:F4} | test loss {e.ValLoss:F4} acc {e.ValAccuracy:F4} | {e.Seconds:F1}s train, {e.ValSeconds:F1}s test");
        report.Epoch(("epoch", e.Epoch), ("train_loss", e.Loss), ("train_acc", e.Accuracy), ("test_loss", e.ValLoss), ("test_acc", e.ValAccuracy), ("batches", e.BatchesPerEpoch), ("seconds", e.Seconds), ("eval_seconds", e.ValSeconds));
        if (e.ValAccuracy > Best) { Best = e.ValAccuracy; BestEpoch = e.Epoch; }
        if (reportPath != null) report.Save(reportPath);
    }

    /// <summary>After a cancelled fit: says where it stopped and reports the partial epoch's training metrics.</summary>
    public void Interrupted(History h)
    {
        if (!h.Cancelled || h.Epochs.Count == 0 || h.Epochs[^1].Complete) return;
        var e = h.Epochs[^1];
        progress.Clear();
        if (e.Batches < e.BatchesPerEpoch)
        {
            Console.WriteLine($"interrupted in epoch {e.Epoch} after {e.Batches} of {e.BatchesPerEpoch} batches.");
            if (e.Batches > 0) report.Epoch(("epoch", e.Epoch), ("train_loss", e.Loss), ("train_acc", e.Accuracy), ("batches", e.Batches), ("seconds", e.Seconds));
        }
        else
        {
            Console.WriteLine($"interrupted in epoch {e.Epoch} during the test pass: train loss {e.Loss:F4} acc {e.Accuracy:F4}.");
            report.Epoch(("epoch", e.Epoch), ("train_loss", e.Loss), ("train_acc", e.Accuracy), ("batches", e.Batches), ("seconds", e.Seconds));
        }
    }
}
