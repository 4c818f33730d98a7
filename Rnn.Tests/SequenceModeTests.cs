using System.Diagnostics;
using Rnn;
using Rnn.Init;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>
/// Karpathy's five sequence modes ("The Unreasonable Effectiveness of RNNs") built from the public API:
/// (1) one to one, a Dense on one vector; (2) one to many, RepeatVector → decoder → TimeDistributed;
/// (3) many to one, the final state → Dense; (4) many to many, an encoder-decoder; (5) synced many to many,
/// per-step outputs. For each: a double-precision gradient check (masked where a mask means something),
/// the output shapes, and a short training run whose loss must fall by a stated margin.
/// </summary>
public class SequenceModeTests
{
    private const int B = 3, S = 5, F = 4, H = 5, C = 4;

    // ---------- shared helpers ----------

    private static int[] Targets(int n, int classes, int phase = 0)
        => Enumerable.Range(0, n).Select(i => (i * 7 + 3 + phase) % classes).ToArray();

    /// <summary>Post-padding: sequence b has len − b real steps.</summary>
    private static double[] PostPad(int batch, int len) => SimpleRnnGradTests.PostPadMask(batch, len);

    private static void Shrink(Parameter<double> p, double k) { for (int i = 0; i < p.Length; i++) p.Value[i] *= k; }

    // ---------- mode 1: one to one ----------

    [Fact]
    public void Mode1_OneToOne_GradientsMatchFiniteDifferences()
    {
        using var fc = new Dense<double>(F, C, new Rng(1), name: "fc");
        var x = GradCheck.Det(B * F, 1.0); var dx = new double[x.Length];
        var y = Targets(B, C); var logits = new double[B * C]; var dl = new double[B * C];
        double Loss() { fc.Forward(logits, x, B); return SoftmaxCrossEntropy.Forward<double>(logits, y, C); }
        void Analytic()
        {
            fc.ZeroGrad(); Array.Clear(dx); Array.Clear(dl);
            fc.Forward(logits, x, B);
            SoftmaxCrossEntropy.Backward<double>(dl, logits, y, 1.0, C);
            fc.Backward(dx, dl, B);
        }
        GradCheck.Assert(Loss, Analytic, [.. fc.Parameters.Select(GradCheck.Of), new("x", x, dx)]);
        Assert.Equal(B * C, logits.Length); // (batch, C): one output per vector
    }

    [Fact]
    public void Mode1_OneToOne_TrainingLowersTheLoss()
    {
        // Class = argmax of a fixed linear map of x: separable, so a Dense learns it.
        const int n = 64, f = 6, c = 3;
        var rng = new Rng(5);
        var x = new float[n * f]; Initializers.Normal<float>(x, rng, 1.0);
        var y = new int[n];
        for (int i = 0; i < n; i++) { float a = x[i * f] - x[i * f + 1], b = x[i * f + 2], d = -x[i * f + 3]; y[i] = a > b ? (a > d ? 0 : 2) : (b > d ? 1 : 2); }
        using var fc = new Dense<float>(f, c, rng);
        var opt = new Adam<float>(fc.Parameters, 0.05);
        var logits = new float[n * c]; var dl = new float[n * c];
        float first = 0, last = 0;
        for (int step = 0; step < 200; step++)
        {
            opt.ZeroGrad(); Array.Clear(dl);
            fc.Forward(logits, x, n);
            last = SoftmaxCrossEntropy.Forward<float>(logits, y, c); if (step == 0) first = last;
            SoftmaxCrossEntropy.Backward<float>(dl, logits, y, 1f, c);
            fc.Backward(default, dl, n);
            opt.Step();
        }
        Assert.True(last < 0.4f * first, $"loss {first} -> {last}: expected a fall below 40% of the first");
    }

    // ---------- mode 2: one to many ----------

