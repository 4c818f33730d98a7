using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Rnn.Kernels;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// A recurrent cell as a policy of <see cref="RecurrentScan{T, TCell}"/> (PyTorch's cell of <c>FullLayer&lt;Cell&gt;</c>):
/// its gate count, its tape slots, its step forward and its step backward. Everything else (validation, the tape,
/// scan order, masks, initial and final states, dropout, truncation, the hoisted input GEMM, threading) is the scan's.
/// A struct, so the JIT specialises the scan per cell and nothing is virtual per step.
/// </summary>
internal interface IRecurrentCell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Gate rows G·H of W_ih (1·H for the vanilla RNN, 3H for the GRU, 4H for the LSTM).</summary>
    int GateRows { get; }
    /// <summary>True when the state has a cell vector c of <see cref="RecurrentLayer{T}.CellSize"/> beside h.</summary>
    bool HasCell { get; }
    /// <summary>False when the input projection always runs as one GEMM over all steps.</summary>
    bool ProjectsPerStep { get; }
    /// <summary>Adds the cell's own slots for (batch, seq) to the arena's tape (<see cref="ScanArena{T}.Cell"/>).</summary>
    void Layout(ScanArena<T> a, int batch, int seqLen, bool recurrentDropout);
    /// <summary>Where the hoisted input projection x·W_ihᵀ goes: a slot, its first step and its row stride (0: dense).</summary>
    void InputTarget(ScanArena<T> a, out Slot slot, out int firstStep, out int ld);
    /// <summary>The slot holding dG at the input pre-activations after Backward, and its row stride (0: dense).</summary>
    void InputGradient(ScanArena<T> a, out Slot slot, out int ld);
    /// <summary>
    /// Writes the biases the cell adds per step (G·H) into the arena's bias slot; packs W_hh for Forward unless
    /// <paramref name="packWhh"/> is false (a pass split by units packs each participant's rows instead).
    /// </summary>
    void PrepareForward(ScanArena<T> a, int batch, bool packWhh = true);
    /// <summary>Packs W_hh for Backward and clears the per-row gradient sums.</summary>
    void PrepareBackward(ScanArena<T> a, int batch);
    /// <summary>One forward step for rows [r0, r0 + n) of the batch.</summary>
    void Forward(ref ScanStep<T> st);
    /// <summary>One reverse step for rows [r0, r0 + n).</summary>
    void Backward(ref ScanStep<T> st);
    /// <summary>True when inference on <paramref name="batch"/> rows may split this cell's step by hidden units (<see cref="UnitSplit{T}"/>).</summary>
    bool SplitsUnits(int batch);
    /// <summary>Packs participant p's rows of the weights and its biases (after <see cref="PrepareForward"/>).</summary>
    void PackUnits(ScanArena<T> a, UnitSplit<T> u, UnitSplit<T>.Part p);
    /// <summary>One forward step of all rows for participant p's units only: its gates, its slices of h_t (and c_t).</summary>
    void ForwardUnits(ref ScanStep<T> st, UnitSplit<T> u, UnitSplit<T>.Part p);
    /// <summary>The weight and bias gradients from scan steps [sStop, sStop + steps) of the tape.</summary>
    void WeightGradients(ScanArena<T> a, int sStop, int steps, int batch);
}

