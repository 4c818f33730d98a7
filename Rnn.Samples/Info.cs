using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rnn.Samples.Common;

namespace Rnn.Samples;

/// <summary>The `info` command: what this process runs on (kernel path, threads, JIT or AOT, .NET, CPU, OS).</summary>
public static class Info
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("info", "Prints the kernel path, thread count, runtime (JIT or NativeAOT), .NET version, processors and OS.")
            .Option("threads", "N", "kernel threads", "1");
        if (!cli.Parse(args)) return 0;
        Engine.Threads = cli.Int("threads", 1, Environment.ProcessorCount * 4);

        Line("kernel path", KernelPath());
        Line("instruction sets", string.Join(" ", IsaFlags()));
        Line("threads", Engine.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Line("runtime", RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "NativeAOT");
        Line(".NET", $"{RuntimeInformation.FrameworkDescription} ({Environment.Version})");
        Line("processors", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Line("os", RuntimeInformation.OSDescription);
        Line("arch", $"{RuntimeInformation.OSArchitecture} (process {RuntimeInformation.ProcessArchitecture})");
        return 0;
    }

    private static void Line(string key, string value) => Console.WriteLine($"{key,-18} {value}");

    private static string KernelPath() => Rnn.Kernels.Dispatch.KernelPath;

    private static IEnumerable<string> IsaFlags()
    {
        yield return $"Vector512={Yes(Vector512.IsHardwareAccelerated)}";
        yield return $"Vector256={Yes(Vector256.IsHardwareAccelerated)}";
        yield return $"Vector128={Yes(Vector128.IsHardwareAccelerated)}";
        if (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86)
        {
            yield return $"AVX2={Yes(Avx2.IsSupported)}";
            yield return $"FMA={Yes(Fma.IsSupported)}";
            yield return $"AVX-512F={Yes(Avx512F.IsSupported)}";
        }
        else if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            yield return $"AdvSimd={Yes(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported)}";
    }

    private static string Yes(bool b) => b ? "yes" : "no";
}
