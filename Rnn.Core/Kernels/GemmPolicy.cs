namespace Rnn.Kernels;

/// <summary>
/// Which of the float GEMM's interchangeable paths a call takes. Every path gives every element the same FMA chain
/// (p in order, alpha and beta applied alike), so a policy changes speed, never bits: the tests assert it by running
/// each shape under two policies. The public <see cref="Gemm"/> entry points use <see cref="Default"/>, the measured
/// choices; the tests and Rnn.Bench pass another to the internal overloads (<c>MultiplyWith(policy, ...)</c> and the like) to
/// compare paths. Immutable, so no call can change another's path: derive one with
/// <c>GemmPolicy.Default with { DirectATransposed = false }</c>.
/// </summary>
internal readonly record struct GemmPolicy
{
    /// <summary>The measured defaults (below); <c>default(GemmPolicy)</c> is not them but every in-place path off.</summary>
    public GemmPolicy() { }

    /// <summary>The policy of every public entry point.</summary>
    public static readonly GemmPolicy Default = new();

    /// <summary>
    /// A stored (k, m) (the weight gradients dGᵀ·X) is read in place by the micro-kernels instead of packed: 8-15%
    /// faster for m = 384 or 768 with 128 columns, but 2-9% slower when rows of A are a multiple of 2 KB apart
    /// (m = 512, 1024: the panel's lines fall into few cache sets), so those are packed whatever this says.
    /// </summary>
    public bool DirectATransposed { get; init; } = true;

    /// <summary>
    /// A stored (m, k) is read from its rows by Rows512 (AVX-512 path) when B has at most this many columns (and
    /// k >= 32): each A value then serves few column panels, and packing it cost more than the reuse saved
    /// (measured: 32 x 128 x 512 and 3200 x 128 x 512 7-12% faster; with 512+ columns packing wins). 0 turns it off.
    /// </summary>
    public int DirectRowsMaxCols { get; init => field = NonNegative(value, nameof(DirectRowsMaxCols)); } = 256;

    /// <summary>
    /// ... and whatever the columns when A has at most this many rows (an RNN step's batch): A then stays in cache
    /// for every column panel, and the rows split into near-equal tiles (see Gemm.Blocked). 0 turns it off.
    /// </summary>
    public int DirectRowsMaxRows { get; init => field = NonNegative(value, nameof(DirectRowsMaxRows)); } = 64;

    /// <summary>
    /// AVX-512: up to this many rows of C, B's panels are read in place instead of packed (with few rows, B is used by
    /// few A panels, so copying it costs more than strided reads save; measured, 1 thread: adding's dW_hh
    /// 100 x 100 x 5500 -6%, 64-128 rows with 128-2048 columns -4 to -12%). 0 turns it off.
    /// </summary>
    public int DirectBMaxRows512 { get; init => field = NonNegative(value, nameof(DirectBMaxRows512)); } = 128;

    /// <summary>
    /// A few columns with A stored (k, m) keep their sums in AVX-512 registers (Gemm.NarrowColumns512) rather than
    /// in an L1 block of the vector loop. false runs the vector loop, which tests compare against.
    /// </summary>
    public bool NarrowRegisters { get; init; } = true;

    /// <summary>Rows of C up to which B is read in place on this machine: AVX2 fixed at 24, none below AVX2.</summary>
    internal int DirectBMaxRows => Dispatch.Isa switch { 3 => DirectBMaxRows512, 2 => 24, _ => 0 };

    private static int NonNegative(int value, string name)
        => value >= 0 ? value : throw new ArgumentOutOfRangeException(name, $"GemmPolicy.{name}: expected 0 (off) or more, got {value}.");
}
