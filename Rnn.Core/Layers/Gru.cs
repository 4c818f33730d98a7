using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Options of <see cref="Gru{T}"/>; the defaults are Keras 3's GRU layer (reset_after, two biases). TwoBiases is
/// required by ResetAfter, where b_hn sits inside r⊙(·); set it false with ResetAfter = false for Keras 2's single bias.
/// </summary>
public sealed record GruOptions : GatedRecurrentOptions
{
    /// <summary>Keras 3's defaults: reset-after with two biases.</summary>
    public GruOptions() => TwoBiases = true;

    /// <summary>
    /// true (PyTorch, cuDNN, Keras 3, ONNX linear_before_reset=1): n = tanh(W_in·x + b_in + r⊙(W_hn·h + b_hn)).
    /// false (Keras 2, ONNX default): n = tanh(W_in·x + b_in + W_hn·(r⊙h) + b_hn).
    /// </summary>
    public bool ResetAfter { get; init; } = true;
}

/// <summary>
/// Gated recurrent unit with PyTorch's gate order r, z, n: r = σ(·), z = σ(·), n = tanh(·) (see
/// <see cref="GruOptions.ResetAfter"/>), h' = (1−z)⊙n + z⊙h. Input x is (batch, seq, I), batch-major; mask
/// (batch, seq) of 0/1, a masked step keeping h. Parameters: weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H),
/// bias_hh (3H) unless TwoBiases is off, h0 (H) when learned; each name ends in the constructor's suffix.
/// </summary>
public sealed class Gru<T> : RecurrentLayer<T>, IRecurrentLayer<T>, IRowLoops<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public GruOptions Options { get; }


    /// <summary>
    /// Source of the dropout masks, drawn at each training Forward. Seeded from the constructor's generator;
    /// assign a fresh <c>new Rng(seed)</c> before a Forward to reproduce its masks exactly.
    /// </summary>
    public Rng DropoutRng { get; set; }
    /// <summary>When true, a training Forward reuses the dropout masks of the previous one instead of drawing (same batch size required).</summary>
    public bool ReuseDropoutMasks { get; set; }

    private readonly Tape<T> _tape = new();
    private Slot _xs, _m, _gx, _gh, _ghrz, _ghn, _rh, _h, _hd, _mx, _mh, _dgx, _dbias, _dgrz, _dgn, _drh, _carry, _dhd, _bias, _whhP, _whnP, _wihP;
    private bool _hasMask, _dropX, _dropH, _masksDrawn, _kept; // _kept: the last Forward recorded the tape (Training)
    private bool _carryOut; // Backward: dh_{-1} is wanted (dh0 or a learned h0), so the last reverse step's dh products run
    private bool _xStep; // the last Forward projected the input per step (see StepInputMinRows)

    /// <summary>Creates the layer and initialises its parameters per <see cref="GatedRecurrentOptions.Init"/> from <paramref name="rng"/> (null: zeros, for loading).</summary>
    public Gru(int inputSize, int hiddenSize, Rng? rng, GruOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, 3, options ??= new GruOptions(), suffix)
    {
        Options = options;
        if (Options.ResetAfter && !Options.TwoBiases)
            throw new ArgumentException("options.TwoBiases: expected true with ResetAfter (b_hn is multiplied by r, so it cannot merge into b_ih), got false.", nameof(options));
        RecurrentInit.CheckRate(Options.Dropout, nameof(GruOptions.Dropout));
        RecurrentInit.CheckRate(Options.RecurrentDropout, nameof(GruOptions.RecurrentDropout));
        if (rng != null) RecurrentInit.Weights(Options.Init, rng, 3, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh);
        DropoutRng = new Rng(rng?.NextUInt64() ?? 0);
    }

    /// <inheritdoc/>
    void IRecurrentLayer<T>.Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Forward(y, x, mask, default, batch, seqLen);
    /// <inheritdoc/>
    void IRecurrentLayer<T>.Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, default, dy, default, batch, seqLen);

    /// <summary>h after the last scanned step of the last Forward, (batch, H). Owned by the layer; valid until the next Forward.</summary>
    public ReadOnlySpan<T> FinalH => _tape.Batch < 0 ? throw new InvalidOperationException("FinalH: no Forward has run yet.") : _tape.Step(_h, _tape.SeqLen);

    /// <summary>
    /// Runs the layer over a batch and, while <see cref="Layer{T}.Training"/>, records the tape for <see cref="Backward"/>
    /// (inference keeps only what the next step needs).
    /// y: (batch, seq, H) or (batch, H), overwritten. x: (batch, seq, I). mask: (batch, seq) of 0/1, or empty.
    /// h0: (batch, H) when InitialState is Given, else empty.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize, G = 3 * H;
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        if (x.Length != B * S * I) Guard.Length(x.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(x));
        Guard.Length(y.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})", nameof(y));
        Guard.Mask(mask, B, S);
        if (Options.InitialState == InitialState.Given)
        {
            if (h0.Length != B * H) Guard.Length(h0.Length, B * H, $"(batch={B}, H={H})", nameof(h0));
            Guard.Finite(h0);
        }
        else if (!h0.IsEmpty) throw new ArgumentException($"h0: expected empty with InitialState.{Options.InitialState}, got {h0.Length} elements.", nameof(h0));
        Guard.Finite(x);

        bool after = Options.ResetAfter;
        if (_tape.Begin(B, S))
        {
            bool rd = Options.RecurrentDropout > 0;
            _xs = _tape.Add("xs", S, B * I);                  // (S, B, I) input in scan order, after input dropout
            _m = _tape.Add("m", S, B);                        // (S, B) mask in scan order
            _gx = _tape.Add("gx", S, B * G);                  // (S, B, 3H) x side pre-activations, then r, z, n
            _gh = _tape.Add("gh", after ? S : 0, B * G);      // (S, B, 3H) after: h·W_hhᵀ; n block + b_hn kept
            _ghrz = _tape.Add("ghrz", after ? 0 : 1, 2 * B * H); // (B, 2H) before: h·W_hh[r,z]ᵀ of one step
            _ghn = _tape.Add("ghn", after ? 0 : 1, B * H);    // (B, H) before: (r⊙h)·W_hnᵀ of one step
            _rh = _tape.Add("rh", after ? 0 : S, B * H);      // (S, B, H) before: r⊙hin
            _h = _tape.Add("h", S + 1, B * H);                // (S+1, B, H) h[0] = h_{-1}, h[s+1] = state after scan step s
            _hd = _tape.Add("hd", rd ? S : 0, B * H);         // (S, B, H) h[s] ⊙ recurrent-dropout mask: the GEMMs' input
            _mx = _tape.Add("mx", 1, Options.Dropout > 0 ? B * I : 0); // (B, I) input dropout mask
            _mh = _tape.Add("mh", 1, rd ? B * H : 0);         // (B, H) recurrent dropout mask
            // Reset-after writes each step's gradients over that step's gx and gh, which only its own cell step reads
            // (a tape 2·S·B·3H smaller, so more of it stays in cache); before reset dgx has a slot of its own.
            _dgx = _tape.Add("dgx", after ? 0 : S, B * G);    // (S, B, 3H) before: gradient at the x-side pre-activations
            _dbias = _tape.Add("dbias", after ? 1 : 0, 4 * (B + 1) * H); // (B+1, 4H) after: [dr, dz, dn, dn⊙r] summed over the steps per row; their sum
            _dgrz = _tape.Add("dgrz", after ? 0 : S, 2 * B * H); // (S, B, 2H) before: [dr, dz] compact
            _dgn = _tape.Add("dgn", after ? 0 : S, B * H);    // (S, B, H) before: gradient at (r⊙h)·W_hnᵀ
            _drh = _tape.Add("drh", after ? 0 : 1, B * H);    // (B, H) before: gradient at r⊙hin of one step
            _carry = _tape.Add("carry", 2, B * H);            // (2, B, H) dh flowing to the previous step
            _dhd = _tape.Add("dhd", rd ? 1 : 0, B * H);       // (B, H) gradient at hd of one step
            _bias = _tape.Add("bias", 1, G);                  // (3H) biases summed into the x side
            // W_hh packed once per pass for the per-step GEMMs. After: W_hhᵀ (H, 3H) forward, W_hh (3H, H) backward.
            // Before: the r, z rows (2H, H) in whhP and the n rows (H, H) in whnP, transposed forward, as stored backward.
            int gh = after ? G : 2 * H;
            _whhP = _tape.Add("whhP", 1, Math.Max(Gemm.PackedBLength<T>(gh, H), Gemm.PackedBLength<T>(H, gh)));
            _whnP = _tape.Add("whnP", 1, after ? 0 : Gemm.PackedBLength<T>(H, H));
            _wihP = _tape.Add("wihP", 1, Gemm.PackedBLength<T>(G, I)); // W_ihᵀ (I, 3H) packed, for the per-step input projection
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

        // Hoisted input projection: gx (S·B, 3H) = bias + xs·W_ihᵀ. The bias holds b_ih plus every part of
        // b_hh that is purely additive: all of it before reset, the r and z blocks after (b_hn goes to the kernel).
        var bias = _tape[_bias];
        BiasIh.Value.CopyTo(bias);
        if (BiasHh != null) Vec.Add(after ? bias[..(2 * H)] : bias, after ? BiasHh.Value.AsSpan(0, 2 * H) : BiasHh.Value);
        // The bias is added to each step's rows inside the time loop, where they are about to be read, instead of a
        // pass writing it over all steps first (for I ≤ 512, one k block, the same bits as the GEMM onto the bias).
        _xStep = InputPerStep(B, G);
        if (_xStep) Gemm.PackB<T>(_tape[_wihP], WeightIh.Value, true, G, I);
        else Gemm.Multiply(_tape[_gx], _tape[_xs], WeightIh.Value, false, true, T.One, T.Zero, S * B, G, I);

        var hInit = _tape.Step(_h, 0);
        switch (Options.InitialState)
        {
            case InitialState.Given: h0.CopyTo(hInit); break;
            case InitialState.Learned: Vec.BroadcastRows<T>(hInit, H0!.Value, B, H); break;
            default: hInit.Clear(); break;
        }

        var whh = WeightHh.Value.AsSpan();
        var whhP = _tape[_whhP]; var whnP = _tape[_whnP];

        // Packed once per pass, not once per step.
        if (after) Gemm.PackB<T>(whhP, whh, true, G, H, forOneRow: B == 1);
        else { Gemm.PackB<T>(whhP, whh[..(2 * H * H)], true, 2 * H, H, forOneRow: B == 1); Gemm.PackB<T>(whnP, whh[(2 * H * H)..], true, H, H, forOneRow: B == 1); }
        RowLoops<T>.Forward(this, B, S);

        if (Options.ReturnSequences) RecurrentInit.FromScanOrder(y, _tape.Steps(_h, 1, S), B, S, H, Options.Backwards);
        else _tape.Step(_h, S).CopyTo(y);
    }

    /// <summary>The recurrence for batch rows [r0, r1): rows never interact, so row ranges run in parallel.</summary>
    void IRowLoops<T>.ForwardSteps(int r0, int r1, int seqLen)
    {
        int S = seqLen, H = HiddenSize, G = 3 * H, n = r1 - r0;
        bool after = Options.ResetAfter;
        var mh = _dropH ? _tape[_mh].Slice(r0 * H, n * H) : default;
        var bias = _tape[_bias];
        var bhn = BiasHh != null ? BiasHh.Value.AsSpan(2 * H, H) : default;
        var whhP = _tape[_whhP]; var whnP = _tape[_whnP]; var wihP = _tape[_wihP];
        int I = InputSize;
        for (int s = 0; s < S; s++)
        {
            var hPrev = _tape.Step(_h, s).Slice(r0 * H, n * H);
            var hNew = _tape.Step(_h, s + 1).Slice(r0 * H, n * H);
            ReadOnlySpan<T> hin = hPrev;
            if (_dropH) { var hd = _tape.Step(_hd, s).Slice(r0 * H, n * H); RecurrentInit.Mul(hd, hPrev, mh); hin = hd; }
            var gx = _tape.Step(_gx, s).Slice(r0 * G, n * G);
            if (_xStep) Gemm.MultiplyPacked(gx, _tape.Step(_xs, s).Slice(r0 * I, n * I), wihP, false, T.One, T.Zero, n, G, I);
            var ms = _hasMask ? _tape.Step(_m, s).Slice(r0, n) : default;
            // A zero initial state: the first step's products are zeros (the same +0 bits), so they are cleared instead.
            bool zero = s == 0 && Options.InitialState == InitialState.Zero;
            if (after)
            {
                var gh = _tape.Step(_gh, _kept ? s : 0).Slice(r0 * G, n * G); // inference: one step's worth, Backward alone reads the rest
                if (zero) gh.Clear();
                else Gemm.MultiplyPacked(gh, hin, whhP, false, T.One, T.Zero, n, G, H);
                GruCell.Forward(hNew, gx, gh, hPrev, bhn, bias, ms, n, H); // the cell adds the x-side biases
            }
            else
            {
                Vec.AddToRows<T>(gx, bias, n, G);
                var ghrz = _tape[_ghrz].Slice(r0 * 2 * H, n * 2 * H); var ghn = _tape[_ghn].Slice(r0 * H, n * H);
                var rh = _tape.Step(_rh, _kept ? s : 0).Slice(r0 * H, n * H);
                if (zero) ghrz.Clear();
                else Gemm.MultiplyPacked(ghrz, hin, whhP, false, T.One, T.Zero, n, 2 * H, H);
                GruCell.ForwardGates(rh, gx, ghrz, hin, n, H);
                if (zero) ghn.Clear();
                else Gemm.MultiplyPacked(ghn, rh, whnP, false, T.One, T.Zero, n, H, H);
                GruCell.ForwardCandidate(hNew, gx, ghn, hPrev, ms, n, H);
            }
        }
    }

    /// <summary>The reverse time loop for batch rows [r0, r1), from the last step down to seq − steps.</summary>
    void IRowLoops<T>.BackwardSteps(int r0, int r1, int seqLen, int steps, ReadOnlySpan<T> dy)
    {
        int S = seqLen, H = HiddenSize, G = 3 * H, n = r1 - r0;
        bool after = Options.ResetAfter;
        var dh = _tape.Step(_carry, 0).Slice(r0 * H, n * H);
        var next = _tape.Step(_carry, 1).Slice(r0 * H, n * H);
        var mh = _dropH ? _tape[_mh].Slice(r0 * H, n * H) : default;
        var dhd = _dropH ? _tape[_dhd].Slice(r0 * H, n * H) : default;
        var whhP = _tape[_whhP]; var whnP = _tape[_whnP];
        var dbias = after ? _tape[_dbias].Slice(r0 * 4 * H, n * 4 * H) : default;
        for (int s = S - 1; s >= S - steps; s--)
        {
            if (Options.ReturnSequences)
            {
                int t = Options.Backwards ? S - 1 - s : s;
                Vec.AddRows(dh, dy[((r0 * S + t) * H)..], n, H, S * H);
            }
            var hPrev = _tape.Step(_h, s).Slice(r0 * H, n * H);
            var gx = _tape.Step(_gx, s).Slice(r0 * G, n * G);
            var dgx = _tape.Step(after ? _gx : _dgx, s).Slice(r0 * G, n * G); // after: over gx (read first, element by element)
            var ms = _hasMask ? _tape.Step(_m, s).Slice(r0, n) : default;
            // next = dh⊙z (dh on masked rows); the GEMM terms below add the gradient through hin.
            // Without recurrent dropout hin is h_{t-1} itself, so they accumulate straight into next.
            if (_dropH) dhd.Clear();
            var dhin = _dropH ? dhd : next;
            bool carries = s > S - steps || _carryOut; // the last step's products into dh_{t-1} only matter when it is read
            if (after)
            {
                var dgh = _tape.Step(_gh, s).Slice(r0 * G, n * G); // over gh, whose n block the cell reads first
                GruCell.Backward(dgx, dgh, next, dbias, dh, gx, dgh, hPrev, ms, n, H);
                if (carries) Gemm.MultiplyPacked(dhin, dgh, whhP, false, T.One, T.One, n, H, G);
            }
            else
            {
                var dgn = _tape.Step(_dgn, s).Slice(r0 * H, n * H); var dgrz = _tape.Step(_dgrz, s).Slice(r0 * 2 * H, n * 2 * H);
                var drh = _tape[_drh].Slice(r0 * H, n * H);
                ReadOnlySpan<T> hin = _dropH ? _tape.Step(_hd, s).Slice(r0 * H, n * H) : hPrev;
                GruCell.BackwardCandidate(dgx, dgn, next, dh, gx, hPrev, ms, n, H);
                Gemm.MultiplyPacked(drh, dgn, whnP, false, T.One, T.Zero, n, H, H);
                GruCell.BackwardReset(dgx, dgrz, dhin, drh, gx, hin, n, H);
                if (carries) Gemm.MultiplyPacked(dhin, dgrz, whhP, false, T.One, T.One, n, H, 2 * H);
            }
            if (_dropH) RecurrentInit.AddMul(next, dhd, mh);
            var tmp = dh; dh = next; next = tmp;
        }
    }

    /// <summary>
    /// Backpropagates through time from the last recorded Forward. dy has y's shape; dhT: gradient at
    /// <see cref="FinalH"/> (batch, H), or empty. Accumulates into every parameter gradient, into dx
    /// (batch, seq, I) if not empty, and into dh0 (batch, H) if not empty.
    /// </summary>
    public void Backward(Span<T> dx, Span<T> dh0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize, G = 3 * H;
        if (!_kept)
            throw new InvalidOperationException("Backward: the last Forward ran with Training = false, which keeps no tape for the backward pass; run Forward with Training = true first.");
        if (_tape.Batch != B || _tape.SeqLen != S)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={_tape.SeqLen}), got (batch={B}, seq={S}).");
        Guard.Length(dy.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})", nameof(dy));
        if (!dx.IsEmpty && dx.Length != B * S * I) Guard.Length(dx.Length, B * S * I, $"(batch={B}, seq={S}, features={I})", nameof(dx));
        if (!dh0.IsEmpty && dh0.Length != B * H) Guard.Length(dh0.Length, B * H, $"(batch={B}, H={H})", nameof(dh0));
        if (!dhT.IsEmpty && dhT.Length != B * H) Guard.Length(dhT.Length, B * H, $"(batch={B}, H={H})", nameof(dhT));

        bool after = Options.ResetAfter;
        ConsumeTape();
        int steps = Options.GradientSteps > 0 ? Math.Min(Options.GradientSteps, S) : S;
        int sStop = S - steps;
        var dh = _tape.Step(_carry, 0);
        dh.Clear();
        if (!dhT.IsEmpty) Vec.Add(dh, dhT);
        if (!Options.ReturnSequences) Vec.Add(dh, dy);
        var whh = WeightHh.Value.AsSpan();
        var whhP = _tape[_whhP]; var whnP = _tape[_whnP];
        if (after) Gemm.PackB<T>(whhP, whh, false, H, G, forOneRow: B == 1);
        else { Gemm.PackB<T>(whhP, whh[..(2 * H * H)], false, H, 2 * H, forOneRow: B == 1); Gemm.PackB<T>(whnP, whh[(2 * H * H)..], false, H, H, forOneRow: B == 1); }
        if (after) _tape[_dbias].Clear();
        _carryOut = sStop == 0 && (!dh0.IsEmpty || H0 != null);
        RowLoops<T>.Backward(this, B, S, steps, dy);
        dh = _tape.Step(_carry, steps & 1); // the carries swap once per step

        if (sStop == 0)
        {
            if (!dh0.IsEmpty) Vec.Add(dh0, dh);
            if (H0 != null) Vec.AddColumnSums<T>(H0.Grad, dh, B, H);
        }

        // Hoisted weight gradients over all kept steps.
        int rows = steps * B;
        var dgxAll = _tape.Steps(after ? _gx : _dgx, sStop, steps); // (steps·B, 3H)
        var hinAll = _dropH ? _tape.Steps(_hd, sStop, steps) : _tape.Steps(_h, sStop, steps); // (steps·B, H)
        var dWhh = WeightHh.Grad.AsSpan();
        if (after)
        {
            var dghAll = _tape.Steps(_gh, sStop, steps);
            Gemm.Multiply(dWhh, dghAll, hinAll, true, false, T.One, T.One, G, H, rows);
            // The cells summed [dr, dz, dn, dn⊙r] over the steps per row: b_ih gets the first 3H, b_hh [dr, dz, dn⊙r].
            var dbias = _tape[_dbias];
            var sums = dbias.Slice(4 * B * H, 4 * H);
            sums.Clear();
            Vec.AddColumnSums<T>(sums, dbias[..(4 * B * H)], B, 4 * H);
            Vec.Add(BiasIh.Grad.AsSpan(), sums[..G]);
            Vec.Add(BiasHh!.Grad.AsSpan(0, 2 * H), sums[..(2 * H)]);
            Vec.Add(BiasHh.Grad.AsSpan(2 * H, H), sums[(3 * H)..]);
        }
        else
        {
            // The r, z rows of W_hh see hin; the n rows see r⊙hin.
            Gemm.Multiply(dWhh[..(2 * H * H)], _tape.Steps(_dgrz, sStop, steps), hinAll, true, false, T.One, T.One, 2 * H, H, rows);
            Gemm.Multiply(dWhh[(2 * H * H)..], _tape.Steps(_dgn, sStop, steps), _tape.Steps(_rh, sStop, steps), true, false, T.One, T.One, H, H, rows);
            if (BiasHh != null) Vec.AddColumnSums<T>(BiasHh.Grad, dgxAll, rows, G);
        }
        Gemm.Multiply(WeightIh.Grad, dgxAll, _tape.Steps(_xs, sStop, steps), true, false, T.One, T.One, G, I, rows);
        if (!after) Vec.AddColumnSums<T>(BiasIh.Grad, dgxAll, rows, G);

        if (dx.IsEmpty) return;
        // dx in scan order, written over xs: the weight gradients above were its last readers.
        Gemm.Multiply(_tape.Steps(_xs, sStop, steps), dgxAll, WeightIh.Value, false, false, T.One, T.Zero, rows, I, G);
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

    /// <summary>State elements per row for <see cref="Step"/>: h, H.</summary>
    public int StateSize => HiddenSize;
    /// <summary>Scratch elements per row for <see cref="Step"/>: 6H (reset-after) or 7H (reset-before).</summary>
    public int StepScratchSize => Options.ResetAfter ? 6 * HiddenSize : 7 * HiddenSize;

    /// <summary>Writes a fresh streaming state (batch, H): zeros, or the learned h0.</summary>
    public void InitState(Span<T> state, int batch)
    {
        Guard.Length(state.Length, batch * HiddenSize, $"(batch={batch}, H={HiddenSize})");
        if (H0 != null) Vec.BroadcastRows<T>(state, H0.Value, batch, HiddenSize);
        else state.Clear();
    }

    /// <summary>
    /// One inference step for streaming callers, reading only the weights (thread-safe, allocation-free; dropout off):
    /// state h (batch, H) in and out, x (batch, I), scratch (batch·<see cref="StepScratchSize"/>). Same cell kernels as Forward.
    /// </summary>
    public void Step(Span<T> state, ReadOnlySpan<T> x, Span<T> scratch, int batch)
    {
        int H = HiddenSize, G = 3 * H;
        Guard.Length(state.Length, batch * H, $"(batch={batch}, H={H})");
        Guard.Length(x.Length, batch * InputSize, $"(batch={batch}, features={InputSize})");
        Guard.Length(scratch.Length, batch * StepScratchSize, $"(batch={batch}, {StepScratchSize})");
        bool after = Options.ResetAfter;
        var gx = scratch[..(batch * G)]; // (B, 3H)
        for (int b = 0; b < batch; b++)
        {
            var row = gx.Slice(b * G, G);
            BiasIh.Value.CopyTo(row);
            if (BiasHh != null) Vec.Add(after ? row[..(2 * H)] : row, after ? BiasHh.Value.AsSpan(0, 2 * H) : BiasHh.Value);
        }
        Gemm.Multiply(gx, x, WeightIh.Value, false, true, T.One, T.One, batch, G, InputSize);
        var whh = WeightHh.Value.AsSpan();
        if (after)
        {
            var gh = scratch.Slice(batch * G, batch * G); // (B, 3H)
            Gemm.Multiply(gh, state, whh, false, true, T.One, T.Zero, batch, G, H);
            GruCell.Forward(state, gx, gh, state, BiasHh != null ? BiasHh.Value.AsSpan(2 * H, H) : default, default, default, batch, H);
        }
        else
        {
            var ghrz = scratch.Slice(batch * G, batch * 2 * H);          // (B, 2H)
            var ghn = scratch.Slice(batch * 5 * H, batch * H);           // (B, H)
            var rh = scratch.Slice(batch * 6 * H, batch * H);            // (B, H)
            Gemm.Multiply(ghrz, state, whh[..(2 * H * H)], false, true, T.One, T.Zero, batch, 2 * H, H);
            GruCell.ForwardGates(rh, gx, ghrz, state, batch, H);
            Gemm.Multiply(ghn, rh, whh[(2 * H * H)..], false, true, T.One, T.Zero, batch, H, H);
            GruCell.ForwardCandidate(state, gx, ghn, state, default, batch, H);
        }
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
