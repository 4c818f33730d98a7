using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Kernels;

// The float fast path: BLIS-style loops jc (NC columns) → pc (KC of the reduction) → pack B → ic (MC rows)
// → pack A → jb (B's columns in L2-sized runs) → ir (MR) → jr (NR) → micro-kernel: each A panel stays in L1
// while B's panels pass (measured faster here than BLIS's jr → ir), and each run of B stays in L2 while every
// A panel of the block passes over it. Each C element is summed in the same order (k blocks in
// order, p in order inside a block, one lane each) whatever tile or thread computes it, so splitting the
// OUTPUT between threads gives bit-identical results. k is never split.
public static unsafe partial class Gemm
{
    // Cache blocking: MC·KC floats of A (288 KB) stay in L2, KC·NC of B in L3 (read in L2BlockBytes runs), the C
    // tile is prefetched.
    // Measured on 1024³ (Zen 5): kc 512 beat 256 and 384 by 5-10% (fewer passes over C).
    private const int KC = 512;
    private const int NC = 4096;

    // Bytes of packed B (kc rows of a run of columns) that every A panel of an ic block reads while it stays in L2.
    private const int L2BlockBytes = 512 * 1024;

    // Below this many flops (2·m·n·k) one thread is faster than waking a second (measured, see SgemmBench).
    internal const double ParallelMinFlops = 1 << 20;

    // Elements of a prepacked B from which a one-row product is split between threads (256 KB).
    internal const long ParallelMinPackedGemv = 1 << 16;

    // Which operands are read in place rather than packed is the caller's GemmPolicy (Default unless a test or
    // benchmark compares paths), carried in the Job.

    /// <summary>Everything one GEMM call needs; lives on the caller's stack while the pool runs chunks.</summary>
    private struct Job
    {
        public float* A, B, C;
        public int M, N, K;
        public int Lda;              // A's row stride as stored: K, or M with TA, unless the caller gave another
        public int Ldc;              // C's row stride: N unless the caller gave another (one output only)
        public bool TA, TB, DirectA, DirectRows, DirectB, SplitN;
        public float Alpha, Beta;
        public int Chunks, Unit;
        public bool Gemv;
        public bool NarrowN;         // few columns, A stored (k, m): see NarrowColumns
        public float* PB;            // op(B) prepacked by PackB (null: pack per call)
        public int WideB;            // PB laid out for one row: columns per contiguous run (0: micro-kernel panels)
        public float* B2, C2;        // two outputs sharing A: columns [N1, N) of op(B) and C are B2 (k, N - N1) and C2
        public int N1;               // 0: one output
        public GemmPolicy Policy;    // which of the equivalent paths run (Run, NarrowColumns)
    }

    /// <summary>op(B) column block j: its first element at row pc (B stored (k, n) only) and its row stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* BAt(ref Job g, int pc, int j, out nint ldb)
    {
        if (g.N1 > 0 && j >= g.N1) { ldb = g.N - g.N1; return g.B2 + (nint)pc * ldb + (j - g.N1); }
        ldb = g.N1 > 0 ? g.N1 : g.N;
        return g.B + (nint)pc * ldb + j;
    }

    /// <summary>C element (i, j) of the job and the row stride of the block that holds it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* CAt(ref Job g, int i, int j, out nint ldc)
    {
        if (g.N1 > 0 && j >= g.N1) { ldc = g.N - g.N1; return g.C2 + (nint)i * ldc + (j - g.N1); }
        ldc = g.N1 > 0 ? g.N1 : g.Ldc;
        return g.C + (nint)i * ldc + j;
    }

    /// <summary>
    /// The float path of <see cref="MultiplyShared{T}"/>: one job over n1 + n2 columns, A packed (or read) once.
    /// n1 is a multiple of the micro-tile width, so no tile straddles the two outputs.
    /// </summary>
    private static void MultiplySharedFloat(float* c1, float* b1, int n1, float* c2, float* b2, int n2, float* a, bool ta,
        float alpha, float beta, int m, int k, int lda, GemmPolicy policy)
    {
        var g = new Job
        {
            A = a, B = b1, C = c1, B2 = b2, C2 = c2, N1 = n1, M = m, N = n1 + n2, K = k, TA = ta, Alpha = alpha, Beta = beta,
            Lda = lda > 0 ? lda : ta ? m : k, Ldc = n1 + n2, Policy = policy,
        };
        Run(ref g);
    }

