using BenchmarkDotNet.Attributes;
using Rnn.Kernels;

namespace Rnn.Bench;

/// <summary>WORKLOADS.md `sgemm`: C = A·B, 1024 × 1024 × 1024, float; GFLOP/s = 2·1024³ / time.</summary>
[MemoryDiagnoser]
public class SgemmBench
{
    private const int N = 1024;
    private float[] _a = [], _b = [], _c = [];

    /// <summary>Kernel threads.</summary>
    [Params(1, 2)] public int Threads { get; set; }

    /// <summary>Makes the operands once, outside the timed region.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Engine.Threads = Threads;
        var rng = new Random(1);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        _c = new float[N * N];
        Console.WriteLine($"// sgemm kernel path: {Dispatch.KernelPath}, threads {Threads}");
    }

    /// <summary>One 1024³ product.</summary>
    [Benchmark]
    public void Sgemm() => Gemm.Multiply<float>(_c, _a, _b, false, false, 1f, 0f, N, N, N);

    /// <summary>Prints GFLOP/s from a short timing of its own (BenchmarkDotNet reports the time).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalSeconds < 0.5 || reps < 5) { Sgemm(); reps++; }
        double s = sw.Elapsed.TotalSeconds / reps;
        Console.WriteLine($"// sgemm {N}³ threads {Threads} {Dispatch.KernelPath}: {s * 1e3:F2} ms, {2.0 * N * N * N / s / 1e9:F1} GFLOP/s (mean of {reps})");
        Engine.Threads = 1;
    }
}
