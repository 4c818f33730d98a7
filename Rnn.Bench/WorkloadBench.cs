using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Rnn.Bench;

/// <summary>
/// Base of the BenchmarkDotNet classes for WORKLOADS.md: each phase runs the same action as the `workloads`
/// mode (<see cref="Workloads"/>), on 1 and 2 kernel threads, with allocations per operation shown
/// (a steady-state training step must show 0 B). A short job keeps `--filter '*'` to minutes.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortConfig))]
public abstract class WorkloadBench
{
    /// <summary>Kernel threads (Engine.Threads).</summary>
    [Params(1, 2)] public int Threads { get; set; }

    /// <summary>Builds a phase's timed action after setting the thread count.</summary>
    protected Action Build(Workloads.WorkloadCase c)
    {
        Engine.Threads = Threads;
        return c.Setup();
    }

    /// <summary>Back to one thread, so the next class starts from the default.</summary>
    [GlobalCleanup]
#pragma warning disable CA1822 // BenchmarkDotNet calls GlobalCleanup on the instance
    public void Cleanup() => Engine.Threads = 1;
#pragma warning restore CA1822

    private sealed class ShortConfig : ManualConfig
    {
        public ShortConfig() => AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10));
    }
}

/// <summary>`adding`: tanh RNN, input 2, hidden 100, batch 100, seq 55; fwdbwd loss = sum of h_T.</summary>
public class AddingBench : WorkloadBench
{
    private Action _fwd = null!, _fwdBwd = null!;
    /// <summary>Builds the layers and inputs once.</summary>
    [GlobalSetup] public void Setup() { _fwd = Build(Workloads.Adding(false)); _fwdBwd = Build(Workloads.Adding(true)); }
    /// <summary>Inference.</summary>
    [Benchmark] public void Fwd() => _fwd();
    /// <summary>Forward and backward (parameter gradients only).</summary>
    [Benchmark] public void FwdBwd() => _fwdBwd();
}

/// <summary>
/// `imdb`: tokens (32, 100) → Embedding(20000, 128) → LSTM(128) → Dense(128, 1) → BCE. The embedding gradient
/// is row-sparse (touched rows only) and Adam is lazy on it; PyTorch's peer uses a dense gradient.
/// </summary>
public class ImdbBench : WorkloadBench
{
    private Action _fwd = null!, _train = null!;
    /// <summary>Builds the models, tokens and labels once.</summary>
    [GlobalSetup] public void Setup() { _fwd = Build(Workloads.Imdb(false)); _train = Build(Workloads.Imdb(true)); }
    /// <summary>Inference to the loss.</summary>
    [Benchmark] public void Fwd() => _fwd();
    /// <summary>Zero grads, forward, backward, Adam step.</summary>
    [Benchmark] public void TrainStep() => _train();
}

/// <summary>`lstm-large`: LSTM input 512, hidden 512, batch 64, seq 100; fwdbwd loss = sum of all outputs.</summary>
public class LstmLargeBench : WorkloadBench
{
    private Action _fwd = null!, _fwdBwd = null!;
    /// <summary>Builds the layers and inputs once.</summary>
    [GlobalSetup] public void Setup() { _fwd = Build(Workloads.LstmLarge(false)); _fwdBwd = Build(Workloads.LstmLarge(true)); }
    /// <summary>Inference.</summary>
    [Benchmark] public void Fwd() => _fwd();
    /// <summary>Forward and backward (parameter gradients only).</summary>
    [Benchmark] public void FwdBwd() => _fwdBwd();
}

/// <summary>`lstm-infer-1`: LSTM input 128, hidden 256, batch 1, seq 100 (streaming latency).</summary>
public class LstmInfer1Bench : WorkloadBench
{
    private Action _fwd = null!;
    /// <summary>Builds the layer and input once.</summary>
    [GlobalSetup] public void Setup() => _fwd = Build(Workloads.LstmInfer1());
    /// <summary>Inference.</summary>
    [Benchmark] public void Fwd() => _fwd();
}

/// <summary>`lstm-infer-1` as 100 streaming steps with bf16 and int8 weights (engines rnn-bf16 and rnn-int8).</summary>
public class LstmInfer1QuantBench : WorkloadBench
{
    private Action _bf16 = null!, _int8 = null!;
    /// <summary>Builds the layer, its streams and the input once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _bf16 = Build(Workloads.LstmInfer1Stream(Layers.WeightPrecision.BFloat16));
        _int8 = Build(Workloads.LstmInfer1Stream(Layers.WeightPrecision.Int8));
    }
    /// <summary>bf16 weights.</summary>
    [Benchmark] public void Bf16Weights() => _bf16();
    /// <summary>int8 weights.</summary>
    [Benchmark] public void Int8Weights() => _int8();
}

/// <summary>`gru`: GRU (reset-after) input 128, hidden 128, batch 32, seq 100; fwdbwd loss = sum of all outputs.</summary>
public class GruBench : WorkloadBench
{
    private Action _fwd = null!, _fwdBwd = null!;
    /// <summary>Builds the layers and inputs once.</summary>
    [GlobalSetup] public void Setup() { _fwd = Build(Workloads.GruCase(false)); _fwdBwd = Build(Workloads.GruCase(true)); }
    /// <summary>Inference.</summary>
    [Benchmark] public void Fwd() => _fwd();
    /// <summary>Forward and backward (parameter gradients only).</summary>
    [Benchmark] public void FwdBwd() => _fwdBwd();
}

/// <summary>`sgemm`: C = A·B, 1024 × 1024 × 1024; GFLOP/s = 2·1024³ / time.</summary>
public class SgemmBench : WorkloadBench
{
    private Action _fwd = null!;
    /// <summary>Makes the operands once.</summary>
    [GlobalSetup] public void Setup() => _fwd = Build(Workloads.Sgemm());
    /// <summary>One product.</summary>
    [Benchmark] public void Sgemm() => _fwd();
}