    private static void MultiplyFloat(float* c, float* a, float* b, bool ta, bool tb, float alpha, float beta, int m, int n, int k,
        int lda, GemmPolicy policy, float* packedB = null, int wideB = 0, int ldc = 0)
    {
        ldc = ldc > 0 ? ldc : n;
        if (k == 0 || alpha == 0f)
        {
            // Nothing to add: C = beta·C (beta = 0 clears, ignoring whatever C held).
            for (int i = 0; i < m; i++)
            {
                var cs = new Span<float>(c + (nint)i * ldc, n);
                if (beta == 0f) cs.Clear();
                else if (beta != 1f) Vec.Scale(cs, beta);
            }
            return;
        }
        if (ldc != n && n == 1 && m > 1 && packedB == null)
        {
            // A one-column C runs the matrix-vector loop, which writes C densely: through a dense copy.
            float[] col = ArrayPool<float>.Shared.Rent(m);
            try
            {
                var cs = new Span<float>(c, (m - 1) * ldc + 1);
                CopyRows<float>(col, 1, cs, ldc, m, 1);
                fixed (float* d = col) MultiplyFloat(d, a, b, ta, tb, alpha, beta, m, 1, k, lda, policy);
                CopyRows<float>(cs, ldc, col, 1, m, 1);
            }
            finally { ArrayPool<float>.Shared.Return(col); }
            return;
        }
        var g = new Job
        {
            A = a, B = b, C = c, M = m, N = n, K = k, TA = ta, TB = tb, Alpha = alpha, Beta = beta, PB = packedB, WideB = wideB,
            Lda = lda > 0 ? lda : ta ? m : k, Ldc = ldc, Policy = policy,
        };
        if (g.Lda == (ta ? m : k) || (m > 1 && n > 1)) { Run(ref g); return; }
        // One row or column runs a vector loop that reads A densely: give it a dense copy (O(m·k), as the loop).
        int rows = ta ? k : m, cols = ta ? m : k;
        float[] dense = ArrayPool<float>.Shared.Rent(rows * cols);
        try
        {
            fixed (float* d = dense)
            {
                CopyRows<float>(new Span<float>(d, rows * cols), cols, new ReadOnlySpan<float>(a, (rows - 1) * g.Lda + cols), g.Lda, rows, cols);
                g.A = d; g.Lda = cols;
                Run(ref g);
            }
        }
        finally { ArrayPool<float>.Shared.Return(dense); }
    }

    /// <summary>Chooses the job's paths and its split between threads from its operands, then runs it.</summary>
    private static void Run(ref Job g)
    {
        int m = g.M, n = g.N, k = g.K;
        bool one = g.N1 == 0, unpacked = g.PB == null;
        g.Gemv = one && unpacked && (m == 1 || n == 1);
        g.NarrowN = one && unpacked && g.TA && !g.TB && n >= 2 && n <= NarrowMaxCols && m >= 2;
        g.DirectB = one && unpacked && !g.TB && m <= g.Policy.DirectBMaxRows;
        g.DirectA = g.TA && g.Policy.DirectATransposed && g.Lda % 512 != 0; // rows 2 KB apart share few cache sets: pack those
        g.DirectRows = !g.TA && (g.Policy.DirectRowsMaxCols >= n || m <= g.Policy.DirectRowsMaxRows) && Dispatch.Isa == 3 && m > 1 && n > 1 && k >= 32;
        int threads = WorkerPool.InRows ? 1 : WorkerPool.Size; // inside a row-parallel loop, each thread runs its own rows
        // Split the longer output side, in whole micro-tiles (or whole vectors for GEMV). Each thread packs the B
        // columns of its part, so a split of the rows packs all of B once per thread; with A read in place (the
        // weight gradients dGᵀ·[h | x]) nothing is packed twice when the columns are split instead, if each thread
        // still gets at least two micro-tiles of them.
        g.SplitN = n >= m || (g.DirectA && !g.Gemv && !g.NarrowN && n >= 2 * threads * MicroCols);
        g.Unit = g.Gemv ? 32 : g.SplitN ? MicroCols : MicroRows;
        int units = ((g.SplitN ? n : m) + g.Unit - 1) / g.Unit;
        // A matrix-vector product over a prepacked B is bound by streaming B, not by flops: split it once B is
        // large enough that each core reading half from its own L2 beats the cost of a dispatch.
        bool big = !unpacked && m == 1 ? (long)n * k >= ParallelMinPackedGemv : 2.0 * m * n * k >= ParallelMinFlops;
        g.Chunks = big ? Math.Min(threads, units) : 1;
        // A large square-ish product whose A must be packed: split the rows, so each thread packs only its own
        // rows of A, and pack B once, all threads sharing the copy (a column split packs all of A per thread; a row
        // split packing per thread, all of B). At least 16 micro-tiles of rows per thread keep the split even.
        float[]? shared = one && unpacked && !g.Gemv && !g.NarrowN && !g.DirectB && !g.DirectA && g.Chunks > 1
            && m >= 16 * threads * MicroRows && 2L * m >= n ? ArrayPool<float>.Shared.Rent(PackedBLength<float>(n, k) + 16) : null;
        try
        {
            fixed (float* ps = shared)
            {
                if (shared != null)
                {
                    g.PB = Align64(ps);
                    PackBFloat(g.PB, g.B, g.TB, n, k, false);
                    g.SplitN = false; g.Unit = MicroRows;
                    g.Chunks = Math.Min(threads, (m + g.Unit - 1) / g.Unit);
                }
                fixed (Job* pg = &g)
                {
                    if (g.Chunks <= 1) RunChunk(pg, 0);
                    else WorkerPool.Run(&RunChunk, pg, g.Chunks);
                }
            }
        }
        finally { if (shared != null) ArrayPool<float>.Shared.Return(shared); }
    }