    private sealed class OneToMany<T> : IDisposable where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public readonly RepeatVector<T> Repeat;
        public readonly SimpleRnn<T> Rnn;
        public readonly TimeDistributed<T> Head;
        public readonly T[] Seq, Y, Logits, DLogits, DY, DSeq;
        private readonly int _b, _n;
        public OneToMany(int batch, int features, int hidden, int classes, int steps, Rng rng)
        {
            _b = batch; _n = steps;
            Repeat = new RepeatVector<T>(features, steps);
            Rnn = new SimpleRnn<T>(features, hidden, rng);
            Head = new TimeDistributed<T>(new Dense<T>(hidden, classes, rng, name: "fc"));
            Seq = new T[batch * steps * features]; DSeq = new T[Seq.Length];
            Y = new T[batch * steps * hidden]; DY = new T[Y.Length];
            Logits = new T[batch * steps * classes]; DLogits = new T[Logits.Length];
        }
        public IEnumerable<Parameter<T>> Parameters => Rnn.Parameters.Concat(Head.Parameters);
        public T Loss(ReadOnlySpan<T> x, ReadOnlySpan<int> y, ReadOnlySpan<T> mask)
        {
            Repeat.Forward(Seq, x, _b);
            Rnn.Forward(Y, Seq, mask, default, _b, _n);
            Head.Forward(Logits, Y, _b, _n);
            return TimeDistributed<T>.Loss(Logits, y, mask, _b, _n, Head.OutputSize);
        }
        public void Backward(Span<T> dx, ReadOnlySpan<int> y, ReadOnlySpan<T> mask)
        {
            Array.Clear(DLogits); Array.Clear(DY); Array.Clear(DSeq);
            TimeDistributed<T>.LossBackward(DLogits, Logits, y, mask, T.One, _b, _n, Head.OutputSize);
            Head.Backward(DY, DLogits, _b, _n);
            Rnn.Backward(DSeq, default, DY, _b, _n);
            if (!dx.IsEmpty) Repeat.Backward(dx, DSeq, _b);
        }
        public void Dispose() { Rnn.Dispose(); Head.Dispose(); }
    }

    [Fact]
    public void Mode2_OneToMany_GradientsMatchFiniteDifferences()
    {
        using var m = new OneToMany<double>(B, F, H, C, S, new Rng(2));
        Shrink(m.Rnn.WeightHh, 0.8);
        var x = GradCheck.Det(B * F, 1.0); var dx = new double[x.Length];
        var y = Targets(B * S, C);
        var mask = PostPad(B, S); // output sequences of lengths S, S−1, S−2
        double Loss() => m.Loss(x, y, mask);
        void Analytic() { foreach (var p in m.Parameters) p.ZeroGrad(); Array.Clear(dx); m.Loss(x, y, mask); m.Backward(dx, y, mask); }
        GradCheck.Assert(Loss, Analytic, [.. m.Parameters.Select(GradCheck.Of), new("x", x, dx)]);
    }

    [Fact]
    public void Mode2_OneToMany_Shapes()
    {
        using var m = new OneToMany<float>(B, F, H, C, S, new Rng(2));
        var x = new float[B * F]; x[0] = 1;
        m.Loss(x, Targets(B * S, C).Select(v => v).ToArray(), default);
        Assert.Equal(B * S * F, m.Seq.Length);       // RepeatVector: (batch, n, F)
        Assert.Equal(B * S * H, m.Y.Length);         // decoder: (batch, n, H)
        Assert.Equal(B * S * C, m.Logits.Length);    // TimeDistributed: (batch, n, C)
        for (int b = 0; b < B; b++) for (int t = 0; t < S; t++)
            Assert.Equal(x.AsSpan(b * F, F).ToArray(), m.Seq.AsSpan((b * S + t) * F, F).ToArray());
        var dx = new float[B * F];
        var dy = Enumerable.Range(0, B * S * F).Select(i => (float)i).ToArray();
        m.Repeat.Backward(dx, dy, B);
        for (int b = 0; b < B; b++) for (int f = 0; f < F; f++)
            Assert.Equal(Enumerable.Range(0, S).Sum(t => (float)((b * S + t) * F + f)), dx[b * F + f]);
        Assert.Throws<ArgumentException>(() => m.Repeat.Forward(new float[B * S * F + 1], x, B));
    }

    [Fact]
    public void Mode2_OneToMany_TrainingLowersTheLoss()
    {
        // One-hot class k → the sequence k, k+1, k+2, ... (mod C): the decoder must count from a seed.
        const int n = 16, c = 5, steps = 6, hidden = 24;
        var rng = new Rng(3);
        using var m = new OneToMany<float>(n, c, hidden, c, steps, rng);
        var x = new float[n * c]; var y = new int[n * steps];
        for (int i = 0; i < n; i++) { x[i * c + i % c] = 1; for (int t = 0; t < steps; t++) y[i * steps + t] = (i % c + t) % c; }
        var opt = new Adam<float>(m.Parameters, 0.02);
        float first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            opt.ZeroGrad();
            last = m.Loss(x, y, default); if (step == 0) first = last;
            m.Backward(default, y, default);
            opt.Step();
        }
        Assert.True(last < 0.2f * first, $"loss {first} -> {last}: expected a fall below 20% of the first");
    }

    // ---------- mode 3: many to one ----------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mode3_ManyToOne_GradientsMatchFiniteDifferences(bool masked)
    {
        using var rnn = new SimpleRnn<double>(F, H, new Rng(4), new SimpleRnnOptions { ReturnSequences = false });
        using var fc = new Dense<double>(H, C, new Rng(5), name: "fc");
        Shrink(rnn.WeightHh, 0.8);
        var x = GradCheck.Det(B * S * F, 1.0); var dx = new double[x.Length];
        var mask = masked ? PostPad(B, S) : [];
        var y = Targets(B, C);
        var h = new double[B * H]; var dh = new double[B * H]; var logits = new double[B * C]; var dl = new double[B * C];
        double Loss() { rnn.Forward(h, x, mask, default, B, S); fc.Forward(logits, h, B); return SoftmaxCrossEntropy.Forward<double>(logits, y, C); }
        void Analytic()
        {
            rnn.ZeroGrad(); fc.ZeroGrad(); Array.Clear(dx); Array.Clear(dh); Array.Clear(dl);
            Loss();
            SoftmaxCrossEntropy.Backward<double>(dl, logits, y, 1.0, C);
            fc.Backward(dh, dl, B);
            rnn.Backward(dx, default, dh, B, S);
        }
        GradCheck.Assert(Loss, Analytic, [.. rnn.Parameters.Concat(fc.Parameters).Select(GradCheck.Of), new("x", x, dx)]);
        Assert.Equal(B * H, rnn.OutputLength(S) * B); // (batch, H): the final state only
    }

    [Fact]
    public void Mode3_ManyToOne_TrainingLowersTheLoss()
    {
        // The class is the first token of a one-hot sequence: the final state must remember step 0.
        const int n = 32, c = 3, len = 6, hidden = 24;
        var rng = new Rng(6);
        var x = new float[n * len * c]; var y = new int[n];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < len; t++) { int tok = rng.NextInt(c); x[(i * len + t) * c + tok] = 1; if (t == 0) y[i] = tok; }
        using var rnn = new SimpleRnn<float>(c, hidden, rng, new SimpleRnnOptions { ReturnSequences = false });
        using var fc = new Dense<float>(hidden, c, rng);
        var opt = new Adam<float>(rnn.Parameters.Concat(fc.Parameters), 0.01);
        var h = new float[n * hidden]; var dh = new float[h.Length]; var logits = new float[n * c]; var dl = new float[logits.Length];
        float first = 0, last = 0;
        for (int step = 0; step < 200; step++)
        {
            opt.ZeroGrad(); Array.Clear(dh); Array.Clear(dl);
            rnn.Forward(h, x, default, default, n, len);
            fc.Forward(logits, h, n);
            last = SoftmaxCrossEntropy.Forward<float>(logits, y, c); if (step == 0) first = last;
            SoftmaxCrossEntropy.Backward<float>(dl, logits, y, 1f, c);
            fc.Backward(dh, dl, n);
            rnn.Backward(default, default, dh, n, len);
            opt.Step();
        }
        Assert.True(last < 0.3f * first, $"loss {first} -> {last}: expected a fall below 30% of the first");
    }

    // ---------- mode 4: many to many (encoder-decoder) ----------

    private const int Ss = 5, St = 4; // source and target lengths differ

    private static IRecurrentLayer<double> Cell(string cell, int input, Rng rng, bool sequences, bool backwards, InitialState init, string suffix) => cell switch
    {
        "lstm" => new Lstm<double>(input, H, rng, new LstmOptions { ReturnSequences = sequences, Backwards = backwards, InitialState = init }, suffix),
        "gru" => new Gru<double>(input, H, rng, new GruOptions { ReturnSequences = sequences, Backwards = backwards, InitialState = init }, suffix),
        _ => Shrunk(new SimpleRnn<double>(input, H, rng, new SimpleRnnOptions { ReturnSequences = sequences, Backwards = backwards, InitialState = init }, suffix)),
    };

    private static SimpleRnn<double> Shrunk(SimpleRnn<double> r) { Shrink(r.WeightHh, 0.8); return r; }

    private static EncoderDecoder<double> Seq2Seq(string feed, Rng rng, string cell = "rnn")
    {
        var emb = feed == "embedded" ? new Embedding<double>(C, 3, rng, name: "tgt_embedding") : null;
        bool repeat = feed.StartsWith("repeat", StringComparison.Ordinal);
        bool pass = feed != "repeat-nostate";
        int dIn = repeat ? H : emb?.Dim ?? C;
        var enc = Cell(cell, F, rng, sequences: feed == "repeat", backwards: feed == "embedded", InitialState.Zero, "_enc");
        var dec = Cell(cell, dIn, rng, sequences: true, backwards: false, pass ? InitialState.Given : InitialState.Zero, "_dec");
        var head = new Dense<double>(H, C, rng, name: "fc");
        return new EncoderDecoder<double>(enc, dec, head,
            new EncoderDecoderOptions { Feed = repeat ? DecoderFeed.RepeatVector : DecoderFeed.TeacherForcing, PassState = pass, StartToken = 1 }, emb);
    }

    [Theory]
    [InlineData("onehot", "rnn")]          // teacher forcing with one-hot previous targets
    [InlineData("embedded", "rnn")]        // teacher forcing through a target embedding, backwards encoder
    [InlineData("repeat", "rnn")]          // RepeatVector of the encoder's final h, and the state passed too
    [InlineData("repeat-nostate", "rnn")]  // Keras addition_rnn: RepeatVector only
    [InlineData("onehot", "lstm")]         // (h, c) both handed over; dh0, dc0 flow back as dhT, dcT
    [InlineData("repeat", "lstm")]
    [InlineData("repeat-nostate", "lstm")]
    [InlineData("embedded", "gru")]
    [InlineData("repeat", "gru")]
    public void Mode4_EncoderDecoder_GradientsMatchFiniteDifferences(string feed, string cell)
    {
        using var m = Seq2Seq(feed, new Rng(7), cell);
        var src = GradCheck.Det(B * Ss * F, 1.0); var dsrc = new double[src.Length];
        var srcMask = PostPad(B, Ss);
        var tgt = Targets(B * St, C);
        var tgtMask = PostPad(B, St);
        tgt[2 * St + St - 1] = -1; // a padded target may hold any id: never read
        var dl = new double[B * St * C];
        double Loss() => TimeDistributed<double>.Loss(m.Forward(src, srcMask, tgt, tgtMask, B, Ss, St), tgt, tgtMask, B, St, C);
        void Analytic()
        {
            m.ZeroGrad(); Array.Clear(dsrc); Array.Clear(dl);
            var logits = m.Forward(src, srcMask, tgt, tgtMask, B, Ss, St);
            TimeDistributed<double>.LossBackward(dl, logits, tgt, tgtMask, 1.0, B, St, C);
            m.Backward(dsrc, dl, B, Ss, St);
        }
        GradCheck.Assert(Loss, Analytic, [.. m.Parameters.Select(GradCheck.Of), new("source", src, dsrc)]);
    }

    [Fact]
    public void Mode4_EncoderDecoder_ShapesAndDecodeLengths()
    {
        using var m = Seq2Seq("onehot", new Rng(8));
        var src = GradCheck.Det(B * Ss * F, 1.0);
        var logits = m.Forward(src, default, Targets(B * St, C), default, B, Ss, St);
        Assert.Equal(B * St * C, logits.Length);            // (batch, St, C), St ≠ Ss
        var outp = new int[B * 7];
        m.Decode(outp, src, default, B, Ss, 7);              // any decode length
        Assert.All(outp, t => Assert.InRange(t, 0, C - 1));
        var sampled = new int[B * 2];
        m.Decode(sampled, src, default, B, Ss, 2, new Rng(1), 0.7);
        Assert.All(sampled, t => Assert.InRange(t, 0, C - 1));
        // Greedy decoding is the teacher-forced forward fed its own argmax.
        var greedy = new int[B * St];
        m.Decode(greedy, src, default, B, Ss, St);
        var again = m.Forward(src, default, greedy, default, B, Ss, St).ToArray();
        for (int i = 0; i < B * St; i++) Assert.Equal(greedy[i], Tokens.Argmax<double>(again.AsSpan(i * C, C)));
        Assert.Throws<ArgumentException>(() => m.Forward(src, default, new int[B * St - 1], default, B, Ss, St));
        Assert.Throws<ArgumentException>(() => new EncoderDecoder<double>(
            new SimpleRnn<double>(F, H, new Rng(1)), new SimpleRnn<double>(C, H, new Rng(1)), new Dense<double>(H, C, new Rng(1))));
    }

    [Fact]
    public void Mode4_EncoderDecoder_LearnsToReverse()
    {
        // Reverse a sequence of 4 tokens over 5 symbols, teacher forced; greedy decoding must then mostly succeed.
        const int n = 64, c = 5, len = 4, hidden = 32;
        var rng = new Rng(9);
        var enc = new SimpleRnn<float>(c, hidden, rng, new SimpleRnnOptions { ReturnSequences = false });
        var dec = new SimpleRnn<float>(c + 1, hidden, rng, new SimpleRnnOptions { InitialState = InitialState.Given });
        using var m = new EncoderDecoder<float>(enc, dec, new Dense<float>(hidden, c + 1, rng), new EncoderDecoderOptions { StartToken = c });
        var src = new float[n * len * c]; var tgt = new int[n * len];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < len; t++) { int tok = rng.NextInt(c); src[(i * len + t) * c + tok] = 1; tgt[i * len + len - 1 - t] = tok; }
        var opt = new Adam<float>(m.Parameters, 0.01);
        var clock = Stopwatch.StartNew();
        float first = 0, last = 0;
        for (int step = 0; step < 300; step++)
        {
            opt.ZeroGrad();
            last = m.TrainLoss(src, default, tgt, default, n, len, len); if (step == 0) first = last;
            opt.Step();
        }
        Assert.True(last < 0.25f * first, $"loss {first} -> {last}: expected a fall below 25% of the first");
        var outp = new int[n * len];
        m.Decode(outp, src, default, n, len, len);
        double acc = outp.Zip(tgt).Count(p => p.First == p.Second) / (double)outp.Length;
        Assert.True(acc > 0.8, $"greedy token accuracy {acc:P0}: expected > 80% ({clock.ElapsedMilliseconds} ms)");
    }

    // ---------- mode 5: synced many to many ----------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Mode5_Synced_GradientsMatchFiniteDifferences(bool masked)
    {
        using var rnn = new SimpleRnn<double>(F, H, new Rng(10));
        using var head = new TimeDistributed<double>(new Dense<double>(H, C, new Rng(11), name: "fc"));
        Shrink(rnn.WeightHh, 0.8);
        var x = GradCheck.Det(B * S * F, 1.0); var dx = new double[x.Length];
        var mask = masked ? PostPad(B, S) : [];
        var y = Targets(B * S, C);
        if (masked) y[B * S - 1] = 99; // padded: never read
        var hs = new double[B * S * H]; var dhs = new double[hs.Length]; var logits = new double[B * S * C]; var dl = new double[logits.Length];
        double Loss() { rnn.Forward(hs, x, mask, default, B, S); head.Forward(logits, hs, B, S); return TimeDistributed<double>.Loss(logits, y, mask, B, S, C); }
        void Analytic()
        {
            rnn.ZeroGrad(); head.Inner.ZeroGrad(); Array.Clear(dx); Array.Clear(dhs); Array.Clear(dl);
            Loss();
            TimeDistributed<double>.LossBackward(dl, logits, y, mask, 1.0, B, S, C);
            head.Backward(dhs, dl, B, S);
            rnn.Backward(dx, default, dhs, B, S);
        }
        GradCheck.Assert(Loss, Analytic, [.. rnn.Parameters.Concat(head.Parameters).Select(GradCheck.Of), new("x", x, dx)]);
        Assert.Equal(B * S * H, B * rnn.OutputLength(S));   // (batch, seq, H)
        Assert.Equal(B * S * C, logits.Length);             // (batch, seq, C)
    }

    [Fact]
    public void Mode5_Synced_MaskedStepsCostNothing()
    {
        using var head = new TimeDistributed<double>(new Dense<double>(H, C, new Rng(1)));
        var logits = GradCheck.Det(B * S * C, 2.0);
        var mask = PostPad(B, S);
        var y = Targets(B * S, C);
        double l1 = TimeDistributed<double>.Loss(logits, y, mask, B, S, C);
        for (int i = 0; i < B * S; i++) if (mask[i] == 0) { y[i] = (y[i] + 1) % C; for (int c = 0; c < C; c++) logits[i * C + c] += c; }
        Assert.Equal(l1, TimeDistributed<double>.Loss(logits, y, mask, B, S, C), 12);
        var dl = new double[logits.Length];
        TimeDistributed<double>.LossBackward(dl, logits, y, mask, 1.0, B, S, C);
        for (int i = 0; i < B * S; i++) if (mask[i] == 0) Assert.All(dl.AsSpan(i * C, C).ToArray(), v => Assert.Equal(0.0, v));
        Assert.Throws<ArgumentException>(() => TimeDistributed<double>.Loss(logits, y, new double[B * S - 1], B, S, C));
    }

    [Fact]
    public void Mode5_Synced_TrainingLowersTheLoss()
    {
        // Output at t = input token at t−1 (a one-step delay line); step 0's target is masked out.
        const int n = 16, c = 4, len = 10, hidden = 16;
        var rng = new Rng(12);
        var x = new float[n * len * c]; var y = new int[n * len]; var mask = new float[n * len];
        for (int i = 0; i < n; i++)
        {
            int prev = 0;
            for (int t = 0; t < len; t++) { int tok = rng.NextInt(c); x[(i * len + t) * c + tok] = 1; y[i * len + t] = prev; mask[i * len + t] = t == 0 ? 0 : 1; prev = tok; }
        }
        using var rnn = new SimpleRnn<float>(c, hidden, rng);
        using var head = new TimeDistributed<float>(new Dense<float>(hidden, c, rng));
        var opt = new Adam<float>(rnn.Parameters.Concat(head.Parameters), 0.02);
        var hs = new float[n * len * hidden]; var dhs = new float[hs.Length]; var logits = new float[n * len * c]; var dl = new float[logits.Length];
        float first = 0, last = 0;
        for (int step = 0; step < 150; step++)
        {
            opt.ZeroGrad(); Array.Clear(dhs); Array.Clear(dl);
            rnn.Forward(hs, x, default, default, n, len);
            head.Forward(logits, hs, n, len);
            last = TimeDistributed<float>.Loss(logits, y, mask, n, len, c); if (step == 0) first = last;
            TimeDistributed<float>.LossBackward(dl, logits, y, mask, 1f, n, len, c);
            head.Backward(dhs, dl, n, len);
            rnn.Backward(default, default, dhs, n, len);
            opt.Step();
        }
        Assert.True(last < 0.2f * first, $"loss {first} -> {last}: expected a fall below 20% of the first");
    }

    // ---------- stacks: N layers of every recurrent kind with dropout between (SequenceModel), modes 3 and 5 ----------

    [Theory]
    [InlineData(CellKind.RnnTanh, false)]
    [InlineData(CellKind.RnnTanh, true)]
    [InlineData(CellKind.Lstm, false)]
    [InlineData(CellKind.Lstm, true)]
    [InlineData(CellKind.Gru, true)]
    [InlineData(CellKind.GruResetBefore, false)]
    public void Stacks_ThreeLayersWithDropoutBetween_GradientsMatchFiniteDifferences(CellKind cell, bool perStep)
    {
        var spec = new ModelSpec { InputSize = F, Cell = cell, Hidden = 4, Layers = 3, DropoutBetween = 0.3, OutputSize = C, PerStep = perStep };
        using var m = new SequenceModel<double>(spec, new Rng(21));
        var x = GradCheck.Det(B * S * F, 1.0); var dx = new double[x.Length];
        var mask = PostPad(B, S);
        var y = Targets(perStep ? B * S : B, C);
        int rows = m.OutputRows(B, S);
        var w = perStep ? mask : []; // mode 5: the sequence mask weights the per-step loss
        double Loss()
        {
            m.ReseedDropout(42); // the same dropout masks on every pass
            return SoftmaxCrossEntropy.Forward<double>(m.Forward(x, mask, B, S), y, w, C);
        }
        void Analytic()
        {
            m.ZeroGrad(); Array.Clear(dx);
            m.ReseedDropout(42);
            var outp = m.Forward(x, mask, B, S);
            m.OutputGrad.Clear();
            SoftmaxCrossEntropy.Backward<double>(m.OutputGrad, outp, y, w, 1.0, C);
            m.Backward(m.OutputGrad, dx, B, S);
        }
        GradCheck.Assert(Loss, Analytic, [.. m.NamedParameters.Select(p => new GradCheck.Target(p.Name, p.Parameter.Value, p.Parameter.Grad)), new("x", x, dx)]);
        Assert.Equal((perStep ? B * S : B) * C, rows * C); // (batch·seq, C) per step, (batch, C) on the final state
    }

    [Fact]
    public void Mode2_RepeatVectorFeedsASequenceModel_GradientsMatchFiniteDifferences()
    {
        var spec = new ModelSpec { InputSize = F, Cell = CellKind.Lstm, Hidden = 4, Layers = 2, OutputSize = C, PerStep = true };
        using var m = new SequenceModel<double>(spec, new Rng(22));
        var rep = new RepeatVector<double>(F, S);
        var v = GradCheck.Det(B * F, 1.0); var dv = new double[v.Length];
        var seq = new double[B * S * F]; var dseq = new double[seq.Length];
        var mask = PostPad(B, S); var y = Targets(B * S, C);
        double Loss() { rep.Forward(seq, v, B); return TimeDistributed<double>.Loss(m.Forward(seq, mask, B, S), y, mask, B, S, C); }
        void Analytic()
        {
            m.ZeroGrad(); Array.Clear(dv); Array.Clear(dseq);
            rep.Forward(seq, v, B);
            var outp = m.Forward(seq, mask, B, S);
            m.OutputGrad.Clear();
            TimeDistributed<double>.LossBackward(m.OutputGrad, outp, y, mask, 1.0, B, S, C);
            m.Backward(m.OutputGrad, dseq, B, S);
            rep.Backward(dv, dseq, B);
        }
        GradCheck.Assert(Loss, Analytic, [.. m.NamedParameters.Select(p => new GradCheck.Target(p.Name, p.Parameter.Value, p.Parameter.Grad)), new("vector", v, dv)]);
    }
}
