using System.Diagnostics;
using System.Globalization;
using Rnn.Kernels;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench shapes [--threads N] [--match text] [--shape m,n,k,N|T,N|T[,packed]] [--lda N]`: the GEMM shapes inside the workloads, timed alone (min of reps, GFLOP/s),
/// to show where a workload's time goes. Each line: label, m n k, transposes, packed-B or not. `--pack-a`, `--direct-b N`,
/// `--pack-rows` and `--rows-cols N` time the shapes under another <see cref="GemmPolicy"/> (the same bits, another path).
/// </summary>
public static class Shapes
{
    private static readonly (string Label, int M, int N, int K, bool TA, bool TB, bool Packed)[] List =
    [
        ("imdb step h·Whhᵀ", 32, 512, 128, false, false, true),
        ("imdb step, unpacked (old)", 32, 512, 128, false, true, false),
        ("imdb input xs·Wihᵀ", 3200, 512, 128, false, true, false),
        ("imdb bwd step dG·Whh", 32, 128, 512, false, false, true),
        ("imdb dWhh = dGᵀ·h", 512, 128, 3200, true, false, false),
        ("imdb dx = dG·Wih", 3200, 128, 512, false, false, false),
        ("large step h·Whhᵀ", 64, 2048, 512, false, false, true),
        ("large input xs·Wihᵀ", 6400, 2048, 512, false, true, false),
        ("large bwd step dG·Whh", 64, 512, 2048, false, false, true),
        ("large dWhh = dGᵀ·h", 2048, 512, 6400, true, false, false),
        ("infer1 step h·Whhᵀ", 1, 1024, 256, false, false, true),
        ("gemv 256KB", 1, 1024, 64, false, false, true),
        ("gemv 512KB", 1, 1024, 128, false, false, true),
        ("gemv 2MB", 1, 1024, 512, false, false, true),
        ("infer1 input xs·Wihᵀ", 100, 1024, 128, false, true, false),
        ("gru step h·Whhᵀ", 32, 384, 128, false, false, true),
        ("gru bwd step dG·Whh", 32, 128, 384, false, false, true),
        ("adding step", 100, 100, 100, false, false, true),
        ("adding input xs·Wihᵀ", 5500, 100, 2, false, true, false),
        ("adding dWhh = dGᵀ·h", 100, 100, 5500, true, false, false),
        ("adding dWih = dGᵀ·x", 100, 2, 5500, true, false, false),
        ("sgemm", 1024, 1024, 1024, false, false, false),
    ];

    /// <summary>Min time per call of f over 15 timed batches, after a warm-up batch.</summary>
    public static double MinTime(Action f, double flopsHint = 2e7)
    {
        int inner = (int)Math.Max(1, Math.Min(10000, 2e7 / Math.Max(flopsHint, 1)));
        for (int i = 0; i < inner; i++) f();
        double best = double.MaxValue;
        for (int rep = 0; rep < 15; rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) f();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds / inner);
        }
        return best;
    }

    /// <summary>Runs the list; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        int threads = 1;
        bool layers = false, packedStep = false; // --packed: the imdb-packed train step's phases (PackedBreakdown)
        string? match = null;
        int lda = 0; // --lda N: A's rows N elements apart (e.g. the LSTM's padded dGates)
        string[]? extra = null; // m,n,k,TA,TB,packed e.g. 96,96,100,N,N,packed
        var policy = GemmPolicy.Default;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
                else if (args[i] == "--layers") layers = true;
                else if (args[i] == "--packed") packedStep = true;
                else if (args[i] == "--lda") lda = int.Parse(args[++i], CultureInfo.InvariantCulture);
                else if (args[i] == "--match") match = args[++i];
                else if (args[i] == "--shape") extra = args[++i].Split(',');
                else if (args[i] == "--pack-a") policy = policy with { DirectATransposed = false }; // compare: A stored (k, m) packed
                else if (args[i] == "--direct-b") policy = policy with { DirectBMaxRows512 = int.Parse(args[++i], CultureInfo.InvariantCulture) };
                else if (args[i] == "--pack-rows") policy = policy with { DirectRowsMaxCols = 0, DirectRowsMaxRows = 0 }; // compare: A stored (m, k) packed
                else if (args[i] == "--rows-cols") policy = policy with { DirectRowsMaxCols = int.Parse(args[++i], CultureInfo.InvariantCulture) }; // compare: A's rows in place up to N columns
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            Console.Error.WriteLine($"shapes: bad arguments ({string.Join(' ', args)}): {e.Message}");
            return 2;
        }
        if (layers && policy != GemmPolicy.Default)
        {
            // The layers call the public GEMM entry points, which always take the default policy.
            Console.Error.WriteLine("shapes: --pack-a, --direct-b, --pack-rows and --rows-cols time the GEMM shapes only; expected no --layers with them.");
            return 2;
        }
        Engine.Threads = threads;
        Console.WriteLine($"threads {threads}, {Dispatch.KernelPath}");
        if (packedStep) return PackedBreakdown.Run();
        if (layers) return Breakdown.Run();
        var rnd = new Random(1);
        var list = extra == null ? List :
        [
            ("--shape", int.Parse(extra[0], CultureInfo.InvariantCulture), int.Parse(extra[1], CultureInfo.InvariantCulture),
             int.Parse(extra[2], CultureInfo.InvariantCulture), extra[3] == "T", extra[4] == "T", extra.Length > 5 && extra[5] == "packed"),
        ];
        foreach (var (label, m, n, k, ta, tb, packed) in list)
        {
            if (match != null && !label.Contains(match, StringComparison.Ordinal)) continue;
            int ld = lda > 0 ? lda : ta ? m : k;
            var a = new float[(ta ? k : m) * ld]; var b = new float[k * n]; var c = new float[m * n];
            for (int i = 0; i < a.Length; i++) a[i] = (float)rnd.NextDouble() - 0.5f;
            for (int i = 0; i < b.Length; i++) b[i] = (float)rnd.NextDouble() - 0.5f;
            var pb = new float[Gemm.PackedBLength<float>(n, k)];
            Gemm.PackB<float>(pb, b, tb, n, k);
            Action f = packed ? () => Gemm.MultiplyPackedWith<float>(policy, c, a, pb, ta, 1f, 1f, m, n, k, ld)
                              : () => Gemm.MultiplyWith<float>(policy, c, a, b, ta, tb, 1f, 1f, m, n, k, ld);
            double flops = 2.0 * m * n * k;
            double best = MinTime(f, flops);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label,-28} {m,5} {n,5} {k,5} {(ta ? "T" : "N")}{(tb ? "T" : "N")} {(packed ? "packed" : "      ")} {best * 1e6,10:F2} us {flops / best / 1e9,7:F1} GFLOP/s"));
        }
        return 0;
    }
}