    /// <summary>
    /// op(B) into panels, k block after k block: block pc holds RoundUp(n, NR)/NR panels of (kc, NR). wide (for
    /// one-row products): runs of <see cref="OneRowWidth"/> columns instead, (kc, width) each, the last one as wide
    /// as the columns left (rounded up to NR), so a matrix-vector product reads B as one sequential stream.
    /// </summary>
    private static void PackBFloat(float* dst, float* b, bool tb, int n, int k, bool wide)
    {
        var g = new Job { PB = dst, B = b, N = n, K = k, TB = tb, WideB = wide ? OneRowWidth : 0 };
        // A large B (a recurrent layer's W_hh, packed once per pass) is copied by every participant, each its own
        // run of columns: a pure copy, so the layout is the same whoever wrote which part.
        int unit = wide ? OneRowWidth : MicroCols;
        g.Unit = unit;
        g.Chunks = (long)n * k >= ParallelMinPackedGemv && !WorkerPool.InRows ? Math.Min(WorkerPool.Size, (n + unit - 1) / unit) : 1;
        if (g.Chunks <= 1) PackBChunk(&g, 0);
        else WorkerPool.Run(&PackBChunk, &g, g.Chunks);
    }

    /// <summary>Columns [j0, j1) of <see cref="PackBFloat"/>'s job (whole panels or one-row runs) into PB.</summary>
    private static void PackBChunk(void* state, int chunk)
    {
        ref Job g = ref Unsafe.AsRef<Job>(state);
        int n = g.N, k = g.K, nr = MicroCols;
        int units = (n + g.Unit - 1) / g.Unit;
        int j0 = (int)((long)units * chunk / g.Chunks) * g.Unit, j1 = Math.Min(n, (int)((long)units * (chunk + 1) / g.Chunks) * g.Unit);
        int kBlocks = (k + KC - 1) / KC;
        int kcMax = (k + kBlocks - 1) / kBlocks; // the same balanced blocks as Blocked
        nint npad = RoundUp(n, nr);
        for (int pc = 0; pc < k; pc += kcMax)
        {
            int kc = Math.Min(kcMax, k - pc);
            if (g.WideB == 0) { if (j1 > j0) PackB(g.PB + pc * npad + (nint)j0 * kc, ref g, pc, kc, j0, j1 - j0, nr); continue; }
            for (int js = j0; js < j1; js += OneRowWidth)
            {
                int cols = Math.Min(OneRowWidth, n - js);
                PackB(g.PB + pc * npad + (nint)js * kc, ref g, pc, kc, js, cols, RoundUp(cols, nr));
            }
        }
    }

    /// <summary>Columns per contiguous run of a B packed for one row: the matrix-vector loop's group of panels.</summary>
    internal static int OneRowWidth => Dispatch.Isa switch { 3 => 8 * Kernel512.NR, 2 => 4 * Kernel256.NR, _ => 0 };

    /// <summary>Rows of the micro-tile on this machine.</summary>
    internal static int MicroRows => Dispatch.Isa switch { 3 => Kernel512.MR, 2 => Kernel256.MR, 1 => Kernel128.MR, _ => KernelScalar.MR };

    /// <summary>Columns of the micro-tile on this machine.</summary>
    internal static int MicroCols => Dispatch.Isa switch { 3 => Kernel512.NR, 2 => Kernel256.NR, 1 => Kernel128.NR, _ => KernelScalar.NR };

