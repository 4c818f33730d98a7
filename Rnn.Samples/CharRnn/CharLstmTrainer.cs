using System.Globalization;
using Rnn.Init;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;
using Rnn.Samples.Common;

namespace Rnn.Samples.CharRnn;

/// <summary>
/// char-rnn (Karpathy's Lua char-rnn, train.lua with its defaults) on <see cref="Model{T}"/>: one-hot characters →
/// N stateful LSTM layers (dropout between them and on the top h) → Dense(V) at every step, softmax cross-entropy
/// per character. The training text (the first 95%) is cut into <c>batch</c> contiguous streams read <c>seq</c>
/// characters at a time, so consecutive batches continue each stream and the LSTM states are carried across them
/// (reset at each epoch): truncated BPTT. Gradients clamped to [−clip, clip], RMSprop (lr 2e-3, decay 0.95, ε 1e-8),
/// lr × 0.97 per epoch after the 10th. The held-out last 5% gives the validation loss after each epoch.
/// </summary>
public static class CharLstmTrainer
{
    /// <summary>Trains, reports and samples; returns the exit code. <paramref name="cancel"/> stops it after the current batch.</summary>
    public static int Run(CharRnnOptions o, CharData data, CancelFlag cancel)
    {
        int B = o.Batch, S = o.Seq, n = data.Ids.Length, V = data.V;
        int trainLen = n - n / 20;
        var train = data.Ids.AsSpan(0, trainLen).ToArray();
        var val = data.Ids.AsSpan(trainLen).ToArray();
        int batches = (train.Length - 1) / (B * S);
        if (batches < 1) throw new UsageException($"charrnn: the training text ({train.Length} characters) is too short for --batch {B} x --seq {S}.");
        int valBatch = Math.Min(B, (val.Length - 1) / S), valBatches = valBatch > 0 ? (val.Length - 1) / (valBatch * S) : 0;

        Console.WriteLine($"charrnn (char-rnn LSTM): {n} characters, {V} unique ({data.Source}); {o.Layers} x LSTM({o.Hidden}), " +
                          $"seq {S}, batch {B}, dropout {o.Dropout.ToString(CultureInfo.InvariantCulture)}, RMSprop lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                          $"clip {o.Clip.ToString(CultureInfo.InvariantCulture)}, {batches} batches/epoch, validation {val.Length} characters, seed {o.Seed}, threads {o.Threads}");
        var rng = new Rng(o.Seed);
        var sampleRng = new Rng(o.Seed ^ 0x5A5A5A5AUL);
        using var model = Build(V, o.Hidden, o.Layers, o.Dropout, rng);
        var trainer = new Trainer<float, int>(model, new SoftmaxCrossEntropyLoss<float>(V), new RmsProp<float>(model.Parameters, o.LearningRate, rho: 0.95, epsilon: 1e-8))
        { ClipValue = o.Clip };
        var report = CharRnnSample.NewReport(o, data).Config("epochs", o.Epochs).Config("lr_decay", o.LrDecay).Config("lr_decay_after", o.LrDecayAfter);
        var total = System.Diagnostics.Stopwatch.StartNew();
        int completed = 0;
        double sum = 0; // char-rnn's train loss: the mean of the batch losses
        void EpochEnd(IFitControl fit, EpochEnd e)
        {
            double valLoss = valBatches > 0 ? Validate(model, val, valBatch, S, valBatches) : double.NaN;
            Console.WriteLine($"Epoch {e.Epoch}: train loss {sum / batches:F4}  validation loss {valLoss:F4} nats/char  ({e.Seconds:F1}s, {batches * B * S / e.Seconds:F0} chars/s, lr {e.LearningRate:G3})");
            if (o.SampleLength > 0)
            {
                int seed = data.IdOf('\n') >= 0 ? data.IdOf('\n') : data.Ids[0];
                var ids = Sample(model, [seed], o.SampleLength, sampleRng, o.Temperature);
                Console.WriteLine("----\n" + CharData.Printable(new string(ids.Select(i => data.Vocab[i]).ToArray())) + "\n----");
            }
            report.Epoch(("epoch", e.Epoch), ("train_loss", sum / batches), ("validation_loss", valLoss), ("lr", e.LearningRate), ("batches", batches), ("seconds", e.Seconds));
            completed = e.Epoch; sum = 0;
            if (e.Epoch >= o.LrDecayAfter) fit.LearningRate *= o.LrDecay;
        }
        var losses = new ProgressCallback(b => sum += b.BatchLoss, null);
        var progress = new FitProgress(new Progress(o.Quiet), report, o.Report, EpochEnd);
        // Fit resets the states before each epoch; unshuffled, batch k is chunk k of every stream.
        var history = trainer.Fit(new Streams(train, V, B, S, batches), new FitOptions { Epochs = o.Epochs, BatchSize = B, Shuffle = false, Callbacks = [losses, progress] },
            cancel: cancel.Token);
        progress.Interrupted(history);
        report.Summary("epochs_completed", completed);
        report.Summary("total_seconds", total.Elapsed.TotalSeconds);
        CharRnnSample.Finish(o, report, cancel.Requested, path => CharRnnSample.Save(path, model.NamedParameters, data, o), ["train_loss", "validation_loss"],
            $"charrnn lstm: {o.Layers} x LSTM({o.Hidden}), seq {S}, batch {B}, RMSprop lr {o.LearningRate.ToString(CultureInfo.InvariantCulture)}, {n} chars, V = {V}, seed {o.Seed}", total.Elapsed);
        return 0;
    }

    /// <summary>
    /// char-rnn's model/LSTM.lua: one-hot (V) → <paramref name="layers"/> stateful LSTM(<paramref name="hidden"/>)
    /// with dropout between them → dropout → Dense(V) at every step. train.lua's init: every parameter U(±0.08), drawn
    /// from <paramref name="rng"/> in parameter order, the forget-gate block of bias_ih set to 1; then the dropout
    /// generator is seeded from <paramref name="rng"/>. Parameter names "rnn.weight_ih_l0", ..., "fc.weight", "fc.bias".
    /// </summary>
    public static Model<float> Build(int vocab, int hidden, int layers, double dropout, Rng rng)
    {
        var model = new Model<float>(vocab, null, new Rng(0), [
            new RecurrentSpec("rnn", CellKind.Lstm, hidden) { Layers = layers, DropoutBetween = dropout, Init = InitScheme.PyTorch, ReturnSequences = true, Stateful = true },
            new DropoutSpec("dropout", dropout),
            new DenseSpec("fc", vocab)]);
        foreach (var p in model.Parameters) Initializers.Uniform<float>(p.Value, rng, -0.08, 0.08);
        foreach (var (name, p) in model.NamedParameters)
            if (name.StartsWith("rnn.bias_ih_", StringComparison.Ordinal)) p.Value.AsSpan(hidden, hidden).Fill(1f); // i, f, g, o: f = 1
        model.ReseedDropout(rng.NextUInt64());
        return model;
    }

    /// <summary>
    /// char-rnn's batches as a Fit source: the text split into <paramref name="batch"/> contiguous streams of
    /// batches·seq characters; sample k·batch + b is stream b's chunk k, one-hot (seq, V), targets the next characters.
    /// </summary>
    public sealed class Streams(int[] text, int vocab, int batch, int seq, int batches) : IBatchSource<float, int>
    {
        /// <inheritdoc/>
        public int Count => batches * batch;
        /// <inheritdoc/>
        public int SeqLen => seq;
        /// <inheritdoc/>
        public int InputsPerSample => seq * vocab;
        /// <inheritdoc/>
        public int TargetsPerSample => seq;
        /// <inheritdoc/>
        public void Gather(ReadOnlySpan<int> indices, Span<float> inputs, Span<int> targets)
        {
            for (int i = 0; i < indices.Length; i++)
            {
                int from = indices[i] % batch * batches * seq + indices[i] / batch * seq;
                Tokens.OneHot<float>(inputs.Slice(i * seq * vocab, seq * vocab), text.AsSpan(from, seq), vocab);
                text.AsSpan(from + 1, seq).CopyTo(targets.Slice(i * seq, seq));
            }
        }
    }

    /// <summary>Mean cross-entropy per character over the held-out text, states carried across its batches (dropout off).</summary>
    public static double Validate(Model<float> model, int[] val, int batch, int seq, int batches)
    {
        var source = new Streams(val, model.OutputSize, batch, seq, batches);
        var x = new float[batch * seq * model.OutputSize]; var y = new int[batch * seq];
        var idx = new int[batch];
        model.ResetStates();
        model.Training = false;
        double sum = 0;
        for (int i = 0; i < batches; i++)
        {
            for (int b = 0; b < batch; b++) idx[b] = i * batch + b;
            source.Gather(idx, x, y);
            sum += SoftmaxCrossEntropy.Forward<float>(model.Forward(x, default, batch, seq), y, model.OutputSize);
        }
        model.ResetStates();
        return sum / batches;
    }

    /// <summary>n ids sampled one at a time from fresh states (dropout off), primed with <paramref name="prime"/> (its last id seeds the first draw).</summary>
    public static int[] Sample(Model<float> model, ReadOnlySpan<int> prime, int n, Rng rng, double temperature)
    {
        int V = model.OutputSize;
        var x = new float[V]; var one = new int[1];
        var outp = new int[n];
        model.ResetStates();
        model.Training = false;
        ReadOnlySpan<float> logits = default;
        foreach (int id in prime) { one[0] = id; Tokens.OneHot<float>(x, one, V); logits = model.Forward(x, default, 1, 1); }
        for (int i = 0; i < n; i++)
        {
            one[0] = outp[i] = Tokens.Sample(logits, rng, temperature);
            Tokens.OneHot<float>(x, one, V);
            logits = model.Forward(x, default, 1, 1);
        }
        model.ResetStates();
        return outp;
    }
}
