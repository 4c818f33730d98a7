using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Options of <see cref="Lstm{T}"/>; the defaults are Keras's LSTM layer (one bias, unit forget bias). The initial
/// state, when given or learned, is the pair (h0, c0).
/// </summary>
public sealed record LstmOptions : GatedRecurrentOptions
{
    /// <summary>Set the forget-gate block of bias_ih to 1 after initialisation (Keras's unit_forget_bias).</summary>
    public bool UnitForgetBias { get; init; } = true;
}

/// <summary>
/// Long short-term memory layer with PyTorch's equations and gate order i, f, g, o:
/// gates = x·W_ihᵀ + b_ih + h·W_hhᵀ (+ b_hh); c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c').
/// Input x is (batch, seq, I), batch-major; mask (batch, seq) of 0/1, a masked step keeping both h and c.
/// Parameters: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), optionally bias_hh (4H), h0 and c0 (H),
/// each name ending in the constructor's suffix. The final state is exposed as <see cref="FinalH"/> and
/// <see cref="FinalC"/>, and its gradient is accepted by <see cref="Backward"/>.
/// </summary>
public sealed class Lstm<T> : RecurrentLayer<T>, IRecurrentLayer<T>, IRowLoops<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public LstmOptions Options { get; }

    /// <summary>(H), only with <see cref="InitialState.Learned"/>.</summary>
    public Parameter<T>? C0 { get; }

    /// <summary>
    /// Source of the dropout masks, drawn at each training Forward. Seeded from the constructor's generator;
    /// assign a fresh <c>new Rng(seed)</c> before a Forward to reproduce its masks exactly.
    /// </summary>
    public Rng DropoutRng { get; set; }
    /// <summary>When true, a training Forward reuses the dropout masks of the previous one instead of drawing (same batch size required).</summary>
    public bool ReuseDropoutMasks { get; set; }

    private readonly Tape<T> _tape = new();
    private Slot _xs, _m, _gates, _h, _c, _tc, _hd, _mx, _mh, _dbias, _carry, _dc, _dhd, _bias, _whhP, _wihP; // shapes in Forward
    private bool _hasMask, _dropX, _dropH, _masksDrawn, _kept; // _kept: the last Forward recorded the tape (Training)
    private bool _carryOut; // Backward: dh_{-1} is wanted (dh0 or a learned h0), so the last reverse step's dh product runs
    private bool _xStep; // the last Forward projected the input per step (see StepInputMinRows)

    // dGates rows 2 KB (a multiple of 512 floats) apart fall into few cache sets, so the weight-gradient GEMM would
    // have to pack dGatesᵀ; 16 floats of padding let it read dGatesᵀ in place.
    private int GatesStride => 4 * HiddenSize % 512 == 0 ? 4 * HiddenSize + 16 : 4 * HiddenSize;

    /// <summary>Creates the layer and initialises its parameters per <see cref="GatedRecurrentOptions.Init"/> from <paramref name="rng"/> (null: zeros, for loading).</summary>
    public Lstm(int inputSize, int hiddenSize, Rng? rng, LstmOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, 4, options ??= new LstmOptions(), suffix)
    {
        Options = options;
        RecurrentInit.CheckRate(Options.Dropout, nameof(LstmOptions.Dropout));
        RecurrentInit.CheckRate(Options.RecurrentDropout, nameof(LstmOptions.RecurrentDropout));
        if (Options.InitialState == InitialState.Learned) C0 = Add(new Parameter<T>("c0" + suffix, [hiddenSize]));
        if (rng != null) RecurrentInit.Weights(Options.Init, rng, 4, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh);
        if (Options.UnitForgetBias) BiasIh.Value.AsSpan(hiddenSize, hiddenSize).Fill(T.One);
        DropoutRng = new Rng(rng?.NextUInt64() ?? 0);
    }

    /// <inheritdoc/>
    void IRecurrentLayer<T>.Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Forward(y, x, mask, default, default, batch, seqLen);
    /// <inheritdoc/>
    void IRecurrentLayer<T>.Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, default, default, dy, default, default, batch, seqLen);

    /// <summary>h after the last scanned step of the last Forward, (batch, H). Owned by the layer; valid until the next Forward.</summary>
    public ReadOnlySpan<T> FinalH => _tape.Batch < 0 ? throw NoForward() : _tape.Step(_h, _tape.SeqLen);
    /// <summary>c after the last scanned step of the last Forward, (batch, H). Owned by the layer; valid until the next Forward.</summary>
    public ReadOnlySpan<T> FinalC => _tape.Batch < 0 ? throw NoForward() : _tape.Step(_c, _tape.SeqLen);

    /// <summary>
    /// Runs the layer over a batch and, while <see cref="Layer{T}.Training"/>, records the tape for <see cref="Backward"/>
    /// (inference keeps only what the next step needs).
    /// y: (batch, seq, H) or (batch, H), overwritten. x: (batch, seq, I). mask: (batch, seq) of 0/1, or empty.
    /// h0, c0: (batch, H) each when InitialState is Given, else empty.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, ReadOnlySpan<T> c0, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize, G = 4 * H;
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        if (x.Length != B * S * I) Guard.Length(x.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(x));
        Guard.Length(y.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})", nameof(y));
        Guard.Mask(mask, B, S);
        if (Options.InitialState == InitialState.Given)
        {
            if (h0.Length != B * H) Guard.Length(h0.Length, B * H, $"(batch={B}, H={H})", nameof(h0));
            if (c0.Length != B * H) Guard.Length(c0.Length, B * H, $"(batch={B}, H={H})", nameof(c0));
            Guard.Finite(h0); Guard.Finite(c0);
        }
        else if (!h0.IsEmpty || !c0.IsEmpty)
            throw new ArgumentException($"h0, c0: expected empty with InitialState.{Options.InitialState}, got {h0.Length} and {c0.Length} elements.", nameof(h0));
        Guard.Finite(x);

        if (_tape.Begin(B, S))
        {
            bool rd = Options.RecurrentDropout > 0;
            _xs = _tape.Add("xs", S, B * I);         // (S, B, I) input in scan order, after input dropout
            _m = _tape.Add("m", S, B);               // (S, B) mask in scan order
            // (S, B, 4H) rows GatesStride apart: pre-, then post-activation i, f, g, o; Backward writes each step's
            // dGates over that step's gates (only its own cell step reads them): a smaller tape, more of it in cache.
            _gates = _tape.Add("gates", S, B * GatesStride);
            _h = _tape.Add("h", S + 1, B * H);       // (S+1, B, H) h[0] = h_{-1}, h[s+1] = state after scan step s
            _c = _tape.Add("c", S + 1, B * H);       // (S+1, B, H) likewise for c
            _tc = _tape.Add("tc", S, B * H);         // (S, B, H) tanh(c) after step s
            _hd = _tape.Add("hd", rd ? S : 0, B * H); // (S, B, H) h[s] ⊙ recurrent-dropout mask: the GEMM's input
            _mx = _tape.Add("mx", 1, Options.Dropout > 0 ? B * I : 0); // (B, I) input dropout mask
            _mh = _tape.Add("mh", 1, rd ? B * H : 0);  // (B, H) recurrent dropout mask
            _dbias = _tape.Add("dbias", 1, B * G);   // (B, 4H) dGates summed over the steps, per row: the bias gradient
            _carry = _tape.Add("carry", 2, B * H);   // (2, B, H) dh flowing to the previous step
            _dc = _tape.Add("dc", 1, B * H);         // (B, H) dc flowing to the previous step
            _dhd = _tape.Add("dhd", 1, rd ? B * H : 0); // (B, H) gradient at hd of one step
            _bias = _tape.Add("bias", 1, G);         // (4H) summed biases
            // W_hh packed once per pass for the per-step GEMMs: W_hhᵀ (H, 4H) in Forward, W_hh (4H, H) in Backward.
            _whhP = _tape.Add("whhP", 1, Math.Max(Gemm.PackedBLength<T>(G, H), Gemm.PackedBLength<T>(H, G)));
            _wihP = _tape.Add("wihP", 1, Gemm.PackedBLength<T>(G, I)); // W_ihᵀ (I, 4H) packed, for the per-step input projection
            _tape.Commit();
            _masksDrawn = false;
        }
        _hasMask = !mask.IsEmpty;
        _kept = Training;
        TapeRecorded();
        _dropX = Training && Options.Dropout > 0;
        _dropH = Training && Options.RecurrentDropout > 0;
        DrawMasks();

        // Time-major, scan-ordered copies, so each step is contiguous and the input GEMM is one call.
        RecurrentInit.ToScanOrder<T>(_tape[_xs], x, _dropX ? _tape[_mx] : default, B, S, I, Options.Backwards);
        if (_hasMask) RecurrentInit.ToScanOrder<T>(_tape[_m], mask, default, B, S, 1, Options.Backwards);

        // Hoisted input projection: gates (S·B, 4H) = xs·W_ihᵀ; + h·W_hhᵀ per step, + bias in the cell.
        var bias = _tape[_bias];
        BiasIh.Value.CopyTo(bias);
        if (BiasHh != null) Vec.Add(bias, BiasHh.Value);
        // The cell adds the bias (no pass writing it into every step's gates first).
        _xStep = InputPerStep(B, G);
        if (_xStep) Gemm.PackB<T>(_tape[_wihP], WeightIh.Value, true, G, I);
        else Gemm.Multiply(_tape[_gates], _tape[_xs], WeightIh.Value, false, true, T.One, T.Zero, S * B, G, I, ldc: GatesStride);

        var hInit = _tape.Step(_h, 0);
        var cInit = _tape.Step(_c, 0);
        switch (Options.InitialState)
        {
            case InitialState.Given: h0.CopyTo(hInit); c0.CopyTo(cInit); break;
            case InitialState.Learned: Vec.BroadcastRows<T>(hInit, H0!.Value, B, H); Vec.BroadcastRows<T>(cInit, C0!.Value, B, H); break;
            default: hInit.Clear(); cInit.Clear(); break;
        }

        Gemm.PackB<T>(_tape[_whhP], WeightHh.Value, true, G, H, forOneRow: B == 1); // once per pass, not once per step
        RowLoops<T>.Forward(this, B, S);

        if (Options.ReturnSequences) RecurrentInit.FromScanOrder(y, _tape.Steps(_h, 1, S), B, S, H, Options.Backwards);
        else _tape.Step(_h, S).CopyTo(y);
    }

    /// <summary>The recurrence for batch rows [r0, r1): rows never interact, so row ranges run in parallel.</summary>
    void IRowLoops<T>.ForwardSteps(int r0, int r1, int seqLen)
    {
        int S = seqLen, H = HiddenSize, G = 4 * H, n = r1 - r0, gs = GatesStride;
        var mh = _dropH ? _tape[_mh].Slice(r0 * H, n * H) : default;
        var whhP = _tape[_whhP]; var wihP = _tape[_wihP];
        var bias = _tape[_bias];
        int I = InputSize;
        for (int s = 0; s < S; s++)
        {
            var hPrev = _tape.Step(_h, s).Slice(r0 * H, n * H);
            ReadOnlySpan<T> hin = hPrev;
            if (_dropH) { var hd = _tape.Step(_hd, s).Slice(r0 * H, n * H); RecurrentInit.Mul(hd, hPrev, mh); hin = hd; }
            var gates = _tape.Step(_gates, s).Slice(r0 * gs, n * gs);
            if (_xStep) Gemm.MultiplyPacked(gates, _tape.Step(_xs, s).Slice(r0 * I, n * I), wihP, false, T.One, T.Zero, n, G, I, ldc: gs);
            // A zero initial state adds nothing: the first step skips its product.
            if (s > 0 || Options.InitialState != InitialState.Zero) Gemm.MultiplyPacked(gates, hin, whhP, false, T.One, T.One, n, G, H, ldc: gs);
            // Inference keeps no per-step c or tanh(c) (only Backward reads them): c cycles through slots 1 and 2
            // (the last step still lands in slot S, for FinalC), tanh(c) reuses slot 0.
            var cPrev = _kept || s == 0 ? _tape.Step(_c, s) : _tape.Step(_c, 1 + ((s - 1) & 1));
            var cCur = _kept || s == S - 1 ? _tape.Step(_c, s + 1) : _tape.Step(_c, 1 + (s & 1));
            LstmCell.Forward(_tape.Step(_h, s + 1).Slice(r0 * H, n * H), cCur.Slice(r0 * H, n * H),
                _tape.Step(_tc, _kept ? s : 0).Slice(r0 * H, n * H), gates, hPrev, cPrev.Slice(r0 * H, n * H), bias,
                _hasMask ? _tape.Step(_m, s).Slice(r0, n) : default, n, H, gs);
        }
    }

    /// <summary>
    /// Backpropagates through time from the last recorded Forward. dy has y's shape. dhT, dcT: gradients at
    /// <see cref="FinalH"/> and <see cref="FinalC"/> (batch, H), or empty. Accumulates into every parameter
    /// gradient, into dx (batch, seq, I) if not empty, and into dh0, dc0 (batch, H) if not empty.
    /// </summary>
    public void Backward(Span<T> dx, Span<T> dh0, Span<T> dc0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, ReadOnlySpan<T> dcT, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize, G = 4 * H;
        if (!_kept)
            throw new InvalidOperationException("Backward: the last Forward ran with Training = false, which keeps no tape for the backward pass; run Forward with Training = true first.");
        if (_tape.Batch != B || _tape.SeqLen != S)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={_tape.SeqLen}), got (batch={B}, seq={S}).");
        Guard.Length(dy.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})", nameof(dy));
        if (!dx.IsEmpty && dx.Length != B * S * I) Guard.Length(dx.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(dx));
        CheckState(dh0.Length, B, H, nameof(dh0)); CheckState(dc0.Length, B, H, nameof(dc0));
        CheckState(dhT.Length, B, H, nameof(dhT)); CheckState(dcT.Length, B, H, nameof(dcT));

        int steps = Options.GradientSteps > 0 ? Math.Min(Options.GradientSteps, S) : S;
        int sStop = S - steps;
        ConsumeTape();
        var dh = _tape.Step(_carry, 0);
        var dc = _tape[_dc];
        dh.Clear(); dc.Clear();
        if (!dhT.IsEmpty) Vec.Add(dh, dhT);
        if (!dcT.IsEmpty) Vec.Add(dc, dcT);
        if (!Options.ReturnSequences) Vec.Add(dh, dy);
        Gemm.PackB<T>(_tape[_whhP], WeightHh.Value, false, H, G, forOneRow: B == 1); // W_hh (4H, H) as op(B) of dh = dGates·W_hh
        _tape[_dbias].Clear();
        _carryOut = sStop == 0 && (!dh0.IsEmpty || H0 != null);
        RowLoops<T>.Backward(this, B, S, steps, dy);
        dh = _tape.Step(_carry, steps & 1); // the carries swap once per step

        // Whatever reached (h_{-1}, c_{-1}) (never, under truncation).
        if (sStop == 0)
        {
            if (!dh0.IsEmpty) Vec.Add(dh0, dh);
            if (!dc0.IsEmpty) Vec.Add(dc0, dc);
            if (H0 != null) Vec.AddColumnSums<T>(H0.Grad, dh, B, H);
            if (C0 != null) Vec.AddColumnSums<T>(C0.Grad, dc, B, H);
        }

        // Hoisted weight gradients: one GEMM each over all kept steps.
        int rows = steps * B;
        var dgAll = _tape.Steps(_gates, sStop, steps); // dGates (steps·B, 4H), rows GatesStride apart
        var hinAll = _dropH ? _tape.Steps(_hd, sStop, steps) : _tape.Steps(_h, sStop, steps); // (steps·B, H)
        // dW_hh += dGᵀ·hin and dW_ih += dGᵀ·xs: one call, so dGᵀ is packed once for both.
        Gemm.MultiplyShared(WeightHh.Grad, hinAll, H, WeightIh.Grad, _tape.Steps(_xs, sStop, steps), I, dgAll, true, T.One, T.One, G, rows, GatesStride);
        // The cells summed dGates over the steps per row; the bias gradient is the sum of those rows.
        if (BiasHh != null) Vec.AddColumnSums<T>(BiasIh.Grad, BiasHh.Grad, _tape[_dbias], B, G);
        else Vec.AddColumnSums<T>(BiasIh.Grad, _tape[_dbias], B, G);

        if (dx.IsEmpty) return;
        // dx in scan order, written over xs: the weight gradients above were its last readers.
        Gemm.Multiply(_tape.Steps(_xs, sStop, steps), dgAll, WeightIh.Value, false, false, T.One, T.Zero, rows, I, G, GatesStride);
        RecurrentInit.AddFromScanOrder<T>(dx, _tape.Steps(_xs, sStop, steps), _dropX ? _tape[_mx] : default, B, S, steps, I, Options.Backwards);
    }

    private void DrawMasks()
    {
        if (!_dropX && !_dropH) return;
        if (ReuseDropoutMasks)
        {
            if (!_masksDrawn) throw new InvalidOperationException("ReuseDropoutMasks: no masks were drawn for this batch shape yet; run one training Forward without it first.");
            return;
        }
        if (Options.Dropout > 0) RecurrentInit.DropoutMask(_tape[_mx], Options.Dropout, DropoutRng);
        if (Options.RecurrentDropout > 0) RecurrentInit.DropoutMask(_tape[_mh], Options.RecurrentDropout, DropoutRng);
        _masksDrawn = true;
    }

    private static void CheckState(int length, int B, int H, string name)
    {
        if (length != 0 && length != B * H) Guard.Length(length, B * H, $"(batch={B}, H={H})", name);
    }

    private static InvalidOperationException NoForward() => new("FinalH/FinalC: no Forward has run yet.");

    /// <summary>The reverse time loop for batch rows [r0, r1), from the last step down to seq − steps.</summary>
    void IRowLoops<T>.BackwardSteps(int r0, int r1, int seqLen, int steps, ReadOnlySpan<T> dy)
    {
        int S = seqLen, H = HiddenSize, G = 4 * H, n = r1 - r0, ds = GatesStride;
        var dh = _tape.Step(_carry, 0).Slice(r0 * H, n * H);
        var next = _tape.Step(_carry, 1).Slice(r0 * H, n * H);
        var dc = _tape[_dc].Slice(r0 * H, n * H);
        var mh = _dropH ? _tape[_mh].Slice(r0 * H, n * H) : default;
        var dhd = _dropH ? _tape[_dhd].Slice(r0 * H, n * H) : default;
        var dbias = _tape[_dbias].Slice(r0 * G, n * G);
        var whhP = _tape[_whhP];
        for (int s = S - 1; s >= S - steps; s--)
        {
            if (Options.ReturnSequences)
            {
                int t = Options.Backwards ? S - 1 - s : s;
                Vec.AddRows(dh, dy[((r0 * S + t) * H)..], n, H, S * H);
            }
            var dg = _tape.Step(_gates, s).Slice(r0 * ds, n * ds); // the step's gates in, its dGates out
            // dGates and dc_{t-1}; next = dh on masked rows (state passed through), else 0.
            LstmCell.Backward(dg, next, dc, dbias, dh, dg, _tape.Step(_c, s).Slice(r0 * H, n * H),
                _tape.Step(_tc, s).Slice(r0 * H, n * H), _hasMask ? _tape.Step(_m, s).Slice(r0, n) : default, n, H, ds);
            // dh_{t-1} += dGates·W_hh (through the dropout mask when it was applied).
            bool carries = s > S - steps || _carryOut; // the last step's dh_{t-1} only matters when someone reads it
            if (carries && _dropH)
            {
                Gemm.MultiplyPacked(dhd, dg, whhP, false, T.One, T.Zero, n, H, G, ds);
                RecurrentInit.AddMul(next, dhd, mh);
            }
            else if (carries) Gemm.MultiplyPacked(next, dg, whhP, false, T.One, T.One, n, H, G, ds);
            var tmp = dh; dh = next; next = tmp;
        }
    }
    /// <summary>State elements per row for <see cref="Step"/>: h and c, 2H.</summary>
    public int StateSize => 2 * HiddenSize;
    /// <summary>Scratch elements per row for <see cref="Step"/>: gates (4H) and tanh(c) (H).</summary>
    public int StepScratchSize => 5 * HiddenSize;

    /// <summary>Writes a fresh streaming state (batch, 2H) = [h (batch, H) | c (batch, H)]: zeros, or the learned h0, c0.</summary>
    public void InitState(Span<T> state, int batch)
    {
        int H = HiddenSize;
        Guard.Length(state.Length, batch * 2 * H, $"(batch={batch}, 2H={2 * H})");
        if (H0 != null) { Vec.BroadcastRows<T>(state[..(batch * H)], H0.Value, batch, H); Vec.BroadcastRows<T>(state[(batch * H)..], C0!.Value, batch, H); }
        else state.Clear();
    }

    /// <summary>
    /// One inference step for streaming callers, reading only the weights (thread-safe, allocation-free; dropout off):
    /// state [h | c] (batch, 2H) in and out, x (batch, I), scratch (batch·<see cref="StepScratchSize"/>).
    /// Same cell kernel as Forward.
    /// </summary>
    public void Step(Span<T> state, ReadOnlySpan<T> x, Span<T> scratch, int batch)
    {
        int H = HiddenSize, G = 4 * H;
        Guard.Length(state.Length, batch * 2 * H, $"(batch={batch}, 2H={2 * H})");
        Guard.Length(x.Length, batch * InputSize, $"(batch={batch}, features={InputSize})");
        Guard.Length(scratch.Length, batch * StepScratchSize, $"(batch={batch}, {StepScratchSize})");
        var gates = scratch[..(batch * G)];              // (B, 4H)
        var tc = scratch.Slice(batch * G, batch * H);     // (B, H)
        var h = state[..(batch * H)]; var c = state[(batch * H)..];
        for (int b = 0; b < batch; b++)
        {
            var row = gates.Slice(b * G, G);
            BiasIh.Value.CopyTo(row);
            if (BiasHh != null) Vec.Add(row, BiasHh.Value);
        }
        Gemm.Multiply(gates, x, WeightIh.Value, false, true, T.One, T.One, batch, G, InputSize);
        Gemm.Multiply(gates, h, WeightHh.Value, false, true, T.One, T.One, batch, G, H);
        LstmCell.Forward(h, c, tc, gates, h, c, default, default, batch, H); // the bias is in gates already
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
