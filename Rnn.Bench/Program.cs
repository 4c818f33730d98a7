using BenchmarkDotNet.Running;

namespace Rnn.Bench;

/// <summary>
/// Entry point. `workloads [--threads N] [--only a,b] [--quick]` prints the standard workloads as JSON lines;
/// `profile [--workload imdb] [--threads N]` prints imdb's fwd and train_step phase by phase; `precision` prints lstm-infer-1's largest output difference of bf16 and int8 streams against Forward;
/// anything else goes to BenchmarkDotNet, e.g. `--filter '*'`.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "workloads") return Workloads.Run(args[1..]);
        if (args.Length > 0 && args[0] == "shapes") return Shapes.Run(args[1..]);
        if (args.Length > 0 && args[0] == "profile") return Profile.Run(args[1..]);
        if (args.Length > 0 && args[0] == "precision") return Workloads.PrecisionReport();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
