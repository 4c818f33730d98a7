using System.Diagnostics;
using System.Globalization;
using Rnn.Init;
using Rnn.IO;
using Rnn.Optimizers;
using Rnn.Samples.Common;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// char-rnn's training loop (train.lua with its defaults): the training text (the first 95%) is cut into
/// <c>batch</c> contiguous streams read <c>seq</c> characters at a time, so consecutive batches continue each
/// stream and the LSTM state is carried across them (reset at each epoch); mean cross-entropy per character,
/// gradients clamped to [−clip, clip], RMSprop (lr 2e-3, decay 0.95, ε 1e-8), lr × 0.97 per epoch after the 10th.
/// The held-out last 5% of the text gives the validation loss after each epoch.
/// </summary>
public static class CharLstmTrainer
{
    /// <summary>Trains, reports and samples; returns the exit code. <paramref name="cancel"/> stops it after the current batch.</summary>
    public static int Run(CharRnnOptions o, CharData data, CancelFlag cancel)
    {
        int B = o.Batch, S = o.Seq, n = data.Ids.Length;
        int trainLen = n - n / 20;
        var train = data.Ids.AsSpan(0, trainLen).ToArray();
        var val = data.Ids.AsSpan(trainLen).ToArray();
        int batches = (train.Length - 1) / (B * S);
        if (batches < 1) throw new UsageException($"charrnn: the training text ({train.Length} characters) is too short for --batch {B} x --seq {S}.");
        int valBatch = Math.Min(B, (val.Length - 1) / S), valBatches = valBatch > 0 ? (val.Length - 1) / (valBatch * S) : 0;

        Console.WriteLine($"charrnn (char-rnn LSTM): {n} characters, {data.V} unique ({data.Source}); {o.Layers} x LSTM({o.Hidden}), " +
                          $"seq {S}, batch {B}, dropout {o.Dropout.ToString(CultureInfo.InvariantCulture)}, RMSprop lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                          $"clip {o.Clip.ToString(CultureInfo.InvariantCulture)}, {batches} batches/epoch, validation {val.Length} characters, seed {o.Seed}, threads {o.Threads}");
        var rng = new Rng(o.Seed);
        var sampleRng = new Rng(o.Seed ^ 0x5A5A5A5AUL);
        using var model = new CharLstm<float>(data.V, o.Hidden, o.Layers, o.Dropout, rng);
        var opt = new RmsProp<float>(model.Parameters, o.LearningRate, rho: 0.95, epsilon: 1e-8);
        var report = CharRnnSample.NewReport(o, data).Config("epochs", o.Epochs).Config("lr_decay", o.LrDecay).Config("lr_decay_after", o.LrDecayAfter);
        var x = new int[B * S]; var y = new int[B * S];
        var progress = new Progress(o.Quiet);
        var total = Stopwatch.StartNew();
        int completed = 0;
        for (int epoch = 1; epoch <= o.Epochs && !cancel.Requested; epoch++)
        {
            progress.StartEpoch();
            var state = model.NewState(B);
            double sum = 0; int done = 0;
            for (int i = 0; i < batches && !cancel.Requested; i++)
            {
                Cut(train, x, y, B, S, batches, i);
                opt.ZeroGrad();
                model.Forward(x, state, B, S);
                float loss = model.Backward(y, B, S);
                if (o.Clip > 0) GradClip.ClipValue(opt.Parameters, o.Clip);
                opt.Step();
                sum += loss; done++;
                progress.Update(epoch, o.Epochs, i + 1, batches, (i + 1) * B * S, sum / done);
            }
            if (cancel.Requested)
            {
                // A partial epoch: its training loss and how many batches ran; no validation.
                progress.Clear();
                Console.WriteLine($"interrupted in epoch {epoch} after {done} of {batches} batches.");
                if (done > 0) report.Epoch(("epoch", epoch), ("train_loss", sum / done), ("lr", opt.LearningRate), ("batches", done), ("seconds", progress.Seconds));
                break;
            }
            double seconds = progress.Seconds;
            double valLoss = valBatches > 0 ? Validate(model, val, valBatch, S, valBatches) : double.NaN;
            Console.WriteLine($"Epoch {epoch}: train loss {sum / done:F4}  validation loss {valLoss:F4} nats/char  ({seconds:F1}s, {batches * B * S / seconds:F0} chars/s, lr {opt.LearningRate:G3})");
            if (o.SampleLength > 0)
            {
                int seed = data.IdOf('\n') >= 0 ? data.IdOf('\n') : data.Ids[0];
                var ids = model.Sample([seed], o.SampleLength, sampleRng, o.Temperature);
                Console.WriteLine("----\n" + CharData.Printable(new string(ids.Select(i => data.Vocab[i]).ToArray())) + "\n----");
            }
            report.Epoch(("epoch", epoch), ("train_loss", sum / done), ("validation_loss", valLoss), ("lr", opt.LearningRate), ("batches", batches), ("seconds", seconds));
            completed = epoch;
            if (o.Report != null) report.Save(o.Report);
            if (epoch >= o.LrDecayAfter) opt.LearningRate *= o.LrDecay;
        }
        report.Summary("epochs_completed", completed);
        report.Summary("total_seconds", total.Elapsed.TotalSeconds);
        CharRnnSample.Finish(o, report, cancel.Requested, path => CharRnnSample.Save(path, model.NamedParameters, data, o), ["train_loss", "validation_loss"],
            $"charrnn lstm: {o.Layers} x LSTM({o.Hidden}), seq {S}, batch {B}, RMSprop lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, {n} chars, V = {data.V}, seed {o.Seed}", total.Elapsed);
        return 0;
    }

    /// <summary>
    /// Batch i of char-rnn's layout: the text is split into B contiguous streams of batches·S characters;
    /// row b of batch i is stream b's characters [i·S, (i+1)·S), targets shifted by one.
    /// </summary>
    public static void Cut(ReadOnlySpan<int> text, Span<int> x, Span<int> y, int batch, int seq, int batches, int i)
    {
        int stream = batches * seq;
        for (int b = 0; b < batch; b++)
        {
            int from = b * stream + i * seq;
            text.Slice(from, seq).CopyTo(x.Slice(b * seq, seq));
            text.Slice(from + 1, seq).CopyTo(y.Slice(b * seq, seq));
        }
    }

    /// <summary>Mean cross-entropy per character over the held-out text, state carried across its batches (dropout off).</summary>
    public static double Validate(CharLstm<float> model, int[] val, int batch, int seq, int batches)
    {
        var x = new int[batch * seq]; var y = new int[batch * seq];
        var state = model.NewState(batch);
        model.Training = false;
        double sum = 0;
        try
        {
            for (int i = 0; i < batches; i++)
            {
                Cut(val, x, y, batch, seq, batches, i);
                var logits = model.Forward(x, state, batch, seq);
                sum += Models.TimeDistributed<float>.Loss(logits, y, default, batch, seq, model.V);
            }
        }
        finally { model.Training = true; }
        return sum / batches;
    }
}
