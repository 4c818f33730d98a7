using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>
/// What the benchmarks rely on: a steady-state training step allocates nothing, and a layer's results do not
/// depend on the number of kernel threads. These change <see cref="Engine.Threads"/>, so they run alone.
/// </summary>
[Collection("Kernels")]
public class PerformanceContractTests
{
    /// <summary>The imdb workload's shape: tokens (32, 100) → Embedding(20000, 128) → LSTM(128) → Dense(128, 1), BCE, Adam.</summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    public void ImdbTrainingStepAllocatesNothing(int threads, bool maskAndDropout)
    {
        const int B = 32, S = 100, V = 20000;
        var spec = new ModelSpec
        {
            Vocab = V, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1,
            MaskZero = maskAndDropout, HeadDropout = maskAndDropout ? 0.5 : 0, Init = maskAndDropout ? InitScheme.Keras : InitScheme.PyTorch,
        };
        var rng = new Rng(3);
        using var model = new SequenceModel<float>(spec, rng);
        var adam = new Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8);
        var tokens = new int[B * S];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(V);
        if (maskAndDropout) for (int b = 0; b < B; b++) for (int t = 0; t < b % 7; t++) tokens[b * S + t] = 0; // pre-padding
        var labels = new float[B];
        for (int i = 0; i < B; i++) labels[i] = i % 2;
        float Step()
        {
            model.ZeroGrad();
            var logits = model.Forward(tokens, default, B, S);
            float loss = BinaryCrossEntropy.Forward(logits, labels);
            var d = model.OutputGrad;
            d.Clear();
            BinaryCrossEntropy.Backward(d, logits, labels, 1f);
            model.Backward(d, default, B, S);
            adam.Step();
            return loss;
        }
        try
        {
            Engine.Threads = threads;
            float first = Step();
            for (int i = 0; i < 4; i++) Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            float last = 0;
            for (int i = 0; i < 3; i++) last = Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.True(last < first, $"the loss did not fall on a fixed batch: {first} → {last}");
        }
        finally { Engine.Threads = 1; }
    }

    /// <summary>
    /// Whole imdb training steps (embedding gather and scatter-add, LSTM, head, Adam over dense and row-sparse
    /// parameters) give the same bits on 1 and 2 threads: every parameter, Adam's gradient norm and the loss, over
    /// three steps. Tokens from a small range repeat often, so rows of the embedding gradient sum many positions.
    /// With 2 threads the embedding and the optimizer split their work on the pool (their dispatches are counted).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImdbTrainingStepsAreBitIdenticalOnOneAndTwoThreads(bool clip)
    {
        const int B = 32, S = 100, V = 20000;
        (float[][] values, double[] norms, float[] losses, long stepDispatches) Run(int threads)
        {
            Engine.Threads = threads;
            var rng = new Rng(5);
            using var model = new SequenceModel<float>(new ModelSpec
            {
                Vocab = V, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1, Init = InitScheme.PyTorch,
            }, rng);
            var adam = new Adam<float>(model.Parameters, 1e-3, 0.9, 0.999, 1e-8) { MaxGradNorm = clip ? 0.5 : 0 };
            var tokens = new int[B * S];
            for (int i = 0; i < tokens.Length; i++) tokens[i] = i % 3 == 0 ? rng.NextInt(V) : 1 + rng.NextInt(300);
            var labels = new float[B];
            for (int i = 0; i < B; i++) labels[i] = (i * 7 + 1) % 3 == 0 ? 1 : 0;
            var norms = new double[3]; var losses = new float[3];
            long dispatches = 0;
            for (int step = 0; step < 3; step++)
            {
                model.ZeroGrad();
                var logits = model.Forward(tokens, default, B, S);
                losses[step] = BinaryCrossEntropy.Forward(logits, labels);
                var d = model.OutputGrad;
                d.Clear();
                BinaryCrossEntropy.Backward(d, logits, labels, 1f);
                model.Backward(d, default, B, S);
                long d0 = WorkerPool.Dispatches;
                adam.Step();
                dispatches += WorkerPool.Dispatches - d0;
                norms[step] = adam.LastGradNorm;
            }
            return (model.Parameters.Select(p => (float[])p.Value.Clone()).ToArray(), norms, losses, dispatches);
        }
        try
        {
            var one = Run(1);
            var two = Run(2);
            Assert.True(two.stepDispatches >= 3, $"Adam: {two.stepDispatches} pool dispatches in 3 steps on 2 threads");
            for (int i = 0; i < one.values.Length; i++) AssertBits(one.values[i], two.values[i], $"parameter {i}");
            Assert.Equal(one.norms.Select(BitConverter.DoubleToInt64Bits), two.norms.Select(BitConverter.DoubleToInt64Bits));
            AssertBits(one.losses, two.losses, "loss");
            Assert.True(one.norms[0] > 0);
        }
        finally { Engine.Threads = 1; }
    }

    /// <summary>
    /// Forward and backward of every recurrent layer give the same bits on 1 and 2 threads: the time loop split
    /// by batch rows (odd batches split unevenly), the GEMMs split by output blocks, and batch 1's split GEMV.
    /// extras: a mask with padded steps, recurrent dropout and truncated BPTT, which all act per row.
    /// </summary>
    [Theory]
    [InlineData("lstm", 64, false)]
    [InlineData("lstm", 1, false)]
    [InlineData("lstm", 33, true)]
    [InlineData("gru", 32, false)]
    [InlineData("gru", 9, true)]
    [InlineData("gru-before", 48, false)]
    [InlineData("gru-before", 17, true)]
    [InlineData("rnn", 100, false)]
    [InlineData("rnn", 21, true)]
    public void RecurrentLayerIsBitIdenticalOnOneAndTwoThreads(string kind, int batch, bool extras)
    {
        const int S = 12, I = 96, H = 160;
        double rd = extras ? 0.3 : 0;
        int steps = extras ? 7 : -1;
        long loopDispatches = 0; // pool dispatches made by the forward time loop alone
        (float[] y, float[] dx, float[][] grads) Run(int threads)
        {
            Engine.Threads = threads;
            IRecurrentLayer<float> l = kind switch
            {
                "lstm" => new Lstm<float>(I, H, new Rng(4), new LstmOptions { TwoBiases = true, Init = InitScheme.PyTorch, RecurrentDropout = rd, GradientSteps = steps }),
                "gru" => new Gru<float>(I, H, new Rng(4), new GruOptions { TwoBiases = true, ResetAfter = true, Init = InitScheme.PyTorch, RecurrentDropout = rd, GradientSteps = steps }),
                "rnn" => new SimpleRnn<float>(I, H, new Rng(4), new SimpleRnnOptions { TwoBiases = true, GradientSteps = steps }),
                _ => new Gru<float>(I, H, new Rng(4), new GruOptions { TwoBiases = true, ResetAfter = false, Init = InitScheme.PyTorch, RecurrentDropout = rd, GradientSteps = steps }),
            };
            using (l)
            {
                var x = GradCheck.Det(batch * S * I).Select(v => (float)v).ToArray();
                var y = new float[batch * S * H];
                var dy = GradCheck.Det(y.Length, 2, 5).Select(v => (float)v).ToArray();
                var dx = new float[x.Length];
                // Row b is padded after step S - 1 - b % 5 (extras only).
                var mask = extras ? Enumerable.Range(0, batch * S).Select(i => i % S <= S - 1 - i / S % 5 ? 1f : 0f).ToArray() : default;
                l.Forward(y, x, mask, batch, S); // warm (the tape is laid out)
                long d0 = WorkerPool.Dispatches;
                l.Forward(y, x, mask, batch, S);
                loopDispatches = WorkerPool.Dispatches - d0;
                l.Backward(dx, dy, batch, S);
                return (y, dx, l.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray());
            }
        }
        try
        {
            var one = Run(1);
            var two = Run(2);
            // Batch 1 splits each step's GEMV (one dispatch per step), larger batches split the loop by rows.
            Assert.True(loopDispatches >= (batch == 1 ? S : 1), $"forward: {loopDispatches} pool dispatches on 2 threads");
            AssertBits(one.y, two.y, "y");
            AssertBits(one.dx, two.dx, "dx");
            for (int i = 0; i < one.grads.Length; i++) AssertBits(one.grads[i], two.grads[i], $"grad {i}");
            Assert.Contains(one.grads[0], v => v != 0f);
        }
        finally { Engine.Threads = 1; }
    }

    /// <summary>The input projection per step (in the time loop) and hoisted (one GEMM first) give the same bits.</summary>
    [Theory]
    [InlineData("lstm", 2, false)]
    [InlineData("lstm", 5, true)]
    [InlineData("lstm", 40, false)]
    [InlineData("gru", 5, true)]
    [InlineData("gru", 40, false)]
    [InlineData("gru-before", 7, true)]
    public void InputProjectionPerStepGivesTheHoistedBits(string kind, int batch, bool extras)
    {
        const int S = 9, I = 24, H = 40;
        (float[] y, float[] dx, float[][] grads) Run(int minRows)
        {
            var tuning = new RecurrentTuning { StepInputMinRows = minRows };
            {
                double rd = extras ? 0.25 : 0; int steps = extras ? 5 : -1;
                using IRecurrentLayer<float> l = kind switch
                {
                    "lstm" => new Lstm<float>(I, H, new Rng(8), new LstmOptions { TwoBiases = true, RecurrentDropout = rd, GradientSteps = steps }) { Tuning = tuning },
                    "gru" => new Gru<float>(I, H, new Rng(8), new GruOptions { TwoBiases = true, ResetAfter = true, RecurrentDropout = rd, GradientSteps = steps }) { Tuning = tuning },
                    _ => new Gru<float>(I, H, new Rng(8), new GruOptions { TwoBiases = true, ResetAfter = false, RecurrentDropout = rd, GradientSteps = steps }) { Tuning = tuning },
                };
                var x = GradCheck.Det(batch * S * I).Select(v => (float)v).ToArray();
                var y = new float[batch * S * H];
                var dy = GradCheck.Det(y.Length, 2, 5).Select(v => (float)v).ToArray();
                var dx = new float[x.Length];
                var mask = extras ? Enumerable.Range(0, batch * S).Select(i => i % S <= S - 1 - i / S % 4 ? 1f : 0f).ToArray() : default;
                l.Forward(y, x, mask, batch, S);
                l.Backward(dx, dy, batch, S);
                return (y, dx, l.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray());
            }
        }
        Engine.Threads = 1;
        var perStep = Run(1);
        var hoisted = Run(int.MaxValue);
        AssertBits(hoisted.y, perStep.y, "y");
        AssertBits(hoisted.dx, perStep.dx, "dx");
        for (int i = 0; i < perStep.grads.Length; i++) AssertBits(hoisted.grads[i], perStep.grads[i], $"grad {i}");
    }

    /// <summary>
    /// Inference gives the training pass's bits on 1 and 2 threads, for both ways of projecting the input (per step,
    /// hoisted) and, for the LSTM, gate rows padded (4H = 512) or not.
    /// </summary>
    [Theory]
    [InlineData("lstm", 4, 128)]
    [InlineData("lstm", 40, 128)]
    [InlineData("lstm", 64, 128)]
    [InlineData("lstm", 5, 20)]
    [InlineData("gru", 4, 128)]
    [InlineData("gru", 64, 128)]
    [InlineData("gru-before", 40, 20)]
    public void InferenceMatchesTrainingOnOneAndTwoThreads(string kind, int batch, int hidden)
    {
        const int S = 6, I = 8;
        var x = GradCheck.Det(batch * S * I).Select(v => (float)v).ToArray();
        float[] Run(int threads, bool training)
        {
            Engine.Threads = threads;
            using IRecurrentLayer<float> l = kind switch
            {
                "lstm" => new Lstm<float>(I, hidden, new Rng(12), new LstmOptions { TwoBiases = true }),
                "gru" => new Gru<float>(I, hidden, new Rng(12), new GruOptions { TwoBiases = true, ResetAfter = true }),
                _ => new Gru<float>(I, hidden, new Rng(12), new GruOptions { TwoBiases = true, ResetAfter = false }),
            };
            ((Layer<float>)l).Training = training;
            var y = new float[batch * S * hidden];
            l.Forward(y, x, default, batch, S);
            return y;
        }
        try
        {
            var want = Run(1, true);
            AssertBits(want, Run(1, false), "inference, 1 thread");
            AssertBits(want, Run(2, false), "inference, 2 threads");
            AssertBits(want, Run(2, true), "training, 2 threads");
        }
        finally { Engine.Threads = 1; }
    }

    /// <summary>Inference (Training = false) keeps no tape, yet gives the training pass's outputs and final states.</summary>
    [Theory]
    [InlineData("lstm", 1)]
    [InlineData("lstm", 2)]
    [InlineData("lstm", 7)]
    [InlineData("gru", 7)]
    [InlineData("gru-before", 7)]
    public void InferenceMatchesTrainingForwardAndRefusesBackward(string kind, int seq)
    {
        const int B = 3, I = 5, H = 6;
        var x = GradCheck.Det(B * seq * I).Select(v => (float)v).ToArray();
        var mask = Enumerable.Range(0, B * seq).Select(i => i % seq == seq - 1 && i / seq == 1 ? 0f : 1f).ToArray();
        var y1 = new float[B * seq * H]; var y2 = new float[y1.Length];
        IRecurrentLayer<float> l = kind switch
        {
            "lstm" => new Lstm<float>(I, H, new Rng(6), new LstmOptions { TwoBiases = true }),
            "gru" => new Gru<float>(I, H, new Rng(6), new GruOptions { TwoBiases = true, ResetAfter = true }),
            _ => new Gru<float>(I, H, new Rng(6), new GruOptions { ResetAfter = false }),
        };
        using (l)
        {
            l.Forward(y1, x, mask, B, seq);
            float[] Final() => l is Lstm<float> lstm ? [.. lstm.FinalH, .. lstm.FinalC] : [.. ((Gru<float>)l).FinalH];
            var f1 = Final();
            l.Training = false;
            l.Forward(y2, x, mask, B, seq);
            Assert.Equal(y1, y2);
            Assert.Equal(f1, Final());
            var e = Assert.Throws<InvalidOperationException>(() => l.Backward(new float[x.Length], y1, B, seq));
            Assert.Contains("Training = false", e.Message);
        }
    }

    /// <summary>
    /// A zero initial state skips the first step's product with h_{-1} = 0, and Backward skips the last step's
    /// product into dh_{-1} unless dh0 or a learned h0 reads it: outputs and gradients equal those of the same layer
    /// given an explicit zero h0 and asked for dh0, which runs every product (compared as values: +0 equals −0).
    /// </summary>
    [Theory]
    [InlineData("lstm", false)]
    [InlineData("lstm", true)]
    [InlineData("gru", false)]
    [InlineData("gru", true)]
    [InlineData("gru-before", false)]
    [InlineData("gru-before", true)]
    [InlineData("rnn", false)]
    [InlineData("rnn", true)]
    public void SkippedZeroProductsChangeNothing(string kind, bool extras)
    {
        const int B = 6, S = 7, I = 10, H = 24;
        double rd = extras ? 0.3 : 0;
        var x = GradCheck.Det(B * S * I).Select(v => (float)v).ToArray();
        var dy = GradCheck.Det(B * S * H, 2, 5).Select(v => (float)v).ToArray();
        var mask = extras ? Enumerable.Range(0, B * S).Select(i => i % S <= S - 1 - i / S % 3 ? 1f : 0f).ToArray() : default;
        (float[] y, float[] dx, float[][] grads, float[] dh0) Run(bool given)
        {
            var init = given ? InitialState.Given : InitialState.Zero;
            var y = new float[B * S * H];
            var dx = new float[x.Length];
            var h0 = given ? new float[B * H] : Array.Empty<float>();
            var dh0 = given ? new float[B * H] : Array.Empty<float>();
            IRecurrentLayer<float> layer;
            switch (kind)
            {
                case "lstm":
                    var lstm = new Lstm<float>(I, H, new Rng(4), new LstmOptions { TwoBiases = true, Init = InitScheme.PyTorch, RecurrentDropout = rd, InitialState = init });
                    lstm.Forward(y, x, mask, h0, h0, B, S);
                    lstm.Backward(dx, dh0, default, dy, default, default, B, S);
                    layer = lstm;
                    break;
                case "rnn":
                    var rnn = new SimpleRnn<float>(I, H, new Rng(4), new SimpleRnnOptions { TwoBiases = true, InitialState = init });
                    rnn.Forward(y, x, mask, h0, B, S);
                    rnn.Backward(dx, dh0, dy, B, S);
                    layer = rnn;
                    break;
                default:
                    var gru = new Gru<float>(I, H, new Rng(4), new GruOptions { TwoBiases = true, ResetAfter = kind == "gru", Init = InitScheme.PyTorch, RecurrentDropout = rd, InitialState = init });
                    gru.Forward(y, x, mask, h0, B, S);
                    gru.Backward(dx, dh0, dy, default, B, S);
                    layer = gru;
                    break;
            }
            using (layer) return (y, dx, layer.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray(), dh0);
        }
        var skipped = Run(false);
        var full = Run(true);
        AssertValues(full.y, skipped.y, "y");
        AssertValues(full.dx, skipped.dx, "dx");
        Assert.Equal(full.grads.Length, skipped.grads.Length);
        for (int i = 0; i < full.grads.Length; i++) AssertValues(full.grads[i], skipped.grads[i], $"grad {i}");
        Assert.Contains(full.dh0, v => v != 0f); // the full run did compute the product the other skipped
    }

    private static void AssertValues(float[] a, float[] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(a[i] == b[i], $"{what}[{i}]: every product {a[i]:R}, zero products skipped {b[i]:R}");
    }

    private static void AssertBits(float[] a, float[] b, string what)
    {
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]),
                $"{what}[{i}]: 1 thread {a[i]:R}, 2 threads {b[i]:R}");
    }
}