    private static void RunChunk(void* state, int chunk)
    {
        ref Job g = ref Unsafe.AsRef<Job>(state);
        int total = g.SplitN ? g.N : g.M;
        int units = (total + g.Unit - 1) / g.Unit;
        int u0 = (int)((long)units * chunk / g.Chunks), u1 = (int)((long)units * (chunk + 1) / g.Chunks);
        int lo = u0 * g.Unit, hi = Math.Min(total, u1 * g.Unit);
        if (lo >= hi) return;
        int i0 = 0, i1 = g.M, j0 = 0, j1 = g.N;
        if (g.SplitN) { j0 = lo; j1 = hi; } else { i0 = lo; i1 = hi; }
        if (g.Gemv) { Gemv(ref g, i0, i1, j0, j1); return; }
        if (g.NarrowN) { NarrowColumns(ref g, i0, i1, j0, j1); return; }
        if (g.PB != null && g.M == 1) { GemvPacked(ref g, j0, j1); return; }
        switch (Dispatch.Isa)
        {
            case 3: Blocked<Kernel512>(ref g, i0, i1, j0, j1, 144); break;
            case 2: Blocked<Kernel256>(ref g, i0, i1, j0, j1, 144); break;
            case 1: Blocked<Kernel128>(ref g, i0, i1, j0, j1, 96); break;
            default: Blocked<KernelScalar>(ref g, i0, i1, j0, j1, 64); break;
        }
    }

