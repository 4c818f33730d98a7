using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;

namespace Rnn.Tests;

public class SequenceModelTests
{
    private const int B = 3, S = 5;

    public static TheoryData<CellKind, bool, bool, double> StackCases => new()
    {
        { CellKind.RnnTanh, false, false, 0.0 },
        { CellKind.RnnRelu, false, true, 0.0 },
        { CellKind.RnnTanh, true, true, 0.3 },
        { CellKind.Lstm, false, false, 0.3 },
        { CellKind.Lstm, true, true, 0.3 },
        { CellKind.Gru, true, false, 0.3 },
        { CellKind.GruResetBefore, false, true, 0.0 },
    };

    /// <summary>Two stacked layers (layer 2 reads layer 1's hidden states), optional bidirectional, dropout between, masked input.</summary>
    [Theory]
    [MemberData(nameof(StackCases))]
    public void StackedGradients(CellKind cell, bool bidirectional, bool perStep, double dropout)
    {
        var spec = new ModelSpec
        {
            InputSize = 3, Cell = cell, Hidden = 4, Layers = 2, Bidirectional = bidirectional, DropoutBetween = dropout,
            HeadDropout = dropout, OutputSize = 2, PerStep = perStep, Init = InitScheme.PyTorch,
        };
        using var m = new SequenceModel<double>(spec, new Rng(5));
        var x = GradCheck.Det(B * S * 3);
        var mask = SimpleRnnGradTests.PostPadMask(B, S);
        int rows = m.OutputRows(B, S);
        var c = GradCheck.Det(rows * 2, 1, 3); var dy = new double[rows * 2]; var dx = new double[x.Length];
        double Loss() { m.ReseedDropout(9); return 0.1 * GradCheck.WeightedLoss(m.Forward(x, mask, B, S), c, default); }
        void Analytic()
        {
            m.ZeroGrad(); Array.Clear(dx); m.ReseedDropout(9);
            var y = m.Forward(x, mask, B, S);
            GradCheck.WeightedLoss(y, c, dy);
            for (int i = 0; i < dy.Length; i++) dy[i] *= 0.1;
            m.Backward(dy, dx, B, S);
        }
        GradCheck.Assert(Loss, Analytic, m.NamedParameters.Select(np => new GradCheck.Target(np.Name, np.Parameter.Value, np.Parameter.Grad))
            .Append(new GradCheck.Target("x", x, dx)).ToArray());
        Assert.Equal(perStep ? B * S : B, rows);
    }

    /// <summary>The whole IMDB network (Embedding → LSTM → Dropout → Dense) with BCE from logits, at a small size.</summary>
    [Fact]
    public void ImdbNetworkWithBce()
    {
        var spec = new ModelSpec { Vocab = 11, EmbeddingDim = 4, Cell = CellKind.Lstm, Hidden = 5, HeadDropout = 0.5, OutputSize = 1, Init = InitScheme.Keras };
        using var m = new SequenceModel<double>(spec, new Rng(2));
        int[] tokens = [1, 5, 7, 3, 2, 0, 0, 1, 4, 4, 1, 10, 9, 8, 7];
        double[] y = [1, 0, 1];
        double Loss() { m.ReseedDropout(4); return BinaryCrossEntropy.Forward<double>(m.Forward(tokens, default, B, S), y); }
        void Analytic()
        {
            m.ZeroGrad(); m.ReseedDropout(4);
            var logits = m.Forward(tokens, default, B, S);
            var d = m.OutputGrad[..B]; d.Clear();
            BinaryCrossEntropy.Backward<double>(d, logits, y, 1.0);
            m.Backward(d, default, B, S);
        }
        // The embedding's gradient lives only in rows that were used; check every row (unused rows must stay 0).
        GradCheck.Assert(Loss, Analytic, m.NamedParameters.Select(np => new GradCheck.Target(np.Name, np.Parameter.Value, np.Parameter.Grad)).ToArray());
    }

    [Fact]
    public void MaskZeroTokens()
    {
        // Pre-padded tokens with mask_zero: the final state must equal that of the unpadded sequence.
        var spec = new ModelSpec { Vocab = 9, EmbeddingDim = 3, MaskZero = true, Cell = CellKind.Gru, Hidden = 4, OutputSize = 2 };
        using var m = new SequenceModel<double>(spec, new Rng(3));
        m.Training = false;
        var padded = m.Forward(new[] { 0, 0, 3, 4, 5 }, default, 1, 5).ToArray();
        var plain = m.Forward(new[] { 3, 4, 5 }, default, 1, 3).ToArray();
        Assert.Equal(plain, padded);
    }

    [Fact]
    public void CheckpointRoundTripRebuildsTheModel()
    {
        var spec = new ModelSpec { Vocab = 50, EmbeddingDim = 6, Cell = CellKind.Lstm, Hidden = 7, Layers = 2, Bidirectional = true, OutputSize = 1, HeadDropout = 0.5 };
        using var m = new SequenceModel<float>(spec, new Rng(8));
        m.Training = false;
        var tokens = Enumerable.Range(0, 2 * 6).Select(i => (i * 7) % 50).ToArray();
        var before = m.Forward(tokens, default, 2, 6).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"rnn-ckpt-{Guid.NewGuid():N}.safetensors");
        try
        {
            Checkpoint.Save(m, path, new Dictionary<string, string> { ["note"] = "test" });
            using var loaded = Checkpoint.Load<float>(path);
            Assert.Equal(spec, loaded.Spec);
            Assert.Equal(before, loaded.Forward(tokens, default, 2, 6).ToArray()); // bit for bit
            Assert.Equal("test", Checkpoint.ReadMetadata(path)["note"]);
            Assert.Contains(loaded.NamedParameters, np => np.Name == "rnn.weight_hh_l1_reverse");

            // A checkpoint whose metadata says a different architecture is rejected, naming the tensor.
            var meta = spec.ToMetadata(); meta["rnn.hidden"] = "8";
            using (var f = SafeTensors.Load(path))
                SafeTensors.Save(path + ".bad", f.Tensors.Select(t => NamedTensor.F32(t.Name, t.Shape.Select(d => (int)d).ToArray(), f.GetFloat(t.Name))), meta);
            var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(path + ".bad"));
            Assert.Contains("rnn.weight_ih_l0", e.Message);
            Assert.Contains("(32, 6)", e.Message);
        }
        finally { File.Delete(path); File.Delete(path + ".bad"); }
    }

    [Fact]
    public void SpecValidationNamesTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new ModelSpec { InputSize = 3, Hidden = 4, HeadDropout = 1.5 }.Validate());
        Assert.Contains("HeadDropout", e.Message); Assert.Contains("1.5", e.Message);
        var m = new ModelSpec { InputSize = 3, Hidden = 4 }.ToMetadata(); m.Remove("rnn.cell");
        var e2 = Assert.Throws<InvalidDataException>(() => ModelSpec.FromMetadata(m));
        Assert.Contains("rnn.cell", e2.Message);
    }
}
