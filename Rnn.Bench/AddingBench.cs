using BenchmarkDotNet.Attributes;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Bench;

/// <summary>WORKLOADS.md `adding`: tanh RNN, input 2, hidden 100, batch 100, seq 55; fwdbwd loss = sum of h_T.</summary>
[MemoryDiagnoser]
public class AddingBench
{
    private const int B = 100, S = 55, I = 2, H = 100;
    private SimpleRnn<float> _rnn = null!;
    private float[] _x = [], _y = [], _dy = [];

    /// <summary>Kernel threads.</summary>
    [Params(1, 2)] public int Threads { get; set; }

    /// <summary>Builds the layer and input once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Engine.Threads = Threads;
        var rng = new Rng(1);
        _rnn = new SimpleRnn<float>(I, H, rng, new SimpleRnnOptions { ReturnSequences = false, TwoBiases = true });
        double a = 1 / Math.Sqrt(H);
        foreach (var p in _rnn.Parameters) Initializers.Uniform<float>(p.Value, rng, -a, a);
        _x = new float[B * S * I]; Initializers.Uniform<float>(_x, rng, -1, 1);
        _y = new float[B * H]; _dy = Enumerable.Repeat(1f, B * H).ToArray();
    }

    /// <summary>Inference.</summary>
    [Benchmark] public void Fwd() => _rnn.Forward(_y, _x, default, default, B, S);

    /// <summary>Forward and backward (parameter gradients only).</summary>
    [Benchmark]
    public void FwdBwd()
    {
        _rnn.ZeroGrad();
        _rnn.Forward(_y, _x, default, default, B, S);
        _rnn.Backward(default, default, _dy, B, S);
    }
}
