using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;

namespace Rnn.Tests;

public class ModelTests
{
    private static Model<double> EncoderDecoder(Rng? rng) => new(3, rng,
        new RecurrentSpec("encoder", CellKind.Gru, 4) { Bidirectional = true, Init = InitScheme.PyTorch },
        new RepeatVectorSpec("bridge", 5),
        new RecurrentSpec("decoder", CellKind.Lstm, 3) { Layers = 2, ReturnSequences = true, InitialState = InitialState.Learned },
        new DenseSpec("out", 6));

    [Fact]
    public void ParameterNamesAreLayerNameDotLocalNameAndUnique()
    {
        using var m = new Model<float>(0, new Rng(1),
            new EmbeddingSpec("embedding", 30, 4, MaskZero: true),
            new RecurrentSpec("lstm", CellKind.Lstm, 5) { Layers = 2, Bidirectional = true, Init = InitScheme.PyTorch },
            new DropoutSpec("drop", 0.5),
            new DenseSpec("fc", 1));
        var names = m.NamedParameters.Select(p => p.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal("embedding.weight", names[0]);
        Assert.Contains("lstm.weight_ih_l0", names);
        Assert.Contains("lstm.bias_hh_l1_reverse", names);
        Assert.Equal(["fc.weight", "fc.bias"], names[^2..]);
        Assert.Equal(m.Parameters.Count, names.Count);
        Assert.IsType<Embedding<float>>(m.Layer("embedding"));
        Assert.Equal(2, ((IReadOnlyList<IRecurrentLayer<float>>)m.Layer("lstm")).Count);
    }

    [Fact]
    public void ADuplicateOrDottedLayerNameIsAnErrorNamingIt()
    {
        var e = Assert.Throws<ArgumentException>(() => new Model<float>(2, null, new DenseSpec("fc", 3), new DenseSpec("fc", 1)));
        Assert.Contains("'fc' twice", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model<float>(2, null, new DenseSpec("a.b", 3)));
        Assert.Contains("'a.b'", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Model<float>(2, null, new RecurrentSpec("a", CellKind.Gru, 3), new RecurrentSpec("b", CellKind.Lstm, 2)));
        Assert.Contains("RepeatVector", e.Message); // a recurrent layer on one vector per sequence
        Assert.Throws<ArgumentOutOfRangeException>(() => new Model<float>(3, null, new EmbeddingSpec("e", 5, 2)));
    }

    [Fact]
    public void TheSequenceModelIsTheModelOfItsSpecsLayers()
    {
        var spec = new ModelSpec { Vocab = 20, EmbeddingDim = 3, Cell = CellKind.Lstm, Hidden = 4, Layers = 2, DropoutBetween = 0.3, HeadDropout = 0.5, OutputSize = 1 };
        using var a = new SequenceModel<float>(spec, new Rng(9));
        using var b = new Model<float>(0, new Rng(9), spec.ToLayers());
        Assert.Equal(a.NamedParameters.Select(p => p.Name), b.NamedParameters.Select(p => p.Name));
        var tokens = new int[4 * 6];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (i * 7 + 1) % 20;
        float[] y = [1, 0, 1, 1];
        foreach (var m in new Model<float>[] { a, b })
        {
            var logits = m.Forward(tokens, default, 4, 6);
            BinaryCrossEntropy.Backward<float>(m.OutputGrad, logits, y, 1f);
            m.Backward(m.OutputGrad, default, 4, 6);
        }
        for (int k = 0; k < a.Parameters.Count; k++)
        {
            Assert.Equal(a.Parameters[k].Value, b.Parameters[k].Value);
            Assert.Equal(a.Parameters[k].Grad, b.Parameters[k].Grad);
        }
    }

    [Fact]
    public void AnEncoderDecoderModelsGradientsMatchFiniteDifferences()
    {
        using var m = EncoderDecoder(new Rng(4));
        const int B = 2, S = 4;
        var x = GradCheck.Det(B * S * 3, 0.8, 0.3);
        int rows = m.OutputRows(B, S);
        Assert.Equal(B * 5, rows);
        int[] t = Enumerable.Range(0, rows).Select(i => (i * 5 + 2) % 6).ToArray();
        var dx = new double[x.Length];
        double Loss() => SoftmaxCrossEntropy.Forward<double>(m.Forward(x, default, B, S), t, 6);
        void Analytic()
        {
            m.ZeroGrad(); Array.Clear(dx);
            var o = m.Forward(x, default, B, S);
            SoftmaxCrossEntropy.Backward<double>(m.OutputGrad, o, t, 1.0, 6);
            m.Backward(m.OutputGrad, dx, B, S);
        }
        var targets = m.Parameters.Select(GradCheck.Of).Append(new GradCheck.Target("x", x, dx)).ToArray();
        GradCheck.Assert(Loss, Analytic, targets);
    }

    [Fact]
    public void AComposedModelRoundTripsThroughACheckpoint()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-model-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var m = EncoderDecoder(new Rng(5));
            m.Training = false;
            var x = GradCheck.Det(2 * 4 * 3, 0.5, 0.1);
            var before = m.Forward(x, default, 2, 4).ToArray();
            Checkpoint.Save(m, path, new Dictionary<string, string> { ["note"] = "x" });
            using var back = Checkpoint.LoadModel<double>(path, out var meta);
            Assert.Equal("2", meta["rnn.format"]);
            Assert.Equal("x", meta["note"]);
            Assert.Equal(m.Specs, back.Specs);
            Assert.Equal(m.NamedParameters.Select(p => p.Name), back.NamedParameters.Select(p => p.Name));
            Assert.Equal(before, back.Forward(x, default, 2, 4).ToArray());
            var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<double>(path));
            Assert.Contains("LoadModel", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("rnn.layer.0.cell", "Transformer")]
    [InlineData("rnn.layer.0.init", "xavier")]
    [InlineData("rnn.layer.3.activation", "softmax")]
    [InlineData("rnn.layer.1.kind", "attention")]
    [InlineData("rnn.layer.2.initial_state", "Given")]
    public void AnUnknownValueInALayerListIsRejectedNamingTheKey(string key, string value)
    {
        string path = Path.Combine(Path.GetTempPath(), $"rnn-model-{Environment.ProcessId}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var m = EncoderDecoder(new Rng(5));
            var meta = ModelMetadata.ToMetadata(m.InputSize, m.Specs);
            meta[key] = value;
            SafeTensors.Save(path, m.NamedParameters.Select(p => NamedTensor.F64(p.Name, p.Parameter.Shape, p.Parameter.Value)), meta);
            var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.LoadModel<double>(path));
            Assert.Contains(key, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ACheckpointWrittenByTheCurrentReleaseStillLoads()
    {
        // Written by main at bebf76e (format 1, a ModelSpec in the metadata), before the Model container existed:
        //   Rnn.Samples imdb --train-limit 64 --epochs 1 --maxlen 12 --embed 2 --hidden 3 --batch 16 --no-baseline --seed 5 --save FILE
        string path = InteropTests.Fixture("checkpoint-format1-imdb-lstm.safetensors");
        using var m = Checkpoint.Load<float>(path, out var meta);
        Assert.Equal("12", meta["imdb.maxlen"]);
        Assert.Equal(new ModelSpec { Vocab = 20000, EmbeddingDim = 2, Cell = CellKind.Lstm, Hidden = 3, HeadDropout = 0.5, OutputSize = 1 }, m.Spec);
        using var any = Checkpoint.LoadModel<float>(path);
        Assert.IsType<SequenceModel<float>>(any);
        // The same numbers through layers built by hand from the file's raw tensors.
        using var file = SafeTensors.Load(path);
        float[] Read(string name) { var a = new float[file.Info(name).Shape.Aggregate(1L, (p, d) => p * d)]; file.ReadFloat(name, a); return a; }
        using var emb = new Embedding<float>(20000, 2, null);
        using var lstm = new Lstm<float>(2, 3, null, new LstmOptions { ReturnSequences = false });
        using var fc = new Dense<float>(3, 1, null);
        Read("embedding.weight").CopyTo(emb.Weight.Value, 0);
        Read("rnn.weight_ih_l0").CopyTo(lstm.WeightIh.Value, 0); Read("rnn.weight_hh_l0").CopyTo(lstm.WeightHh.Value, 0); Read("rnn.bias_ih_l0").CopyTo(lstm.BiasIh.Value, 0);
        Read("fc.weight").CopyTo(fc.Weight.Value, 0); Read("fc.bias").CopyTo(fc.Bias.Value, 0);
        Assert.Contains(emb.Weight.Value, v => v != 0);
        const int B = 3, S = 12;
        var tokens = Enumerable.Range(0, B * S).Select(i => (i * 997 + 13) % 20000).ToArray();
        var e = new float[B * S * 2]; var h = new float[B * 3]; var o = new float[B];
        emb.Forward(e, tokens, B, S); lstm.Training = false; lstm.Forward(h, e, default, B, S); fc.Infer(o, h, B);
        Assert.Equal(o, m.Forward(tokens, default, B, S).ToArray());
        Assert.Equal(o, any.Forward(tokens, default, B, S).ToArray());
    }
}
