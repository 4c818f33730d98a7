using Rnn.Init;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

public class StreamingTests
{
    [Theory]
    [InlineData(Rnn.Kernels.Activation.Tanh, false)]
    [InlineData(Rnn.Kernels.Activation.Relu, true)]
    public void SimpleRnnStepMatchesForward(Rnn.Kernels.Activation f, bool learned)
    {
        const int B = 2, S = 7, I = 3, H = 5;
        using var rnn = new SimpleRnn<double>(I, H, new Rng(3), new SimpleRnnOptions
        { Activation = f, TwoBiases = true, InitialState = learned ? InitialState.Learned : InitialState.Zero });
        GradCheck.Det(H, 0.2, 1).CopyTo(rnn.BiasHh!.Value, 0);
        if (learned) GradCheck.Det(H, 0.4, 2).CopyTo(rnn.H0!.Value, 0);
        var x = GradCheck.Det(B * S * I);
        var y = new double[B * S * H];
        rnn.Forward(y, x, default, default, B, S);
        var stream = rnn.NewStream(B); var xt = new double[B * I];
        for (int t = 0; t < S; t++)
        {
            for (int b = 0; b < B; b++) Array.Copy(x, (b * S + t) * I, xt, b * I, I);
            rnn.Step(stream, xt);
            for (int b = 0; b < B; b++)
                for (int k = 0; k < H; k++) Assert.Equal(y[(b * S + t) * H + k], stream.H[b * H + k]);
        }
    }
}

/// <summary>
/// Streaming is the scan's step with seq = 1: in float, a sequence of Steps gives Forward's outputs exactly, for every
/// cell and on every kernel path (CI runs this suite with AVX-512, without it, without AVX2 and without intrinsics).
/// </summary>
public class StreamingEqualsForwardTests
{
    public static TheoryData<string, int, int> LayerCases()
    {
        var d = new TheoryData<string, int, int>();
        foreach (var kind in new[] { "rnn-tanh", "rnn-relu", "lstm", "lstm-proj", "lstm-peep", "lstm-peep-proj", "gru", "gru-before" })
            foreach (int batch in new[] { 1, 3, 40 })
                foreach (int hidden in new[] { 7, 24, 128 })
                    d.Add(kind, batch, hidden);
        return d;
    }

    internal static RecurrentLayer<float> Make(string kind, int I, int H, InitialState init)
    {
        var rng = new Rng(77);
        return kind switch
        {
            "rnn-tanh" => new SimpleRnn<float>(I, H, rng, new SimpleRnnOptions { TwoBiases = true, InitialState = init }),
            "rnn-relu" => new SimpleRnn<float>(I, H, rng, new SimpleRnnOptions { Activation = Rnn.Kernels.Activation.Relu, InitialState = init }),
            "lstm" => new Lstm<float>(I, H, rng, new LstmOptions { TwoBiases = true, Init = InitScheme.PyTorch, InitialState = init }),
            "lstm-proj" => new Lstm<float>(I, H, rng, new LstmOptions { ProjSize = H / 2, Init = InitScheme.PyTorch, InitialState = init }),
            "lstm-peep" => new Lstm<float>(I, H, rng, new LstmOptions { Peepholes = true, InitialState = init }),
            "lstm-peep-proj" => new Lstm<float>(I, H, rng, new LstmOptions { Peepholes = true, ProjSize = 3, TwoBiases = true, InitialState = init }),
            "gru" => new Gru<float>(I, H, rng, new GruOptions { Init = InitScheme.PyTorch, InitialState = init }),
            "gru-before" => new Gru<float>(I, H, rng, new GruOptions { ResetAfter = false, Init = InitScheme.PyTorch, InitialState = init }),
            _ => throw new ArgumentException(kind),
        };
    }

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void StepsGiveForwardsBits(string kind, int batch, int hidden)
    {
        const int S = 9, I = 5;
        foreach (var init in new[] { InitialState.Zero, InitialState.Learned })
        {
            using var l = Make(kind, I, hidden, init);
            if (l.H0 != null) GradCheck.Det(l.H0.Length, 0.3, 4).Select(v => (float)v).ToArray().CopyTo(l.H0.Value, 0);
            if (l.C0 != null) GradCheck.Det(l.C0.Length, 0.5, 6).Select(v => (float)v).ToArray().CopyTo(l.C0.Value, 0);
            l.Training = false;
            var x = GradCheck.Det(batch * S * I, 2.0, 3).Select(v => (float)v).ToArray();
            var y = new float[batch * S * l.HiddenSize];
            l.Forward(y, x, default, batch, S);
            var stream = l.NewStream(batch);
            var xt = new float[batch * I];
            for (int t = 0; t < S; t++)
            {
                for (int b = 0; b < batch; b++) Array.Copy(x, (b * S + t) * I, xt, b * I, I);
                l.Step(stream, xt);
                for (int b = 0; b < batch; b++)
                    for (int k = 0; k < l.HiddenSize; k++)
                    {
                        float want = y[(b * S + t) * l.HiddenSize + k], got = stream.H[b * l.HiddenSize + k];
                        if (want != got) Assert.Fail($"{kind} {init} B={batch} H={hidden} t={t} b={b} k={k}: Forward {want:R}, Step {got:R} on {Rnn.Kernels.Dispatch.KernelPath}");
                    }
            }
            if (l.StateCount == 2)
            {
                var c = l.FinalC.ToArray();
                Assert.Equal(c, stream.C.ToArray());
            }
        }
    }

