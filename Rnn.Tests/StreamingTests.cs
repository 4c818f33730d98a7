using Rnn.Init;
using Rnn.Layers;

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
