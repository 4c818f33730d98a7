using Rnn;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Xunit.Abstractions;

namespace Rnn.Tests;

/// <summary>
/// Packed batches against PyTorch: tools/make_fixtures.py (packed_cases) runs 2-layer bidirectional LSTM, GRU and
/// tanh/relu RNN modules in float64 over pack_padded_sequence(enforce_sorted=False) with unsorted lengths (ties, 1 and
/// S) from given (h0, c0). Ours: one RecurrentStack of Bidirectional pairs, ForwardPacked with the lengths,
/// PaddedOutput.Zero (PyTorch's padding), one Backward with h_n/c_n's gradients in and h0/c0's out. Every output, final
/// state and gradient (inputs, initial states, every weight) must match within 1e-12 absolute (the values are O(1)).
/// </summary>
public class PackedInteropTests(ITestOutputHelper output)
{
    private const double Tol = 1e-12;

    private void Case(string fixture)
    {
        using var f = SafeTensors.Load(InteropTests.Fixture(fixture));
        var info = PyTorchImport.InspectRecurrent(f, "state.");
        var xs = f.Info("x").Shape; int B = (int)xs[0], S = (int)xs[1];
        int L = info.Layers, H = info.HiddenSize;
        Assert.True(info.Bidirectional);
        bool lstm = info.Cell == "LSTM";
        string? act = f.Metadata.TryGetValue("nonlinearity", out var a) ? a : null;
        RecurrentLayer<double> Dir(int input, bool back, string suffix)
        {
            return info.Cell switch
            {
                "LSTM" => new Lstm<double>(input, H, null, new LstmOptions { TwoBiases = true, UnitForgetBias = false, Backwards = back, PaddedOutput = PaddedOutput.Zero, InitialState = InitialState.Given }, suffix),
                "GRU" => new Gru<double>(input, H, null, new GruOptions { Backwards = back, PaddedOutput = PaddedOutput.Zero, InitialState = InitialState.Given }, suffix),
                _ => new SimpleRnn<double>(input, H, null, new SimpleRnnOptions
                {
                    TwoBiases = true, Activation = act == "relu" ? Activation.Relu : Activation.Tanh,
                    Backwards = back, PaddedOutput = PaddedOutput.Zero, InitialState = InitialState.Given,
                }, suffix),
            };
        }
        using var stack = new RecurrentStack<double>(Enumerable.Range(0, L)
            .Select(k => (IRecurrentLayer<double>)new Bidirectional<double>(Dir(k == 0 ? info.InputSize : 2 * H, false, $"_l{k}"), Dir(k == 0 ? info.InputSize : 2 * H, true, $"_l{k}_reverse")))
            .ToArray());
        PyTorchImport.LoadRecurrent(f, stack, "state.");
        var lengths = f.GetInt32("lengths");
        Assert.False(lengths.SequenceEqual(lengths.OrderByDescending(v => v)), "the fixture's lengths should be unsorted");
        var x = f.GetDouble("x"); var h0 = f.GetDouble("h0"); var c0 = lstm ? f.GetDouble("c0") : [];
        var y = new double[B * S * 2 * H];
        stack.Training = true;
        stack.ForwardPacked(y, x, lengths, h0, c0, B, S);
        Assert.Equal(BatchPadding.Lengths, stack.Padding);
        double worstF = 0, worstB = 0;
        void Check(string name, ReadOnlySpan<double> ours, ref double worst)
        {
            var want = f.GetDouble(name);
            Assert.True(want.Length == ours.Length, $"{fixture} {name}: {want.Length} vs {ours.Length} elements");
            Assert.Contains(want, v => v != 0);
            for (int i = 0; i < want.Length; i++)
            {
                double d = Math.Abs(ours[i] - want[i]);
                Assert.True(d <= Tol, $"{fixture} {name}[{i}]: ours {ours[i]:R}, torch {want[i]:R}, |diff| {d:E2} > {Tol:E0}");
                worst = Math.Max(worst, d);
            }
        }
        Check("out", y, ref worstF);
        Check("h_n", stack.FinalH, ref worstF);
        if (lstm) Check("c_n", stack.FinalC, ref worstF);
        var wOut = f.GetDouble("loss.w_out"); var wH = f.GetDouble("loss.w_h"); var wC = lstm ? f.GetDouble("loss.w_c") : [];
        stack.ZeroGrad();
        var dx = new double[x.Length]; var dh0 = new double[h0.Length]; var dc0 = new double[c0.Length];
        stack.Backward(dx, dh0, dc0, wOut, wH, wC, B, S);
        Check("grad.x", dx, ref worstB);
        Check("grad.h0", dh0, ref worstB);
        if (lstm) Check("grad.c0", dc0, ref worstB);
        int checkedGrads = 0;
        foreach (var p in stack.Parameters) { Check("grad." + p.Name, p.Grad, ref worstB); checkedGrads++; }
        Assert.Equal(f.Names.Count(n => n.StartsWith("grad.", StringComparison.Ordinal)), checkedGrads + (lstm ? 3 : 2));
        output.WriteLine($"{fixture}: max |ours − torch| forward {worstF:E2}, backward {worstB:E2}");
    }

    [Fact] public void PackedLstmBidirectional2() => Case("packed_lstm_bi2.safetensors");
    [Fact] public void PackedGruBidirectional2() => Case("packed_gru_bi2.safetensors");
    [Fact] public void PackedRnnTanhBidirectional2() => Case("packed_rnn_tanh_bi2.safetensors");
    [Fact] public void PackedRnnReluBidirectional2() => Case("packed_rnn_relu_bi2.safetensors");
}