    public static TheoryData<CellKind, bool, int, bool> ModelCases()
    {
        var d = new TheoryData<CellKind, bool, int, bool>();
        foreach (var cell in Enum.GetValues<CellKind>())
            foreach (bool tokens in new[] { false, true })
                foreach (int layers in new[] { 1, 2 })
                    foreach (bool perStep in new[] { false, true })
                        d.Add(cell, tokens, layers, perStep);
        return d;
    }

    /// <summary>The reviewer's 40 configurations: 5 cells × feature or token input × 1 or 2 layers × final or per-step head.</summary>
    [Theory]
    [MemberData(nameof(ModelCases))]
    public void PredictorStepsGiveForwardsBits(CellKind cell, bool tokens, int layers, bool perStep)
    {
        const int B = 3, S = 8, F = 6, V = 30, O = 2;
        var spec = tokens
            ? new ModelSpec { Vocab = V, EmbeddingDim = F, Cell = cell, Hidden = 20, Layers = layers, OutputSize = O, PerStep = perStep, Init = InitScheme.PyTorch }
            : new ModelSpec { InputSize = F, Cell = cell, Hidden = 20, Layers = layers, OutputSize = O, PerStep = perStep, Init = InitScheme.PyTorch };
        using var m = new SequenceModel<float>(spec, new Rng(5)) { Training = false };
        var x = GradCheck.Det(B * S * F, 1.5, 2).Select(v => (float)v).ToArray();
        var ids = Enumerable.Range(0, B * S).Select(i => (i * 7 + 3) % V).ToArray();
        var expected = (tokens ? m.Forward(ids, default, B, S) : m.Forward(x, default, B, S)).ToArray();
        var p = new Predictor<float>(m);
        var state = p.NewState(B);
        var xt = new float[B * F]; var tt = new int[B];
        for (int t = 0; t < S; t++)
        {
            for (int b = 0; b < B; b++) { Array.Copy(x, (b * S + t) * F, xt, b * F, F); tt[b] = ids[b * S + t]; }
            var y = tokens ? p.Step(tt, state) : p.Step(xt, state);
            if (!perStep && t < S - 1) continue;
            for (int b = 0; b < B; b++)
                for (int o = 0; o < O; o++)
                {
                    float want = perStep ? expected[(b * S + t) * O + o] : expected[b * O + o];
                    if (want != y[b * O + o]) Assert.Fail($"{cell} tokens={tokens} layers={layers} perStep={perStep} t={t}: Forward {want:R}, Step {y[b * O + o]:R} on {Rnn.Kernels.Dispatch.KernelPath}");
                }
        }
    }
}