    /// <summary>C[i0..i1, j0..j1] of the job, through the packed micro-kernel TK.</summary>
    private static void Blocked<TK>(ref Job g, int i0, int i1, int j0, int j1, int mcBlock) where TK : struct, IMicroKernel
    {
        int mr = TK.MR, nr = TK.NR;
        int n = g.N, k = g.K;
        int kBlocks = (k + KC - 1) / KC;
        int kcMax = (k + kBlocks - 1) / kBlocks;      // balanced k blocks: a function of k alone
        int mcMax = Math.Min(mcBlock, RoundUp(i1 - i0, mr));
        int ncMax = Math.Min(NC, RoundUp(j1 - j0, nr));
        int lenA = kcMax * mcMax, lenB = g.PB != null ? 0 : kcMax * (g.DirectB ? nr : ncMax);
        nint npad = RoundUp(n, nr);   // prepacked B: each k block holds npad/nr panels of (kc, nr)
        float[] ra = ArrayPool<float>.Shared.Rent(lenA + lenB + 16);
        float* tile = stackalloc float[mr * nr];
        try
        {
            fixed (float* buf = ra)
            {
                float* bufA = Align64(buf), bufB = bufA + lenA;
                for (int jc = j0; jc < j1; jc += ncMax)
                {
                    int nc = Math.Min(ncMax, j1 - jc);
                    int ncFull = g.DirectB ? nc - nc % nr : nc; // direct: full panels are read in place
                    // ... and so is a last panel of at most 8 columns, which NarrowEdge512 reads a row at a time.
                    bool narrowDirect = g.DirectB && typeof(TK) == typeof(Kernel512) && !g.DirectRows && nc - ncFull <= 8;
                    for (int pc = 0; pc < k; pc += kcMax)
                    {
                        int kc = Math.Min(kcMax, k - pc);
                        float beta = pc == 0 ? g.Beta : 1f;
                        int nbL2 = Math.Max(nr, L2BlockBytes / (4 * kc) / nr * nr);
                        if (g.PB != null) { }
                        else if (!g.DirectB) PackB(bufB, ref g, pc, kc, jc, nc, nr);
                        else if (ncFull < nc && !narrowDirect) PackB(bufB, ref g, pc, kc, jc + ncFull, nc - ncFull, nr);
                        for (int ic = i0; ic < i1; ic += mcMax)
                        {
                            int mc = Math.Min(mcMax, i1 - ic);
                            if (!g.DirectA && !g.DirectRows) PackA(bufA, ref g, ic, mc, pc, kc, mr);
                            int tiles = (mc + mr - 1) / mr;
                            // B's columns in blocks that stay in L2 while every A panel of the block passes over them.
                            for (int jb = 0; jb < nc; jb += nbL2)
                                for (int ir = 0, rows, t = 0; ir < mc; ir += rows, t++)
                                {
                                    // Packed panels hold MR rows each. Rows read in place need no panel, so they are split into
                                    // near-equal tiles (16 rows: 8 + 8, not 12 + 4, whose 4-row tile costs about 6 rows).
                                    rows = g.DirectRows ? (mc - ir + tiles - t - 1) / (tiles - t) : Math.Min(mr, mc - ir);
                                    // A stored (k, m) is read in place (row p of the panel is contiguous at stride m),
                                    // except a last panel of fewer than MR rows, which is packed (kernels may read MR floats).
                                    float* pa = bufA + (nint)ir * kc; nint sa = mr;
                                    if (g.DirectA)
                                    {
                                        if (rows == mr) { pa = g.A + (nint)pc * g.Lda + ic + ir; sa = g.Lda; }
                                        else { PackA(bufA, ref g, ic + ir, rows, pc, kc, mr); pa = bufA; }
                                    }
                                    // A stored (m, k) read from its rows (Rows512; NarrowRows512 for a last panel of at most 8 columns).
                                    float* rowsA = g.DirectRows ? g.A + (nint)(ic + ir) * g.Lda + pc : null;
                                    for (int jr = jb, jrEnd = Math.Min(nc, jb + nbL2); jr < jrEnd; jr += nr)
                                    {
                                        int cols = Math.Min(nr, nc - jr);
                                        float* pb; nint sb;
                                        if (g.PB != null) { pb = g.PB + pc * npad + (nint)(jc + jr) * kc; sb = nr; }
                                        else if (!g.DirectB) { pb = bufB + (nint)jr * kc; sb = nr; }
                                        else if (jr < ncFull || narrowDirect) { pb = g.B + (nint)pc * n + jc + jr; sb = n; }
                                        else { pb = bufB; sb = nr; }
                                        float* cp = CAt(ref g, ic + ir, jc + jr, out nint ldc);
                                        if (rowsA != null)
                                        {
                                            bool wide = cols > 16;
                                            if (cols <= 8) NarrowRows512(cols, rows, kc, rowsA, g.Lda, pb, sb, cp, ldc, g.Alpha, beta);
                                            else if (cols == (wide ? 32 : 16)) Rows512(rows, wide, kc, rowsA, g.Lda, pb, sb, cp, ldc, g.Alpha, beta);
                                            else
                                            {
                                                if (beta != 0f) CopyTile(tile, nr, cp, ldc, rows, cols);
                                                Rows512(rows, wide, kc, rowsA, g.Lda, pb, sb, tile, nr, g.Alpha, beta);
                                                CopyTile(cp, ldc, tile, nr, rows, cols);
                                            }
                                        }
                                        else if (rows == mr && cols == nr) TK.Run(kc, pa, sa, pb, sb, cp, ldc, g.Alpha, beta);
                                        else if (typeof(TK) == typeof(Kernel512))
                                        {
                                            // Only the rows and 16-column vectors that hold output; whole vectors go straight to C.
                                            bool wide = cols > 16;
                                            if (cols <= 8) NarrowEdge512(cols, rows, kc, pa, sa, pb, sb, cp, ldc, g.Alpha, beta);
                                            else if (cols == (wide ? 32 : 16)) Edge512(rows, wide, kc, pa, sa, pb, sb, cp, ldc, g.Alpha, beta);
                                            else
                                            {
                                                if (beta != 0f) CopyTile(tile, nr, cp, ldc, rows, cols);
                                                Edge512(rows, wide, kc, pa, sa, pb, sb, tile, nr, g.Alpha, beta);
                                                CopyTile(cp, ldc, tile, nr, rows, cols);
                                            }
                                        }
                                        else
                                        {
                                            // Edge tile: run the same kernel on a scratch tile, copy the valid part.
                                            if (beta != 0f) CopyTile(tile, nr, cp, ldc, rows, cols);
                                            TK.Run(kc, pa, sa, pb, sb, tile, nr, g.Alpha, beta);
                                            CopyTile(cp, ldc, tile, nr, rows, cols);
                                        }
                                    }
                                }
                        }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(ra); }
    }

    // Up to this many columns, a product with A stored (k, m) streams A once instead of running 32-wide tiles.
    private const int NarrowMaxCols = 4;
    private const int NarrowRows = 256;

    /// <summary>
    /// C[i0..i1, j0..j1] for a few columns with A stored (k, m), e.g. adding's dW_ih = dGᵀ·x with 2 inputs (a
    /// 32-wide tile computes 16x the useful work and packs B 16x wider): each row p of A is contiguous over C's
    /// rows, so C's columns are accumulated as vectors over i, p in order (one FMA chain per element, the
    /// scalar tail the same FMA): on AVX-512 in registers, 64 rows at a time (<see cref="NarrowColumns512"/>; the
    /// policy's NarrowRegisters), otherwise in blocks of NarrowRows rows whose sums stay in L1.
    /// </summary>
    private static void NarrowColumns(ref Job g, int i0, int i1, int j0, int j1)
    {
        if (Vector512.IsHardwareAccelerated && g.Policy.NarrowRegisters)
        {
            for (int ib = i0; ib < i1; ib += 64)
            {
                int rows = Math.Min(64, i1 - ib);
                switch ((rows + 15) / 16 * 8 + (j1 - j0))
                {
                    case 1 * 8 + 2: NarrowColumns512<K1, K2>(ref g, ib, rows, j0); break;
                    case 1 * 8 + 3: NarrowColumns512<K1, K3>(ref g, ib, rows, j0); break;
                    case 1 * 8 + 4: NarrowColumns512<K1, K4>(ref g, ib, rows, j0); break;
                    case 2 * 8 + 2: NarrowColumns512<K2, K2>(ref g, ib, rows, j0); break;
                    case 2 * 8 + 3: NarrowColumns512<K2, K3>(ref g, ib, rows, j0); break;
                    case 2 * 8 + 4: NarrowColumns512<K2, K4>(ref g, ib, rows, j0); break;
                    case 3 * 8 + 2: NarrowColumns512<K3, K2>(ref g, ib, rows, j0); break;
                    case 3 * 8 + 3: NarrowColumns512<K3, K3>(ref g, ib, rows, j0); break;
                    case 3 * 8 + 4: NarrowColumns512<K3, K4>(ref g, ib, rows, j0); break;
                    case 4 * 8 + 2: NarrowColumns512<K4, K2>(ref g, ib, rows, j0); break;
                    case 4 * 8 + 3: NarrowColumns512<K4, K3>(ref g, ib, rows, j0); break;
                    case 4 * 8 + 4: NarrowColumns512<K4, K4>(ref g, ib, rows, j0); break;
                    default: throw new InvalidOperationException($"NarrowColumns: expected 2 to {NarrowMaxCols} columns, got {j1 - j0}.");
                }
            }
            return;
        }
        int m = g.M, n = g.N, k = g.K;
        float* acc = stackalloc float[NarrowRows * NarrowMaxCols];
        for (int ib = i0; ib < i1; ib += NarrowRows)
        {
            int rows = Math.Min(NarrowRows, i1 - ib);
            int cols = j1 - j0;
            new Span<float>(acc, rows * cols).Clear();
            float* ap = g.A + ib, bp = g.B + j0;
            for (int p = 0; p < k; p++, ap += g.Lda, bp += n)
                for (int j = 0; j < cols; j++)
                {
                    float bv = bp[j];
                    var vb = Vector256.Create(bv);
                    float* aj = acc + j * rows;
                    int i = 0;
                    for (; i + 8 <= rows; i += 8)
                        Vector256.FusedMultiplyAdd(Vector256.Load(ap + i), vb, Vector256.Load(aj + i)).Store(aj + i);
                    for (; i < rows; i++) aj[i] = MathF.FusedMultiplyAdd(ap[i], bv, aj[i]);
                }
            StoreNarrow(ref g, acc, rows, ib, rows, j0, cols);
        }
    }

    /// <summary>
    /// <see cref="NarrowColumns"/> with AVX-512: rows [ib, ib + rows) (at most 64) as TV vectors of 16, TC columns,
    /// every sum in a register for the whole of k (the same FMA chain per element, p in order). A's rows are read
    /// 16·TV wide; the lanes past the block's rows are never stored, and a p whose read would pass the end of A
    /// reads a zero-padded copy of its rows instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowColumns512<TV, TC>(ref Job g, int ib, int rows, int j0) where TV : struct, IConst where TC : struct, IConst
    {
        int k = g.K, n = g.N;
        nint lda = g.Lda;
        long lim = (long)(k - 1) * lda + g.M - ib - 16 * TV.Value; // row p is read in place while p·lda <= lim
        int pSafe = lim < 0 ? 0 : (int)Math.Min(k, lim / lda + 1);
        float* tmp = stackalloc float[64];
        float* t = stackalloc float[4 * 64]; // the sums, (TC, 64); allocated before the sums are live (no call between)
        Vector512<float> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
        Vector512<float> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        Vector512<float> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
        float* ap = g.A + ib, bp = g.B + j0;
        for (int p = 0; p < k; p++, ap += lda, bp += n)
        {
            float* s = ap;
            if (p >= pSafe)
            {
                // No call inside the loop (the sums would leave their registers): copy by hand.
                for (int i = 0; i < 64; i++) tmp[i] = i < rows ? ap[i] : 0f;
                s = tmp;
            }
            var x0 = Vector512.Load(s + 0);
            var x1 = TV.Value > 1 ? Vector512.Load(s + 16) : default;
            var x2 = TV.Value > 2 ? Vector512.Load(s + 32) : default;
            var x3 = TV.Value > 3 ? Vector512.Load(s + 48) : default;
            var b0 = Vector512.Create(bp[0]);
            var b1 = Vector512.Create(bp[1]);
            var b2 = TC.Value > 2 ? Vector512.Create(bp[2]) : default;
            var b3 = TC.Value > 3 ? Vector512.Create(bp[3]) : default;
            c0_0 = Vector512.FusedMultiplyAdd(x0, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(x0, b1, c0_1); if (TC.Value > 2) c0_2 = Vector512.FusedMultiplyAdd(x0, b2, c0_2); if (TC.Value > 3) c0_3 = Vector512.FusedMultiplyAdd(x0, b3, c0_3);
            if (TV.Value > 1) c1_0 = Vector512.FusedMultiplyAdd(x1, b0, c1_0); if (TV.Value > 1) c1_1 = Vector512.FusedMultiplyAdd(x1, b1, c1_1); if (TV.Value > 1 && TC.Value > 2) c1_2 = Vector512.FusedMultiplyAdd(x1, b2, c1_2); if (TV.Value > 1 && TC.Value > 3) c1_3 = Vector512.FusedMultiplyAdd(x1, b3, c1_3);
            if (TV.Value > 2) c2_0 = Vector512.FusedMultiplyAdd(x2, b0, c2_0); if (TV.Value > 2) c2_1 = Vector512.FusedMultiplyAdd(x2, b1, c2_1); if (TV.Value > 2 && TC.Value > 2) c2_2 = Vector512.FusedMultiplyAdd(x2, b2, c2_2); if (TV.Value > 2 && TC.Value > 3) c2_3 = Vector512.FusedMultiplyAdd(x2, b3, c2_3);
            if (TV.Value > 3) c3_0 = Vector512.FusedMultiplyAdd(x3, b0, c3_0); if (TV.Value > 3) c3_1 = Vector512.FusedMultiplyAdd(x3, b1, c3_1); if (TV.Value > 3 && TC.Value > 2) c3_2 = Vector512.FusedMultiplyAdd(x3, b2, c3_2); if (TV.Value > 3 && TC.Value > 3) c3_3 = Vector512.FusedMultiplyAdd(x3, b3, c3_3);
        }
        c0_0.Store(t + 0 * 64 + 0); c0_1.Store(t + 1 * 64 + 0); if (TC.Value > 2) c0_2.Store(t + 2 * 64 + 0); if (TC.Value > 3) c0_3.Store(t + 3 * 64 + 0);
        if (TV.Value > 1) c1_0.Store(t + 0 * 64 + 16); if (TV.Value > 1) c1_1.Store(t + 1 * 64 + 16); if (TV.Value > 1 && TC.Value > 2) c1_2.Store(t + 2 * 64 + 16); if (TV.Value > 1 && TC.Value > 3) c1_3.Store(t + 3 * 64 + 16);
        if (TV.Value > 2) c2_0.Store(t + 0 * 64 + 32); if (TV.Value > 2) c2_1.Store(t + 1 * 64 + 32); if (TV.Value > 2 && TC.Value > 2) c2_2.Store(t + 2 * 64 + 32); if (TV.Value > 2 && TC.Value > 3) c2_3.Store(t + 3 * 64 + 32);
        if (TV.Value > 3) c3_0.Store(t + 0 * 64 + 48); if (TV.Value > 3) c3_1.Store(t + 1 * 64 + 48); if (TV.Value > 3 && TC.Value > 2) c3_2.Store(t + 2 * 64 + 48); if (TV.Value > 3 && TC.Value > 3) c3_3.Store(t + 3 * 64 + 48);
        StoreNarrow(ref g, t, 64, ib, rows, j0, TC.Value);
    }

    /// <summary>C[ib + i, j0 + j] from the narrow paths' sums[j·stride + i].</summary>
    private static void StoreNarrow(ref Job g, float* sums, int stride, int ib, int rows, int j0, int cols)
        => StoreSums(g.C + (nint)ib * g.Ldc + j0, g.Ldc, sums, 1, stride, rows, cols, g.Alpha, g.Beta);

    /// <summary>
    /// C[i, j] = alpha·sums[i·rowStep + j·colStep] + beta·C[i, j] for a rows × cols tile (beta = 0: C is not read):
    /// how every kernel that gathers its sums in a scratch buffer (the narrow and edge paths) writes them to C.
    /// </summary>
    private static void StoreSums(float* c, nint ldc, float* sums, int rowStep, int colStep, int rows, int cols, float alpha, float beta)
    {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                float* cij = c + i * ldc + j;
                float sum = sums[i * rowStep + j * colStep];
                *cij = beta == 0f ? sum * alpha : MathF.FusedMultiplyAdd(sum, alpha, *cij * beta);
            }
    }

    /// <summary>Copies a few floats (a panel row) without a call into memmove.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* d, float* s, int count)
    {
        int j = 0;
        for (; j + 8 <= count; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
        if (j + 4 <= count) { Vector128.Store(Vector128.Load(s + j), d + j); j += 4; }
        for (; j < count; j++) d[j] = s[j];
    }

    /// <summary>dst[p·ldd + r] = src[r·lds + p] for 4 rows r and p in [0, kc): 4x4 SSE transposes, scalar tail.</summary>
    private static void Transpose4(float* dst, nint ldd, float* src, nint lds, int kc)
    {
        float* s0 = src, s1 = src + lds, s2 = src + 2 * lds, s3 = src + 3 * lds;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var r0 = Sse.LoadVector128(s0 + p); var r1 = Sse.LoadVector128(s1 + p);
            var r2 = Sse.LoadVector128(s2 + p); var r3 = Sse.LoadVector128(s3 + p);
            var t0 = Sse.UnpackLow(r0, r1); var t1 = Sse.UnpackLow(r2, r3);   // a0 b0 a1 b1 | c0 d0 c1 d1
            var t2 = Sse.UnpackHigh(r0, r1); var t3 = Sse.UnpackHigh(r2, r3); // a2 b2 a3 b3 | c2 d2 c3 d3
            float* d = dst + p * ldd;
            Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
            Sse.Store(d + ldd, Sse.MoveHighToLow(t1, t0));
            Sse.Store(d + 2 * ldd, Sse.MoveLowToHigh(t2, t3));
            Sse.Store(d + 3 * ldd, Sse.MoveHighToLow(t3, t2));
        }
        for (; p < kc; p++)
        {
            float* d = dst + p * ldd;
            d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
        }
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    private static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    private static void CopyTile(float* dst, nint ldd, float* src, nint lds, int rows, int cols)
    {
        for (int i = 0; i < rows; i++) Copy(dst + i * ldd, src + i * lds, cols);
    }

    /// <summary>
    /// op(A)[ic..ic+mc, pc..pc+kc] into MR-row panels: panel r holds, for each p, MR consecutive floats
    /// (rows past the edge are zero). (mc/MR panels, kc, MR)
    /// </summary>
    private static void PackA(float* dst, ref Job g, int ic, int mc, int pc, int kc, int mr)
    {
        nint lda = g.Lda; // A's row stride: A stored (k, m) with TA, else (m, k)
        if (g.TA)
        {
            // A stored (k, m): row p of every panel is contiguous in A. p outermost, so A is read row after row
            // (sequential lines) rather than one panel's column strip at a time (a 4·lda-byte stride).
            int full = mc / mr * mr;
            float* s = g.A + pc * lda + ic;
            for (int p = 0; p < kc; p++, s += lda)
            {
                float* d = dst + (nint)p * mr;
                int ir = 0;
                for (; ir < full; ir += mr, d += (nint)mr * kc) Copy(d, s + ir, mr);
                if (ir < mc)
                {
                    int rows = mc - ir;
                    Copy(d, s + ir, rows);
                    for (int i = rows; i < mr; i++) d[i] = 0f;
                }
            }
            return;
        }
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* d = dst + (nint)ir * kc;
            // A stored (m, k): 4x4 blocks transposed in registers, leftover rows one by one.
            int i = 0;
            if (Sse.IsSupported)
                for (; i + 4 <= rows; i += 4)
                    Transpose4(d + i, mr, g.A + (ic + ir + i) * lda + pc, lda, kc);
            for (; i < rows; i++)
            {
                float* s = g.A + (ic + ir + i) * lda + pc;
                float* di = d + i;
                for (int p = 0; p < kc; p++) di[p * mr] = s[p];
            }
            for (i = rows; i < mr; i++)
                for (int p = 0; p < kc; p++) d[p * mr + i] = 0f;
        }
    }

    /// <summary>
    /// op(B)[pc..pc+kc, jc..jc+nc] into NR-column panels: panel holds, for each p, NR consecutive floats
    /// (columns past the edge are zero). (nc/NR panels, kc, NR)
    /// </summary>
    private static void PackB(float* dst, ref Job g, int pc, int kc, int jc, int nc, int nr)
    {
        int n = g.N, k = g.K;
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* d = dst + (nint)jr * kc;
            if (!g.TB)
            {
                // B stored (k, n): row p of the panel is contiguous in B.
                float* s = BAt(ref g, pc, jc + jr, out nint ldb);
                if (cols == nr && nr % 8 == 0)
                    for (int p = 0; p < kc; p++, s += ldb, d += nr)
                        for (int j = 0; j < nr; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
                else
                    for (int p = 0; p < kc; p++, s += ldb, d += nr)
                    {
                        Copy(d, s, cols);
                        for (int j = cols; j < nr; j++) d[j] = 0f;
                    }
            }
            else
            {
                // B stored (n, k): column j of the panel is row j of B.
                if (cols == nr && nr % 8 == 0 && kc % 8 == 0 && Transpose8.IsSupported) { Transpose8.Pack(d, g.B + (nint)(jc + jr) * k + pc, k, kc, nr); continue; }
                for (int j = 0; j < cols; j++)
                {
                    float* s = g.B + (nint)(jc + jr + j) * k + pc;
                    float* dj = d + j;
                    int p = 0;
                    for (; p + 4 <= kc; p += 4)
                    {
                        dj[(p + 0) * nr] = s[p + 0]; dj[(p + 1) * nr] = s[p + 1];
                        dj[(p + 2) * nr] = s[p + 2]; dj[(p + 3) * nr] = s[p + 3];
                    }
                    for (; p < kc; p++) dj[p * nr] = s[p];
                }
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = 0f;
            }
        }
    }
}