/// <summary>
/// One arena of a scan and the slots in it: the layer's training tape, or a streaming caller's (batch, 1) state.
/// Shapes use B = batch, S = seq, I = input, H = cell width, P = output width (H unless projected), G·H gate rows.
/// </summary>
internal sealed class ScanArena<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public readonly Tape<T> Tape = new();
    public Slot Xs, M, H, C, Hd, Mx, Mh, MhS, Carry, Dc, Dhd, Bias, WhhP, WihP, FinH, FinC, Pend;
    /// <summary>The cell's own slots, numbered by the cell.</summary>
    public readonly Slot[] Cell = new Slot[12];
    /// <summary>Inference on a batch too small to split by rows: the participants' units (made on first use).</summary>
    public UnitSplit<T>? Units;
    /// <summary>The last Forward kept every step (Training): Backward may run.</summary>
    public bool Kept;
    public bool HasMask, DropX, DropH, XStep, ZeroInit, CarryOut, MasksDrawn;
    /// <summary>
    /// The last Forward was packed (sequence lengths): rows sorted longest first, and step s holds only its Alive[s]
    /// rows, PyTorch's PackedSequence layout (step s of a per-step slot starts at row Off[s]; state k ≥ 1 of an
    /// (S+1)-step slot at row B + Off[k−1]). <see cref="LayoutPacked"/>: the slots have the packed extras.
    /// </summary>
    public bool Packed, LayoutPacked;
    /// <summary>Packed: Perm[j] = the caller's row of sorted row j; Len[j] its length; Alive[s] = rows with length &gt; s (S+1); Off (S+1); Cursor (S+1) scratch.</summary>
    public int[] Perm = [], Len = [], Alive = [], Off = [], Cursor = [];
    /// <summary>Packed: each sorted row's steps in a truncated Backward (B): the threads' row ranges split by it.</summary>
    public int[] Work = [];
    public Span<T> this[Slot s] => Tape[s];
    public Span<T> Step(Slot s, int step) => Packed ? Tape.At(s, RowOffset(s, step), s.StepLength) : Tape.Step(s, step);
    public Span<T> Steps(Slot s, int from, int count)
    {
        if (!Packed) return Tape.Steps(s, from, count);
        int o = RowOffset(s, from);
        return Tape.At(s, o, RowOffset(s, from + count) - o);
    }
    /// <summary>Rows of scan steps [from, from + count) in a per-step slot: count·B, or the alive rows when packed.</summary>
    public int RowCount(int from, int count) => Packed ? Off[from + count] - Off[from] : count * Tape.Batch;
    /// <summary>
    /// Where block k of a slot starts when packed. A slot of S blocks is per step (Off[k] rows); of S+1 blocks a state
    /// (block 0 the B rows of the initial state, block k the Alive[k−1] rows written at step k−1); any other is per row.
    /// All rows are alive at step 0 (lengths ≥ 1), so blocks 0 and 1 sit where they would unpacked, whatever the kind.
    /// </summary>
    private int RowOffset(Slot s, int k)
    {
        if (k == 0) return 0;
        int S = Tape.SeqLen, B = Tape.Batch, w = s.StepLength / B;
        int rows = s.Steps == S ? Off[k] : s.Steps == S + 1 ? B + Off[k - 1] : k * B;
        return rows * w;
    }
    /// <summary>h at the input of scan steps [from, from + count), rows aligned with the step's gradients: hd with recurrent dropout or packing, else h.</summary>
    public Span<T> HinSteps(int from, int count) => DropH || Packed ? Steps(Hd, from, count) : Steps(H, from, count);
    /// <summary>The c slot's block for state k (0 = c_{-1}): every step when kept, else two alternating blocks and the last.</summary>
    public int CIndex(int k, int seqLen) => Kept || k == 0 || k == seqLen ? k : 1 + ((k - 1) & 1);
    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => Tape.Dispose();

    /// <summary>The weights' storage for this arena's products: float32 (training, default streams) or reduced (streams).</summary>
    public WeightPrecision Precision;
    private (int Offset, QuantMatrix M)[] _quant = [];
    private sbyte[] _xq = [];
    private float[] _sx = [];

    /// <summary>
    /// Packs W (N, K) for the per-step product c = x·Wᵀ over <paramref name="slot"/>: as float32 panels (Gemm.PackB's
    /// bits), or with reduced precision into the slot's quantised copy (made once, re-packed in place).
    /// </summary>
    public void PackWeights(Slot slot, ReadOnlySpan<T> w, int n, int k, bool forOneRow)
    {
        if (Precision == WeightPrecision.Float32) Gemm.PackB<T>(this[slot], w, true, n, k, forOneRow);
        else PackQuantised(slot.Offset, this[slot], w, n, k);
    }

    // Apart, so the float path allocates no closure.
    // The float slot (unused by the quantised product) keeps the weights last quantised: a reset with unchanged
    // weights (every Predict) compares them (a memcmp) instead of quantising again.
    private void PackQuantised(int offset, Span<T> copy, ReadOnlySpan<T> w, int n, int k)
    {
        if (typeof(T) != typeof(float)) throw new NotSupportedException($"{Precision} weights: expected float layers, got {typeof(T).Name}.");
        QuantMatrix? m = null;
        foreach (var (off, q) in _quant) if (off == offset) m = q;
        if (m == null || m.N != n || m.K != k)
        {
            m = new QuantMatrix(n, k, Precision == WeightPrecision.Int8);
            _quant = [.. _quant.Where(e => e.Offset != offset), (offset, m)];
            QuantBytes = _quant.Sum(e => e.M.Bytes);
        }
        else if (copy[..(n * k)].SequenceEqual(w[..(n * k)])) return;
        m.Pack(MemoryMarshal.Cast<T, float>(w));
        w[..(n * k)].CopyTo(copy);
        int rows = Tape.Batch, kp = (k + 3) / 4 * 4;
        if (_xq.Length < rows * kp) _xq = new sbyte[rows * kp];
        if (_sx.Length < rows) _sx = new float[rows];
    }

    /// <summary>
    /// c (n, N) = x (n, K)·Wᵀ (β = 0) or c += it (β = 1), W packed by <see cref="PackWeights"/> into
    /// <paramref name="packed"/>; c rows ldc apart (0: N). float32: Gemm.MultiplyPacked, Forward's bits.
    /// </summary>
    public void Product(Span<T> c, ReadOnlySpan<T> x, Slot packed, T beta, int n, int N, int K, int ldc = 0)
    {
        if (Precision == WeightPrecision.Float32) { Gemm.MultiplyPacked(c, x, this[packed], false, T.One, beta, n, N, K, ldc: ldc); return; }
        QuantMatrix? m = null;
        foreach (var (off, q) in _quant) if (off == packed.Offset) m = q;
        if (m == null || m.N != N || m.K != K) throw new InvalidOperationException($"Product: no {Precision} weight ({N}, {K}) was packed for slot {packed.Name}.");
        var cf = MemoryMarshal.Cast<T, float>(c);
        var xf = MemoryMarshal.Cast<T, float>(x);
        if (m.Int8) QuantGemv.MultiplyInt8(cf, xf, m, beta != T.Zero, n, _xq, _sx, ldc);
        else QuantGemv.MultiplyBf16(cf, xf, m, beta != T.Zero, n, ldc);
    }

    /// <summary>Bytes of reduced-precision weight data a step reads (0 for float32); a field, as each step reads it.</summary>
    public long QuantBytes { get; private set; }
}

/// <summary>What one step of one row range sees: the arena, the step, the rows and the state spans.</summary>
internal ref struct ScanStep<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public ScanArena<T> A;
    /// <summary>Scan step s of S, rows [R0, R0 + N).</summary>
    public int S, Seq, R0, N;
    /// <summary>(N, P) h_{t−1}, its recurrent-dropout version the GEMM reads, and h_t (Forward).</summary>
    public Span<T> HPrev, Hin, HNew;
    /// <summary>(N, H) c_{t−1} and c_t, LSTM only.</summary>
    public Span<T> CPrev, CNew;
    /// <summary>(N) the step's mask, or empty.</summary>
    public ReadOnlySpan<T> Mask;
    /// <summary>Backward: (N, P) dh at h_t in; Next (N, P) receives dh_{t−1}; the GEMMs add through Dhin (Next, or the dropout buffer).</summary>
    public Span<T> Dh, Next, Dhin, Dc;
    /// <summary>Forward: skip the recurrent product (h_{−1} is zero). Backward: compute the product into dh_{t−1}.</summary>
    public bool SkipProduct, Carries;

    /// <summary>This step's rows of a slot whose rows are <paramref name="width"/> wide.</summary>
    public readonly Span<T> Rows(Slot slot, int step, int width) => A.Step(slot, step).Slice(R0 * width, N * width);
}

