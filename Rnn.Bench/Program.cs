using BenchmarkDotNet.Running;

namespace Rnn.Bench;

/// <summary>BenchmarkDotNet entry point: `dotnet run -c Release --project Rnn.Bench -- --filter '*'`.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
