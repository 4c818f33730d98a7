using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Models;

namespace Rnn.Tests;

public class ApiEnumTests
{
    [Theory]
    [InlineData("rnn.output_activation", "softmax")]
    [InlineData("rnn.output_activation", "Sigmoid")]
    [InlineData("rnn.init", "glorot")]
    [InlineData("rnn.init", "Keras")]
    public void AnUnknownEnumNameInCheckpointMetadataIsRejectedNamingTheField(string key, string value)
    {
        var meta = new ModelSpec { InputSize = 3, Hidden = 4, OutputSize = 2 }.ToMetadata();
        meta[key] = value;
        var e = Assert.Throws<InvalidDataException>(() => ModelSpec.FromMetadata(meta));
        Assert.Contains(key, e.Message);
        Assert.Contains(value, e.Message);
    }

    [Fact]
    public void EnumsRoundTripThroughMetadataUnderTheirOldSpellings()
    {
        foreach (var act in Enum.GetValues<Activation>())
            foreach (var init in Enum.GetValues<InitScheme>())
            {
                var spec = new ModelSpec { InputSize = 3, Hidden = 4, OutputSize = 2, OutputActivation = act, Init = init };
                var meta = spec.ToMetadata();
                Assert.Equal(act.ToString().ToLowerInvariant(), meta["rnn.output_activation"]);
                Assert.Equal(init.ToString().ToLowerInvariant(), meta["rnn.init"]);
                Assert.Equal(spec, ModelSpec.FromMetadata(meta));
            }
    }

    [Fact]
    public void AnUndefinedEnumValueInASpecIsRejectedNamingTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new ModelSpec { InputSize = 3, Hidden = 4, OutputActivation = (Activation)42 }.Validate());
        Assert.Equal("OutputActivation", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => new ModelSpec { InputSize = 3, Hidden = 4, Init = (InitScheme)7 }.Validate());
        Assert.Equal("Init", e.ParamName);
    }

    [Fact]
    public void AnIntSeedGivesTheSameSequenceAsTheSameUlongSeedAndANegativeOneThrows()
    {
        int seed = 12345;
        var a = new Rng(seed);
        var b = new Rng(12345UL);
        for (int i = 0; i < 8; i++) Assert.Equal(b.NextUInt64(), a.NextUInt64());
        int negative = -1;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Rng(negative));
        Assert.Equal("seed", e.ParamName);
    }

    [Fact]
    public void APyTorchInitVanillaRnnDrawsEveryParameterFromUPlusMinusOneOverSqrtH()
    {
        const int H = 16;
        using var l = new SimpleRnn<double>(5, H, new Rng(3), new SimpleRnnOptions { Init = InitScheme.PyTorch, TwoBiases = true });
        double a = 1 / Math.Sqrt(H);
        foreach (var p in l.Parameters)
        {
            Assert.All(p.Value, v => Assert.InRange(v, -a, a));
            Assert.Contains(p.Value, v => v != 0); // biases too, unlike the default HeUniform / zero-bias scheme
        }
        // The model no longer re-initialises: its parameters are exactly what the option draws.
        var spec = new ModelSpec { InputSize = 5, Cell = CellKind.RnnTanh, Hidden = H, OutputSize = 1, Init = InitScheme.PyTorch };
        using var m = new SequenceModel<double>(spec, new Rng(3));
        var r = new Rng(3);
        r.NextUInt64(); // the model's dropout generator is drawn first
        using var same = new SimpleRnn<double>(5, H, r, new SimpleRnnOptions { Init = InitScheme.PyTorch, TwoBiases = true, ReturnSequences = false });
        for (int k = 0; k < same.Parameters.Count; k++) Assert.Equal(same.Parameters[k].Value, m.Recurrent[0].Parameters[k].Value);
    }

    [Fact]
    public void LossGradientsOverwriteSoAForgottenClearCannotDoubleThem()
    {
        float[] z = [0.3f, -1.2f, 2f], y = [1f, 0f, 1f];
        var clean = new float[3];
        BinaryCrossEntropy.Backward<float>(clean, z, y, 1f);
        var reused = new float[3];
        BinaryCrossEntropy.Backward<float>(reused, z, y, 1f);
        BinaryCrossEntropy.Backward<float>(reused, z, y, 1f); // the old misuse: the same buffer, not cleared
        Assert.Equal(clean, reused);
        var dm = new float[3] { 9, 9, 9 };
        Mse.Backward<float>(dm, z, y, 1f);
        var dm0 = new float[3];
        Mse.Backward<float>(dm0, z, y, 1f);
        Assert.Equal(dm0, dm);
        float[] logits = [1, 2, 3, 0, 0, 1];
        var ds = new float[6] { 5, 5, 5, 5, 5, 5 };
        SoftmaxCrossEntropy.Backward<float>(ds, logits, [2, 0], [1f, 0f], 1f, 3);
        Assert.Equal([0f, 0f, 0f], ds[3..]); // a weight-0 row is written 0, not left as it was
        var ds0 = new float[6];
        SoftmaxCrossEntropy.Backward<float>(ds0, logits, [2, 0], [1f, 0f], 1f, 3);
        Assert.Equal(ds0, ds);
    }
}