/// <summary>
/// The one BPTT scan every recurrent layer runs (PyTorch's <c>FullLayer</c>, candle's <c>seq</c> through <c>step</c>):
/// validation, the tape, scan order and direction, the mask, the initial and final states, input and recurrent
/// dropout masks, the hoisted input GEMM, truncated BPTT, the carries, the input gradient, row-parallel threading,
/// the one-Backward-per-Forward rule, and the streaming step, which is this scan with seq = 1.
/// </summary>
internal sealed class RecurrentScan<T, TCell> : IRowLoops<T>, IScan<T>
    where T : unmanaged, IFloatingPointIeee754<T> where TCell : struct, IRecurrentCell<T>
{
    private TCell _cell;
    private readonly RecurrentLayer<T> _l;
    private readonly ScanArena<T> _a = new();
    private bool _tapeSpent;

    public RecurrentScan(RecurrentLayer<T> layer, TCell cell) { _l = layer; _cell = cell; }

    public ScanArena<T> Arena => _a;
    private RecurrentOptions O => _l.CommonOptions;

    /// <summary>The arena's slots; <paramref name="packWih"/>: room for W_ihᵀ packed (per-step projection, streams).</summary>
    private void Layout(ScanArena<T> a, int B, int S, bool packWih, bool packed = false)
    {
        int I = _l.InputSize, H = _l.CellSize, P = _l.HiddenSize, G = _cell.GateRows;
        bool rd = _l.RecurrentDropoutRate > 0;
        var t = a.Tape;
        a.Xs = t.Add("xs", S, B * I);                              // (S, B, I) input in scan order, after input dropout
        a.M = t.Add("m", S, B);                                    // (S, B) mask in scan order
        a.H = t.Add("h", S + 1, B * P);                            // (S+1, B, P) h[0] = h_{-1}, h[s+1] = state after scan step s
        a.C = t.Add("c", _cell.HasCell ? S + 1 : 0, B * H);        // (S+1, B, H) likewise for c
        a.Hd = t.Add("hd", rd || packed ? S : 0, B * P);           // (S, B, P) h[s] ⊙ recurrent-dropout mask: the GEMM's input (packed: h[s]'s alive rows)
        a.Mx = t.Add("mx", 1, _l.DropoutRate > 0 ? B * I : 0);     // (B, I) input dropout mask
        a.Mh = t.Add("mh", 1, rd ? B * P : 0);                     // (B, P) recurrent dropout mask
        a.MhS = t.Add("mhs", 1, rd && packed ? B * P : 0);         // (B, P) packed: its rows in sorted order
        a.FinH = t.Add("finh", 1, packed ? B * P : 0);             // (B, P) packed: h after each row's last step, caller's order
        a.FinC = t.Add("finc", 1, packed && _cell.HasCell ? B * H : 0); // (B, H) likewise for c
        a.Pend = t.Add("pend", 1, packed ? B * Math.Max(P, H) : 0); // (B, max(P, H)) packed: dh waiting for its row's last step; reorder scratch
        a.Carry = t.Add("carry", 2, B * P);                        // (2, B, P) dh flowing to the previous step
        a.Dc = t.Add("dc", _cell.HasCell ? 1 : 0, B * H);          // (B, H) dc flowing to the previous step
        a.Dhd = t.Add("dhd", rd ? 1 : 0, B * P);                   // (B, P) gradient at hd of one step
        a.Bias = t.Add("bias", 1, G);                              // (G·H) biases the cell adds per step
        a.WihP = t.Add("wihP", 1, packWih ? Gemm.PackedBLength<T>(G, I) : 0); // W_ihᵀ (I, G·H) packed: per-step projection, streams
        _cell.Layout(a, B, S, rd);
    }

    private void CheckInput(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        int B = batch, S = seqLen;
        int I = _l.InputSize, H = _l.CellSize, P = _l.HiddenSize;
        Guard.AtLeast(B, 1, "batch"); Guard.AtLeast(S, 1, "seqLen");
        // The tape holds about S·B·(I + 2·G·H + 4P + 3H) elements: refused as an argument, before anything is allocated.
        long perRow = I + 2L * _cell.GateRows + 4L * P + 3L * H + 16;
        if ((long)B * S * perRow > Array.MaxLength)
            throw new ArgumentException($"batch, seqLen: expected batch·seqLen·{perRow} (the tape per step and row) ≤ {Array.MaxLength}, got batch = {B}, seqLen = {S}.", nameof(batch));
        if (x.Length != B * S * I) Guard.Length(x.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(x));
        Guard.Length(y.Length, B * _l.OutputLength(S), $"(batch={B}{(O.ReturnSequences ? $", seq={S}" : "")}, H={P})", nameof(y));
        Guard.Mask(mask, B, S);
        if (O.InitialState == InitialState.Given)
        {
            if (h0.Length != B * P) Guard.Length(h0.Length, B * P, $"(batch={B}, H={P})", nameof(h0));
            if (_cell.HasCell && c0.Length != B * H) Guard.Length(c0.Length, B * H, $"(batch={B}, H={H})", nameof(c0));
            if (!_cell.HasCell && !c0.IsEmpty) throw new ArgumentException($"c0: expected empty, the layer has no cell state; got {c0.Length} elements.", nameof(c0));
            Guard.Finite(h0); Guard.Finite(c0);
        }
        else if (!h0.IsEmpty || !c0.IsEmpty)
            throw new ArgumentException($"h0, c0: expected empty with InitialState.{O.InitialState}, got {h0.Length} and {c0.Length} elements.", nameof(h0));
        Guard.Finite(x);
    }

    /// <summary>See <see cref="RecurrentLayer{T}.Forward(Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, int, int)"/>.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, mask, default, false, h0, c0, batch, seqLen);

    /// <summary>See <see cref="RecurrentLayer{T}.ForwardPacked(Span{T}, ReadOnlySpan{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, int, int)"/>.</summary>
    public void ForwardPacked(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<int> lengths, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
        => Run(y, x, default, lengths, true, h0, c0, batch, seqLen);

    /// <summary>What the last Forward was given.</summary>
    public BatchPadding Padding { get; private set; }

    // The profile's phases (PhaseProfile) around the pass; inside it, each part enters its own.
    private void Run(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        var outer = PhaseProfile.Enter(StepPhase.ScanInput);
        RunScan(y, x, mask, lengths, packed, h0, c0, batch, seqLen);
        PhaseProfile.Leave(outer);
    }

    private void RunScan(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<int> lengths, bool packed,
        ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = _l.InputSize, P = _l.HiddenSize, G = _cell.GateRows;
        CheckInput(y, x, mask, h0, c0, B, S);
        if (packed) SequenceLengths.Check(lengths, B, S);
        var a = _a;
        a.Packed = false;
        // Packing adds slots (hd, the final states, the pending dh): a change of mode lays the tape out again.
        if (a.LayoutPacked != packed) a.Tape.Invalidate();
        // A cell that never projects per step (the vanilla RNN) needs no packed W_ihᵀ in training.
        if (a.Tape.Begin(B, S))
        {
            Layout(a, B, S, packWih: _cell.ProjectsPerStep, packed);
            a.LayoutPacked = packed;
            a.Tape.Commit();
            a.MasksDrawn = false;
        }
        if (packed) SortByLength(a, lengths, B, S);
        a.Packed = packed;
        Padding = packed ? BatchPadding.Lengths : mask.IsEmpty ? BatchPadding.None : BatchPadding.Mask;
        a.HasMask = !mask.IsEmpty;
        a.Kept = _l.Training;
        _tapeSpent = false;
        a.DropX = _l.Training && _l.DropoutRate > 0;
        a.DropH = _l.Training && _l.RecurrentDropoutRate > 0;
        DrawMasks(a);
        a.ZeroInit = O.InitialState == InitialState.Zero;
        if (packed && a.DropH) Permute(a[a.MhS], a[a.Mh], a.Perm, P);

        // Time-major, scan-ordered copies, so each step is contiguous and the input GEMM is one call.
        if (packed) RecurrentInit.ToPackedOrder<T>(a[a.Xs], x, a.DropX ? a[a.Mx] : default, a.Perm, a.Len, a.Off, S, I, O.Backwards);
        else RecurrentInit.ToScanOrder<T>(a[a.Xs], x, a.DropX ? a[a.Mx] : default, B, S, I, O.Backwards);
        if (a.HasMask) RecurrentInit.ToScanOrder<T>(a[a.M], mask, default, B, S, 1, O.Backwards);

        // Hoisted input projection over all steps, or per step inside the loop while it is in cache (same bits).
        a.XStep = _cell.ProjectsPerStep && _l.InputPerStep(B, G);
        // Split by units, each participant packs its own rows of W_hh and W_ih and projects its own gates: the
        // whole packed W_hhᵀ and the hoisted GEMM are made only if the pool turns out busy.
        bool units = UnitsApply(a, B);
        PhaseProfile.Enter(StepPhase.ScanPrepare);
        _cell.PrepareForward(a, B, packWhh: !units);
        PhaseProfile.Enter(StepPhase.InputGemm);
        if (a.XStep) Gemm.PackB<T>(a[a.WihP], _l.WeightIh.Value, true, G, I);
        else if (!units) InputGemm(a, S);
        InitialStateInto(a, h0, c0, B);

        if (a.Units != null) a.Units.Stale = true; // the weights may have changed since the last pass, as for PrepareForward
        PhaseProfile.Enter(StepPhase.ForwardLoop);
        if (!units || !UnitLoops(a, B, S, projectX: false, projectAll: true))
        {
            if (units)
            {
                // The pool was busy: the row loops need what the split would have made itself.
                Interlocked.Increment(ref UnitSplit<T>.Fallbacks);
                _cell.PrepareForward(a, B);
                InputGemm(a, S);
            }
            RowLoops<T>.Forward(this, B, S, packed ? a.Len : default); // packed: split by length, not by count
        }

        PhaseProfile.Enter(StepPhase.ScanOutput);
        if (packed) { PackedOutput(a, y, B, S); return; }
        if (O.ReturnSequences)
        {
            RecurrentInit.FromScanOrder(y, a.Steps(a.H, 1, S), B, S, P, O.Backwards);
            if (a.HasMask && O.PaddedOutput == PaddedOutput.Zero) ZeroPadded(y, mask, B, S, P);
        }
        else a.Step(a.H, S).CopyTo(y);
    }

    private void InitialStateInto(ScanArena<T> a, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int B)
    {
        int H = _l.CellSize, P = _l.HiddenSize;
        var hInit = a.Step(a.H, 0);
        var cInit = _cell.HasCell ? a.Step(a.C, 0) : default;
        switch (O.InitialState)
        {
            case InitialState.Given when a.Packed: Permute(hInit, h0, a.Perm, P); if (_cell.HasCell) Permute(cInit, c0, a.Perm, H); break;
            case InitialState.Given: h0.CopyTo(hInit); c0.CopyTo(cInit); break;
            case InitialState.Learned:
                Vec.BroadcastRows<T>(hInit, _l.H0!.Value, B, P);
                if (_cell.HasCell) Vec.BroadcastRows<T>(cInit, _l.C0!.Value, B, H);
                break;
            default: hInit.Clear(); cInit.Clear(); break;
        }
    }

    /// <summary>
    /// Sorts the rows by length, longest first, stably (a counting sort, no allocation once the arrays fit): Perm, Len,
    /// Alive[s] = rows with length &gt; s (Alive[S] = 0) and Off[s] = Σ Alive[&lt; s], the packed row of step s.
    /// </summary>
    private static void SortByLength(ScanArena<T> a, ReadOnlySpan<int> lengths, int B, int S)
    {
        if (a.Perm.Length != B) { a.Perm = new int[B]; a.Len = new int[B]; a.Work = new int[B]; }
        if (a.Alive.Length != S + 1) { a.Alive = new int[S + 1]; a.Off = new int[S + 1]; a.Cursor = new int[S + 1]; }
        var alive = a.Alive; var cur = a.Cursor;
        Array.Clear(alive);
        foreach (int len in lengths) alive[len - 1]++;                   // rows whose last step is len − 1
        for (int s = S - 1; s >= 0; s--) alive[s] += alive[s + 1];       // rows alive at step s
        for (int len = 1; len <= S; len++) cur[len] = len < S ? alive[len] : 0; // rows longer than len go first
        for (int b = 0; b < B; b++) { int j = cur[lengths[b]]++; a.Perm[j] = b; a.Len[j] = lengths[b]; }
        a.Off[0] = 0;
        for (int s = 0; s < S; s++) a.Off[s + 1] = a.Off[s] + alive[s];
    }

    /// <summary>dst row j = src row perm[j], rows <paramref name="width"/> wide: the caller's rows into sorted order.</summary>
    private static void Permute(Span<T> dst, ReadOnlySpan<T> src, int[] perm, int width)
    {
        for (int j = 0; j < perm.Length; j++) src.Slice(perm[j] * width, width).CopyTo(dst.Slice(j * width, width));
    }

    /// <summary>dst row perm[j] = src row j: sorted rows back into the caller's order.</summary>
    private static void Unpermute(Span<T> dst, ReadOnlySpan<T> src, int[] perm, int width)
    {
        for (int j = 0; j < perm.Length; j++) src.Slice(j * width, width).CopyTo(dst.Slice(perm[j] * width, width));
    }

    /// <summary>
    /// y from a packed run: each row's real steps; at its padded steps zeros (PaddedOutput.Zero) or what the masked scan
    /// gives for post-padding (Carry): the final state scanning forwards, the initial state scanning backwards.
    /// </summary>
    private void PackedOutput(ScanArena<T> a, Span<T> y, int B, int S)
    {
        int P = _l.HiddenSize;
        var fin = a[a.FinH];
        if (!O.ReturnSequences) { fin.CopyTo(y); return; }
        for (int j = 0; j < B; j++)
        {
            int b = a.Perm[j], L = a.Len[j];
            for (int s = 0; s < L; s++)
                a.Step(a.H, s + 1).Slice(j * P, P).CopyTo(y.Slice((b * S + (O.Backwards ? L - 1 - s : s)) * P, P));
            for (int t = L; t < S; t++)
            {
                var row = y.Slice((b * S + t) * P, P);
                if (O.PaddedOutput == PaddedOutput.Zero) row.Clear();
                else (O.Backwards ? a.Step(a.H, 0).Slice(j * P, P) : fin.Slice(b * P, P)).CopyTo(row);
            }
        }
    }

    /// <summary>x·W_ihᵀ for every step in one GEMM, into the cell's input target.</summary>
    private void InputGemm(ScanArena<T> a, int S)
    {
        _cell.InputTarget(a, out var slot, out int first, out int ld);
        Gemm.Multiply(a.Steps(slot, first, S), a.Steps(a.Xs, 0, S), _l.WeightIh.Value, false, true, T.One, T.Zero, a.RowCount(0, S),
            _cell.GateRows, _l.InputSize, ldc: ld);
    }

    private static void ZeroPadded(Span<T> y, ReadOnlySpan<T> mask, int B, int S, int P)
    {
        for (int i = 0; i < B * S; i++)
            if (mask[i] == T.Zero) y.Slice(i * P, P).Clear();
    }

    // ---- Split by hidden units: a batch too small for rows (batch 1 streaming) on more than one thread ----

    /// <summary>Reduced-precision weight bytes a step reads from which a stream splits by units.</summary>
    internal const long UnitSplitMinQuantBytes = 1 << 20;

    private struct UnitJob
    {
        public RecurrentScan<T, TCell> Scan;
        public ScanArena<T> A;
        public int Seq;
    }

    /// <summary>
    /// True when inference on a float batch (float32, bf16 or int8 weights) too small to split by rows meets more than
    /// one thread and a layer large enough to pay for a barrier per step: <see cref="UnitLoops"/> then runs split by
    /// units, unless the pool is busy.
    /// </summary>
    private bool UnitsApply(ScanArena<T> a, int B)
    {
        // One thread (the common case) returns at the first test: a step on one thread pays a static load and a branch.
        if (WorkerPool.Size < 2 || typeof(T) != typeof(float)) return false;
        int H = _l.CellSize, G = _cell.GateRows, P = _l.HiddenSize;
        if (a.Kept || a.Packed || a.DropH || a.XStep || !_cell.SplitsUnits(B) || B >= 2 * WorkerPool.MinRowsPerChunk
            || WorkerPool.InRows || (long)G * P < Gemm.ParallelMinPackedGemv) return false;
        // Quantised weights of lstm-infer-1 (bf16 0.75 MB, int8 0.4 MB a step) measured no faster split (int8
        // slower: each thread quantises x again); float32's 1.5 MB measured 2x faster. Re-measured with this test
        // removed (split at any size) against it: `ROUNDS=9 tools/ab-workloads.sh THIS SPLIT --only lstm-infer-1`,
        // 2026-12-06, host load 13-16, 2 threads, median ms: bf16 0.756 → 9.288, int8 0.445 → 8.327 (~80 µs a step:
        // a stream's step is one pool dispatch, which waits for the worker's ack, so a descheduled worker costs its
        // time slice every step); best runs bf16 0.600 → 0.359, int8 0.364 → 0.436. So the split stays off below 1 MB.
        if (a.Precision != WeightPrecision.Float32 && a.QuantBytes < UnitSplitMinQuantBytes) return false;
        return UnitSplit<T>.Participants(H) >= 2;
    }

    /// <summary>
    /// Runs the whole time loop split by hidden units (<see cref="UnitSplit{T}"/>) when <see cref="UnitsApply"/>; false
    /// (nothing run) otherwise, or when the pool is busy. The bits are the single thread's either way. projectX: each
    /// step's x is projected by the participants (a stream's step); projectAll: each participant projects every
    /// step's x for its units before its first step (Forward, no hoisted GEMM); neither: the hoisted GEMM's gates.
    /// </summary>
    private unsafe bool UnitLoops(ScanArena<T> a, int B, int S, bool projectX, bool projectAll = false)
    {
        if (!UnitsApply(a, B)) return false;
        int H = _l.CellSize, G = _cell.GateRows, P = _l.HiddenSize, I = _l.InputSize;
        int parts = UnitSplit<T>.Participants(H);
        var u = a.Units;
        if (u == null || !u.Fits(parts, B, H, I, P, G / H, a.Precision))
            a.Units = u = new UnitSplit<T>(parts, B, H, I, P, G / H, a.Precision); // once per shape
        u.ProjectX = projectX;
        u.ProjectAll = projectAll;
        u.Reset();
        var job = new UnitJob { Scan = this, A = a, Seq = S };
        if (!WorkerPool.RunTogether(&UnitChunk, Unsafe.AsPointer(ref job), parts)) return false;
        u.Stale = false;
        Interlocked.Increment(ref UnitSplit<T>.Runs);
        return true;
    }

    private static unsafe void UnitChunk(void* state, int k)
    {
        ref var j = ref Unsafe.AsRef<UnitJob>(state);
        j.Scan.ForwardUnits(j.A, k, j.Seq);
    }

    /// <summary>
    /// Participant k's time loop: each step, its own chunk of units first, then any chunk still unclaimed; a step
    /// starts once all chunks have finished the one before. Who runs a chunk never changes its bits.
    /// </summary>
    private void ForwardUnits(ScanArena<T> a, int k, int S)
    {
        var u = a.Units!;
        int C = u.Parts.Length;
        var st = new ScanStep<T> { A = a, Seq = S, R0 = 0, N = a.Tape.Batch };
        try
        {
            for (int s; (s = u.NextStep()) < S;)
            {
                if (!u.AwaitStep(s)) return;
                st.S = s;
                st.HPrev = st.Hin = a.Step(a.H, s);
                st.HNew = a.Step(a.H, s + 1);
                if (_cell.HasCell)
                {
                    st.CPrev = a.Step(a.C, a.CIndex(s, S));
                    st.CNew = a.Step(a.C, a.CIndex(s + 1, S));
                }
                st.Mask = a.HasMask ? a.Step(a.M, s) : default;
                st.SkipProduct = s == 0 && a.ZeroInit;
                for (int i = 0; i < C; i++)
                {
                    int c = (k + i) % C;
                    if (!u.TryClaim(c, s)) continue;
                    var p = u.Parts[c];
                    if (s == 0 && u.Stale) _cell.PackUnits(a, u, p); // usually by its owner: the panels start in its cache
                    if (s == 0 && u.ProjectAll) u.ProjectInputs(p, a.Steps(a.Xs, 0, S), S * st.N);
                    _cell.ForwardUnits(ref st, u, p);
                    u.Complete(c, s);
                }
            }
        }
        catch { u.Fail(); throw; }
    }

    /// <summary>The recurrence for batch rows [r0, r1): rows never interact, so row ranges run in parallel.</summary>
    void IRowLoops<T>.ForwardSteps(int r0, int r1, int seqLen) => ForwardRows(_a, r0, r1, seqLen);

    private void ForwardRows(ScanArena<T> a, int r0, int r1, int S)
    {
        int P = _l.HiddenSize, H = _l.CellSize, n = r1 - r0;
        var mhAll = a.DropH ? a[a.Packed ? a.MhS : a.Mh].Slice(r0 * P, n * P) : default;
        var st = new ScanStep<T> { A = a, Seq = S, R0 = r0 };
        for (int s = 0; s < S; s++)
        {
            // Packed: only the rows still alive (sorted longest first, so a prefix of the batch, clipped to this range).
            if (a.Packed && (n = Math.Min(r1, a.Alive[s]) - r0) <= 0) break;
            var mh = a.DropH ? mhAll[..(n * P)] : default;
            st.S = s; st.N = n;
            st.HPrev = a.Step(a.H, s).Slice(r0 * P, n * P);
            st.HNew = a.Step(a.H, s + 1).Slice(r0 * P, n * P);
            st.Hin = st.HPrev;
            if (a.DropH) { var hd = a.Step(a.Hd, s).Slice(r0 * P, n * P); Vec.Mul(hd, st.HPrev, mh); st.Hin = hd; }
            if (_cell.HasCell)
            {
                st.CPrev = a.Step(a.C, a.CIndex(s, S)).Slice(r0 * H, n * H);
                st.CNew = a.Step(a.C, a.CIndex(s + 1, S)).Slice(r0 * H, n * H);
            }
            st.Mask = a.HasMask ? a.Step(a.M, s).Slice(r0, n) : default;
            st.SkipProduct = s == 0 && a.ZeroInit; // a zero initial state adds nothing: the first product is skipped
            _cell.Forward(ref st);
            // Packed: the rows whose last step this was leave their final state, in the caller's order.
            if (a.Packed)
                for (int j = Math.Max(r0, a.Alive[s + 1]); j < r0 + n; j++)
                {
                    st.HNew.Slice((j - r0) * P, P).CopyTo(a[a.FinH].Slice(a.Perm[j] * P, P));
                    if (_cell.HasCell) st.CNew.Slice((j - r0) * H, H).CopyTo(a[a.FinC].Slice(a.Perm[j] * H, H));
                }
        }
    }

    /// <summary>See <see cref="RecurrentLayer{T}.Backward(Span{T}, Span{T}, Span{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, int, int)"/>.</summary>
    public void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
    {
        var outer = PhaseProfile.Enter(StepPhase.BackwardPrepare);
        BackwardScan(dx, dh0, dc0, dy, dhT, dcT, batch, seqLen);
        PhaseProfile.Leave(outer);
    }

    private void BackwardScan(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = _l.InputSize, H = _l.CellSize, P = _l.HiddenSize;
        var a = _a;
        if (a.Tape.Batch < 0)
            throw new InvalidOperationException("Backward: no Forward has run yet; run Forward with Training = true first.");
        if (!a.Kept)
            throw new InvalidOperationException("Backward: the last Forward ran with Training = false, which keeps no tape for the backward pass; run Forward with Training = true first.");
        if (a.Tape.Batch != B || a.Tape.SeqLen != S)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={a.Tape.Batch}, seq={a.Tape.SeqLen}), got (batch={B}, seq={S}).");
        Guard.Length(dy.Length, B * _l.OutputLength(S), $"(batch={B}{(O.ReturnSequences ? $", seq={S}" : "")}, H={P})", nameof(dy));
        if (!dx.IsEmpty && dx.Length != B * S * I) Guard.Length(dx.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(dx));
        CheckState(dh0.Length, B, P, nameof(dh0)); CheckState(dhT.Length, B, P, nameof(dhT));
        if (_cell.HasCell) { CheckState(dc0.Length, B, H, nameof(dc0)); CheckState(dcT.Length, B, H, nameof(dcT)); }
        else if (!dc0.IsEmpty || !dcT.IsEmpty)
            throw new ArgumentException($"dc0, dcT: expected empty, the layer has no cell state; got {dc0.Length} and {dcT.Length} elements.", nameof(dc0));
        if (_tapeSpent)
            throw new InvalidOperationException("Backward: the last Forward's tape was already used by a Backward (which writes its gradients over it); run Forward again first.");
        _tapeSpent = true;

        int steps = O.GradientSteps > 0 ? Math.Min(O.GradientSteps, S) : S;
        int sStop = S - steps;
        var dh = a.Step(a.Carry, 0);
        if (a.Packed) PendingGradients(a, dy, dhT, dcT, sStop, B, S);
        else
        {
            dh.Clear();
            if (_cell.HasCell) a[a.Dc].Clear();
            if (!dhT.IsEmpty) Vec.Add(dh, dhT);
            if (!dcT.IsEmpty) Vec.Add(a[a.Dc], dcT);
            if (!O.ReturnSequences) Vec.Add(dh, dy);
        }
        _cell.PrepareBackward(a, B);
        a.CarryOut = sStop == 0 && (!dh0.IsEmpty || _l.H0 != null);
        ReadOnlySpan<int> work = default;
        if (a.Packed && sStop == 0) work = a.Len;
        else if (a.Packed)
        {
            for (int j = 0; j < B; j++) a.Work[j] = Math.Max(0, a.Len[j] - sStop);
            work = a.Work;
        }
        PhaseProfile.Enter(StepPhase.BackwardLoop);
        RowLoops<T>.Backward(this, B, S, steps, dy, work);
        PhaseProfile.Enter(StepPhase.WeightGradients);
        dh = a.Step(a.Carry, steps & 1); // the carries swap once per step

        // Whatever reached (h_{-1}, c_{-1}) (never, under truncation).
        if (sStop == 0 && a.Packed) InitialGradientsPacked(a, dh, dh0, dc0, dy, B, S);
        else if (sStop == 0)
        {
            if (!dh0.IsEmpty) Vec.Add(dh0, dh);
            if (!dc0.IsEmpty) Vec.Add(dc0, a[a.Dc]);
            if (_l.H0 != null) Vec.AddColumnSums<T>(_l.H0.Grad, dh, B, P);
            if (_l.C0 != null) Vec.AddColumnSums<T>(_l.C0.Grad, a[a.Dc], B, H);
        }

        // Packed: the weight-gradient GEMMs read h at each step's alive rows, compacted as the gradients are (hd).
        if (a.Packed && !a.DropH)
            for (int s = sStop; s < S; s++)
                a.Step(a.H, s)[..(a.Alive[s] * P)].CopyTo(a.Step(a.Hd, s));
        _cell.WeightGradients(a, sStop, steps, B);

        PhaseProfile.Enter(StepPhase.InputGradient);
        if (dx.IsEmpty) return;
        // dx in scan order, written over xs: the weight gradients above were its last readers.
        _cell.InputGradient(a, out var dg, out int ld);
        int rows = a.RowCount(sStop, steps);
        var dxs = a.Steps(a.Xs, sStop, steps);
        Gemm.Multiply(dxs, a.Steps(dg, sStop, steps), _l.WeightIh.Value, false, false, T.One, T.Zero, rows, I, _cell.GateRows, ld);
        if (a.Packed) RecurrentInit.AddFromPackedOrder<T>(dx, dxs, a.DropX ? a[a.Mx] : default, a.Perm, a.Len, a.Off, sStop, S, I, O.Backwards);
        else RecurrentInit.AddFromScanOrder<T>(dx, dxs, a.DropX ? a[a.Mx] : default, B, S, steps, I, O.Backwards);
    }

    /// <summary>
    /// Packed: the dh each sorted row starts its reverse pass with, at its own last step (pend), and dc (in Dc, which
    /// rows not yet alive leave alone): dhT, dcT, dy of the final output, and with Carry scanning forwards the dy of the
    /// padded steps in the window (they read the final state), in the order the masked scan adds them.
    /// </summary>
    private void PendingGradients(ScanArena<T> a, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int sStop, int B, int S)
    {
        int P = _l.HiddenSize, H = _l.CellSize;
        var pend = a[a.Pend][..(B * P)];
        pend.Clear();
        if (_cell.HasCell) a[a.Dc].Clear();
        bool carryPadded = O.ReturnSequences && O.PaddedOutput == PaddedOutput.Carry && !O.Backwards;
        for (int j = 0; j < B; j++)
        {
            int b = a.Perm[j];
            var row = pend.Slice(j * P, P);
            if (!dhT.IsEmpty) Vec.Add(row, dhT.Slice(b * P, P));
            if (!dcT.IsEmpty) Vec.Add(a[a.Dc].Slice(j * H, H), dcT.Slice(b * H, H));
            if (!O.ReturnSequences) Vec.Add(row, dy.Slice(b * P, P));
            else if (carryPadded)
                for (int t = S - 1; t >= Math.Max(a.Len[j], sStop); t--) Vec.Add(row, dy.Slice((b * S + t) * P, P));
        }
    }

    /// <summary>
    /// Packed, full BPTT: dh (sorted rows) reached h_{-1}; with Carry scanning backwards the padded steps' dy joins it
    /// (they read the initial state). Back in the caller's order into dh0, dc0 and the learned h0, c0.
    /// </summary>
    private void InitialGradientsPacked(ScanArena<T> a, Span<T> dh, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, int B, int S)
    {
        int P = _l.HiddenSize, H = _l.CellSize;
        if (!a.CarryOut) return;
        if (O.ReturnSequences && O.PaddedOutput == PaddedOutput.Carry && O.Backwards)
            for (int j = 0; j < B; j++)
                for (int t = a.Len[j]; t < S; t++) Vec.Add(dh.Slice(j * P, P), dy.Slice((a.Perm[j] * S + t) * P, P));
        var scratch = a[a.Pend];
        var h = scratch[..(B * P)];
        Unpermute(h, dh, a.Perm, P);
        if (!dh0.IsEmpty) Vec.Add(dh0, h);
        if (_l.H0 != null) Vec.AddColumnSums<T>(_l.H0.Grad, h, B, P);
        if (!_cell.HasCell || (dc0.IsEmpty && _l.C0 == null)) return;
        var c = scratch[..(B * H)];
        Unpermute(c, a[a.Dc], a.Perm, H);
        if (!dc0.IsEmpty) Vec.Add(dc0, c);
        if (_l.C0 != null) Vec.AddColumnSums<T>(_l.C0.Grad, c, B, H);
    }

    private static void CheckState(int length, int B, int H, string name)
    {
        if (length != 0 && length != B * H) Guard.Length(length, B * H, $"(batch={B}, H={H})", name);
    }

    /// <summary>The reverse time loop for batch rows [r0, r1), from the last step down to seq − steps.</summary>
    void IRowLoops<T>.BackwardSteps(int r0, int r1, int seqLen, int steps, ReadOnlySpan<T> dy)
    {
        var a = _a;
        int S = seqLen, P = _l.HiddenSize, H = _l.CellSize, n = r1 - r0;
        var dhAll = a.Step(a.Carry, 0).Slice(r0 * P, n * P);
        var nextAll = a.Step(a.Carry, 1).Slice(r0 * P, n * P);
        var mhAll = a.DropH ? a[a.Packed ? a.MhS : a.Mh].Slice(r0 * P, n * P) : default;
        var dhdAll = a.DropH ? a[a.Dhd].Slice(r0 * P, n * P) : default;
        var dcAll = _cell.HasCell ? a[a.Dc].Slice(r0 * H, n * H) : default;
        var st = new ScanStep<T> { A = a, Seq = S, R0 = r0 };
        for (int s = S - 1; s >= S - steps; s--)
        {
            var dh = dhAll; var next = nextAll;
            dhAll = nextAll; nextAll = dh; // the carries swap once per step, whether or not this range has rows alive
            if (a.Packed)
            {
                // Only the alive rows; a row joins at its own last step with the dh waiting for it.
                if ((n = Math.Min(r1, a.Alive[s]) - r0) <= 0) continue;
                dh = dh[..(n * P)]; next = next[..(n * P)];
                for (int j = Math.Max(r0, a.Alive[s + 1]); j < r0 + n; j++) a[a.Pend].Slice(j * P, P).CopyTo(dh.Slice((j - r0) * P, P));
                if (O.ReturnSequences)
                    for (int j = r0; j < r0 + n; j++)
                    {
                        int L = a.Len[j], t = O.Backwards ? L - 1 - s : s;
                        Vec.Add(dh.Slice((j - r0) * P, P), dy.Slice((a.Perm[j] * S + t) * P, P));
                    }
            }
            else if (O.ReturnSequences)
            {
                int t = O.Backwards ? S - 1 - s : s;
                if (a.HasMask && O.PaddedOutput == PaddedOutput.Zero)
                {
                    // The output there was zero, not the state: its gradient does not reach the state.
                    var ms = a.Step(a.M, s);
                    for (int b = 0; b < n; b++)
                        if (ms[r0 + b] != T.Zero) Vec.Add(dh.Slice(b * P, P), dy.Slice(((r0 + b) * S + t) * P, P));
                }
                else Vec.AddRows(dh, dy[((r0 * S + t) * P)..], n, P, S * P);
            }
            var mh = a.DropH ? mhAll[..(n * P)] : default;
            var dhd = a.DropH ? dhdAll[..(n * P)] : default;
            if (_cell.HasCell) st.Dc = dcAll[..(n * H)];
            st.S = s; st.N = n;
            st.HPrev = a.Step(a.H, s).Slice(r0 * P, n * P);
            st.HNew = a.Step(a.H, s + 1).Slice(r0 * P, n * P);
            st.Hin = a.DropH ? a.Step(a.Hd, s).Slice(r0 * P, n * P) : st.HPrev;
            if (_cell.HasCell)
            {
                st.CPrev = a.Step(a.C, s).Slice(r0 * H, n * H);
                st.CNew = a.Step(a.C, s + 1).Slice(r0 * H, n * H);
            }
            st.Mask = a.HasMask ? a.Step(a.M, s).Slice(r0, n) : default;
            st.Dh = dh; st.Next = next;
            if (a.DropH) dhd.Clear();
            st.Dhin = a.DropH ? dhd : next;
            st.Carries = s > S - steps || a.CarryOut; // the last step's dh_{t-1} only matters when someone reads it
            _cell.Backward(ref st);
            if (a.DropH) Vec.AddMul(next, dhd, mh);
        }
    }

    private void DrawMasks(ScanArena<T> a)
    {
        if (!a.DropX && !a.DropH) return;
        if (_l.ReuseDropoutMasks)
        {
            if (!a.MasksDrawn) throw new InvalidOperationException("ReuseDropoutMasks: no masks were drawn for this batch shape yet; run one training Forward without it first.");
            return;
        }
        if (_l.DropoutRate > 0) RecurrentInit.DropoutMask(a[a.Mx], _l.DropoutRate, _l.DropoutRng);
        if (_l.RecurrentDropoutRate > 0) RecurrentInit.DropoutMask(a[a.Mh], _l.RecurrentDropoutRate, _l.DropoutRng);
        a.MasksDrawn = true;
    }

    /// <summary>h after the last scanned step of the last Forward (batch, P).</summary>
    public ReadOnlySpan<T> FinalH => _a.Tape.Batch < 0 ? throw NoForward() : _a.Packed ? _a[_a.FinH] : _a.Step(_a.H, _a.Tape.SeqLen);
    /// <summary>c after the last scanned step (batch, H); empty without a cell state.</summary>
    public ReadOnlySpan<T> FinalC => _a.Tape.Batch < 0 ? throw NoForward() : !_cell.HasCell ? default : _a.Packed ? _a[_a.FinC] : _a.Step(_a.C, _a.CIndex(_a.Tape.SeqLen, _a.Tape.SeqLen));
    private static InvalidOperationException NoForward() => new("FinalH/FinalC: no Forward has run yet.");

    // ---- Streaming: the scan with seq = 1 over the caller's own arena ----

    /// <summary>A streaming arena for <paramref name="batch"/> rows, its weights packed at <paramref name="precision"/>, the state reset.</summary>
    public ScanArena<T> NewStream(int batch, WeightPrecision precision)
    {
        var a = new ScanArena<T> { Precision = precision };
        a.Tape.Begin(batch, 1);
        Layout(a, batch, 1, packWih: true);
        a.Tape.Commit();
        ResetStream(a);
        return a;
    }

    /// <summary>Packs the current weights into the stream and writes the initial state (zeros or the learned one).</summary>
    public void ResetStream(ScanArena<T> a)
    {
        int B = a.Tape.Batch;
        a.Kept = false; a.DropX = a.DropH = false; a.ZeroInit = false; a.HasMask = false; a.Packed = false;
        _cell.PrepareForward(a, B);
        a.XStep = _cell.ProjectsPerStep && _l.InputPerStep(B, _cell.GateRows);
        // W_ihᵀ packed as the hoisted GEMM packs it: a one-row product over these panels runs the micro-kernel's
        // arithmetic, where the unpacked matrix-vector loop would not (Vector128 sums differently).
        a.PackWeights(a.WihP, _l.WeightIh.Value, _cell.GateRows, _l.InputSize, forOneRow: false);
        if (O.InitialState == InitialState.Learned) InitialStateInto(a, default, default, B);
        else { a.Step(a.H, 0).Clear(); if (_cell.HasCell) a.Step(a.C, 0).Clear(); }
        if (a.Units != null) a.Units.Stale = true;
    }

    /// <summary>
    /// One step: x (batch, I) in; the state in the arena's h[0] (and c[0]) moves one step. The same per-step code as
    /// Forward over one step from a given state, so the bits are Forward's.
    /// </summary>
    public void Step(ScanArena<T> a, ReadOnlySpan<T> x)
    {
        int B = a.Tape.Batch, I = _l.InputSize, G = _cell.GateRows;
        x.CopyTo(a[a.Xs]);
        // Split by units, the participants project x with their own rows of W_ih.
        if (a.XStep || !UnitLoops(a, B, 1, projectX: true))
        {
            if (!a.XStep)
            {
                _cell.InputTarget(a, out var slot, out int first, out int ld);
                a.Product(a.Step(slot, first), a[a.Xs], a.WihP, T.Zero, B, G, I, ld);
            }
            ForwardRows(a, 0, B, 1);
        }
        a.Step(a.H, 1).CopyTo(a.Step(a.H, 0));
        if (_cell.HasCell) a.Step(a.C, 1).CopyTo(a.Step(a.C, 0));
    }

    /// <summary>
    /// One step from x·W_ihᵀ (batch, G·H) made elsewhere (a token table's rows) instead of from x: the rest is
    /// <see cref="Step"/>'s code, so the bits are Step's whenever those rows are the product's.
    /// </summary>
    public void StepProjected(ScanArena<T> a, ReadOnlySpan<T> xProj)
    {
        int B = a.Tape.Batch, G = _cell.GateRows;
        _cell.InputTarget(a, out var slot, out int first, out int ld);
        var dst = a.Step(slot, first);
        int stride = ld == 0 ? G : ld;
        for (int b = 0; b < B; b++) xProj.Slice(b * G, G).CopyTo(dst.Slice(b * stride, G));
        bool perStep = a.XStep;
        a.XStep = false; // the cells would project again
        if (!UnitLoops(a, B, 1, projectX: false)) ForwardRows(a, 0, B, 1);
        a.XStep = perStep;
        a.Step(a.H, 1).CopyTo(a.Step(a.H, 0));
        if (_cell.HasCell) a.Step(a.C, 1).CopyTo(a.Step(a.C, 0));
    }

    public void Dispose() => _a.Dispose();
}
