using System.IO.Compression;
using System.Text;
using Rnn.Data;
using Rnn.Init;
using Rnn.Losses;
using Rnn.Models;
using Rnn.Optimizers;

namespace Rnn.Tests;

/// <summary>
/// Misuse of the API (issue 17): optimizer hyperparameters checked in setters as in constructors, SequenceModel
/// sizes checked before any allocation, a refused call that leaves no trace, a steady-state training step that
/// allocates nothing, and a truncated gzip that is an error.
/// </summary>
[Collection("Kernels")] // allocation is measured per thread
public class MisuseTests
{
    private static Parameter<float>[] Params() { var p = new Parameter<float>("w", [4]); p.Value.AsSpan().Fill(1); p.Grad.AsSpan().Fill(0.5f); return [p]; }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1.0)]
    [InlineData(0.0)]
    [InlineData(double.PositiveInfinity)]
    public void LearningRateIsCheckedInTheSetterAsInTheConstructor(double lr)
    {
        var opt = new Adam<float>(Params());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => opt.LearningRate = lr);
        Assert.Equal("LearningRate", e.ParamName);
        Assert.Equal(1e-3, opt.LearningRate);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<float>(Params(), lr));
    }

    [Fact]
    public void MaxGradNormNaNOrNegativeIsRefused()
    {
        var opt = new Sgd<float>(Params(), 0.1);
        Assert.Equal("MaxGradNorm", Assert.Throws<ArgumentOutOfRangeException>(() => opt.MaxGradNorm = double.NaN).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.MaxGradNorm = -1);
        opt.MaxGradNorm = 0; opt.MaxGradNorm = 5;
        Assert.Equal("maxNorm", Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ClipGlobalNorm(Params(), double.NaN)).ParamName);
        Assert.Equal("limit", Assert.Throws<ArgumentOutOfRangeException>(() => GradClip.ClipValue(Params(), double.NaN)).ParamName);
    }

    [Theory]
    [InlineData(1.0, 0.999, 1e-7, "beta1")]
    [InlineData(double.NaN, 0.999, 1e-7, "beta1")]
    [InlineData(-0.1, 0.999, 1e-7, "beta1")]
    [InlineData(0.9, double.NaN, 1e-7, "beta2")]
    [InlineData(0.9, 1.0, 1e-7, "beta2")]
    [InlineData(0.9, 0.999, 0.0, "epsilon")]
    [InlineData(0.9, 0.999, -1.0, "epsilon")]
    [InlineData(0.9, 0.999, double.NaN, "epsilon")]
    [InlineData(0.9, 0.999, double.PositiveInfinity, "epsilon")]
    public void AdamHyperparametersAreChecked(double beta1, double beta2, double epsilon, string named)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam<float>(Params(), 1e-3, beta1, beta2, epsilon));
        Assert.Equal(named, e.ParamName);
        Assert.Contains(named + ": expected", e.Message);
    }

    [Fact]
    public void OtherOptimizersCheckTheirHyperparameters()
    {
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<float>(Params(), 0.1, double.NaN)).ParamName);
        Assert.Equal("rho", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<float>(Params(), 0.1, 1.0)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp<float>(Params(), 0.1, 0.9, 0)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adagrad<float>(Params(), 0.1, -1)).ParamName);
    }

    private static SequenceModel<float> Model(int vocab = 0) => new(new ModelSpec
    {
        InputSize = 3, Vocab = vocab, EmbeddingDim = 4, Cell = CellKind.Lstm, Hidden = 8, Layers = 2, Bidirectional = true,
        DropoutBetween = 0.2, HeadDropout = 0.3, OutputSize = 1,
    }, new Rng(5));

    [Theory]
    [InlineData(-1, 4, "batch")]
    [InlineData(0, 4, "batch")]
    [InlineData(2, -3, "seqLen")]
    [InlineData(int.MaxValue, 4, "batch")]
    [InlineData(65536, 65536, "batch")]
    public void ForwardSizesAreCheckedBeforeAnyAllocation(int batch, int seqLen, string named)
    {
        using var m = Model();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward(new float[6], default, batch, seqLen));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 10, "allocated before refusing");
        Assert.Equal(named, e.ParamName);
        Assert.Contains(named + ": expected", e.Message);
        using var t = Model(vocab: 20);
        Assert.Equal(named, Assert.Throws<ArgumentOutOfRangeException>(() => t.Forward(new int[6], default, batch, seqLen)).ParamName);
    }

    [Fact]
    public void ASecondBackwardIsRefusedBeforeTheHeadGradientIsAddedAgain()
    {
        using var m = Model();
        const int b = 3, s = 4;
        var x = GradCheck.Det(b * s * 3).Select(v => (float)v).ToArray();
        var dOut = new float[b]; dOut.AsSpan().Fill(0.1f);
        m.ZeroGrad();
        m.Forward(x, default, b, s);
        m.Backward(dOut, default, b, s);
        var grads = m.Parameters.Select(p => p.Grad.ToArray()).ToArray();
        var e = Assert.Throws<InvalidOperationException>(() => m.Backward(dOut, default, b, s));
        Assert.Contains("since the last Backward", e.Message);
        for (int i = 0; i < grads.Length; i++) Assert.Equal(grads[i], m.Parameters[i].Grad);

        // An evaluation Forward keeps no tape: Backward is refused, again without a trace.
        m.Training = false;
        m.Forward(x, default, b, s);
        Assert.Throws<InvalidOperationException>(() => m.Backward(dOut, default, b, s));
        for (int i = 0; i < grads.Length; i++) Assert.Equal(grads[i], m.Parameters[i].Grad);

        using var fresh = Model();
        Assert.Contains("no Forward has run", Assert.Throws<InvalidOperationException>(() => fresh.Backward(dOut, default, b, s)).Message);
    }

    [Fact]
    public void AWrongDOutOrDxIsNamedAndLeavesNoTrace()
    {
        using var m = Model();
        const int b = 3, s = 4;
        var x = GradCheck.Det(b * s * 3).Select(v => (float)v).ToArray();
        m.ZeroGrad();
        m.Forward(x, default, b, s);
        var e = Assert.Throws<ArgumentException>(() => m.Backward(new float[b + 1], default, b, s));
        Assert.Equal("dOut", e.ParamName);
        Assert.Contains("dOut: expected 3 elements", e.Message);
        Assert.Equal("dx", Assert.Throws<ArgumentException>(() => m.Backward(new float[b], new float[5], b, s)).ParamName);
        Assert.All(m.Parameters, p => Assert.All(p.Grad, g => Assert.Equal(0f, g)));
        m.Backward(new float[b], new float[x.Length], b, s); // the tape is still there for a correct call
    }

    [Fact]
    public void ASteadyStateTrainingStepAllocatesNothing()
    {
        // The whole step as a user writes it: ZeroGrad, Forward, loss, Backward, Step, and the Training toggles of
        // an epoch's evaluation.
        using var m = Model(vocab: 30);
        var opt = new Adam<float>(m.Parameters) { MaxGradNorm = 5 };
        const int b = 8, s = 12;
        var r = new Rng(3);
        var tokens = new int[b * s];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = r.NextInt(30);
        var y = new float[b];
        for (int i = 0; i < b; i++) y[i] = i % 2;
        float loss = 0;
        void Step()
        {
            m.Training = true;
            opt.ZeroGrad();
            var logits = m.Forward(tokens, default, b, s);
            loss = BinaryCrossEntropy.Forward<float>(logits, y);
            BinaryCrossEntropy.Backward<float>(m.OutputGrad, logits, y, 1f);
            m.Backward(m.OutputGrad, default, b, s);
            opt.Step();
            m.Training = false;
        }
        for (int k = 0; k < 3; k++) Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(float.IsFinite(loss));
    }

    [Fact]
    public void ATruncatedGzipIsAnErrorNamingTheFile()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rnn-gz-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        try
        {
            var tsv = new StringBuilder(ImdbReader.Header + "\n");
            for (int i = 0; i < 300; i++) tsv.Append($"train\t{i % 2}\t{i}\t{(i % 2 == 0 ? 2 : 9)}\tthis review number {i} says something long enough to compress {new string('x', i % 37)}\n");
            var ms = new MemoryStream();
            using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(tsv.ToString()));
            byte[] whole = ms.ToArray();
            string path = Path.Combine(dir, "train.tsv.gz");
            File.WriteAllBytes(path, whole);
            Assert.Equal(300, ImdbReader.ReadTsv(path, "train").Length);
            foreach (int cut in new[] { whole.Length - 1, whole.Length - 8, whole.Length / 2, 12 })
            {
                File.WriteAllBytes(path, whole[..cut]);
                var e = Assert.Throws<InvalidDataException>(() => ImdbReader.ReadTsv(path, "train"));
                Assert.StartsWith(path + ":", e.Message);
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
