using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

/// <summary>Which instruction set the kernels use in this process, for an `info` command and the benchmarks.</summary>
public static class Dispatch
{
    /// <summary>3 = Vector512, 2 = Vector256 with FMA, 1 = Vector128, 0 = scalar. Read once; the JIT folds it.</summary>
    internal static readonly int Isa =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? 3
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? 2
        : Vector128.IsHardwareAccelerated ? 1
        : 0;

    /// <summary>The GEMM micro-kernel in use: "Vector512", "Vector256", "Vector128" or "scalar".</summary>
    public static string KernelPath => Isa switch { 3 => "Vector512", 2 => "Vector256", 1 => "Vector128", _ => "scalar" };

    /// <summary>True when running ahead-of-time compiled (no JIT: dynamic code unsupported).</summary>
    public static bool IsAot => !RuntimeFeature.IsDynamicCodeSupported;
}
