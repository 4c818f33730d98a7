using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;

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
/// The scan is <see cref="RecurrentScan{T, TCell}"/>; this file is the cell.
/// </summary>
public sealed class Gru<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public GruOptions Options { get; }

    private readonly RecurrentScan<T, Cell> _scan;
    private protected override IScan<T> Scan => _scan;
    internal override double DropoutRate => Options.Dropout;
    internal override double RecurrentDropoutRate => Options.RecurrentDropout;
    /// <inheritdoc/>
    public override int StateCount => 1;

    /// <summary>Creates the layer and initialises its parameters per <see cref="GatedRecurrentOptions.Init"/> from <paramref name="rng"/> (null: zeros, for loading).</summary>
    public Gru(int inputSize, int hiddenSize, Rng? rng, GruOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, hiddenSize, 3, options ??= new GruOptions(), suffix)
    {
        Options = options;
        if (Options.ResetAfter && !Options.TwoBiases)
            throw new ArgumentException("options.TwoBiases: expected true with ResetAfter (b_hn is multiplied by r, so it cannot merge into b_ih), got false.", nameof(options));
        if (!RecurrentInit.IsRate(Options.Dropout)) throw new ArgumentException(RecurrentInit.RateError(Options.Dropout, nameof(GruOptions.Dropout)), nameof(options));
        if (!RecurrentInit.IsRate(Options.RecurrentDropout)) throw new ArgumentException(RecurrentInit.RateError(Options.RecurrentDropout, nameof(GruOptions.RecurrentDropout)), nameof(options));
        if (rng != null) RecurrentInit.Weights(Options.Init, rng, 3, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh);
        DropoutRng = new Rng(rng?.NextUInt64() ?? 0);
        _scan = new RecurrentScan<T, Cell>(this, new Cell(this));
    }

    /// <summary>Forward for a GRU: as the base, with no c0 (kept for callers of the GRU-specific form).</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, int batch, int seqLen)
        => Forward(y, x, mask, h0, default, batch, seqLen);
    /// <summary>Backward for a GRU: dhT (batch, H) or empty in, dh0 out.</summary>
    public void Backward(Span<T> dx, Span<T> dh0, ReadOnlySpan<T> dy, ReadOnlySpan<T> dhT, int batch, int seqLen)
        => Backward(dx, dh0, default, dy, dhT, default, batch, seqLen);

    /// <summary>The GRU cell, reset after (one product per step) or before (two: the r, z rows, then the n rows on r⊙h).</summary>
    internal readonly struct Cell(Gru<T> l) : IRecurrentCell<T>
    {
        // cell slots; shapes in Layout
        private const int Gx = 0, Gh = 1, Ghrz = 2, Ghn = 3, Rh = 4, Dgx = 5, DBias = 6, Dgrz = 7, Dgn = 8, Drh = 9, WhnP = 10;
        private bool After => l.Options.ResetAfter;

        public int GateRows => 3 * l.CellSize;
        public bool HasCell => false;
        public bool ProjectsPerStep => true;

        public void Layout(ScanArena<T> a, int B, int S, bool rd)
        {
            int H = l.CellSize, G = GateRows;
            bool after = After;
            var t = a.Tape;
            a.Cell[Gx] = t.Add("gx", S, B * G);                       // (S, B, 3H) x side pre-activations, then r, z, n
            a.Cell[Gh] = t.Add("gh", after ? S : 0, B * G);           // (S, B, 3H) after: h·W_hhᵀ; n block + b_hn kept
            a.Cell[Ghrz] = t.Add("ghrz", after ? 0 : 1, 2 * B * H);   // (B, 2H) before: h·W_hh[r,z]ᵀ of one step
            a.Cell[Ghn] = t.Add("ghn", after ? 0 : 1, B * H);         // (B, H) before: (r⊙h)·W_hnᵀ of one step
            a.Cell[Rh] = t.Add("rh", after ? 0 : S, B * H);           // (S, B, H) before: r⊙hin
            // Reset-after writes each step's gradients over that step's gx and gh, which only its own cell step reads
            // (a tape 2·S·B·3H smaller, so more of it stays in cache); before reset dgx has a slot of its own.
            a.Cell[Dgx] = t.Add("dgx", after ? 0 : S, B * G);         // (S, B, 3H) before: gradient at the x-side pre-activations
            a.Cell[DBias] = t.Add("dbias", after ? 1 : 0, 4 * (B + 1) * H); // (B+1, 4H) after: [dr, dz, dn, dn⊙r] summed over the steps per row; their sum
            a.Cell[Dgrz] = t.Add("dgrz", after ? 0 : S, 2 * B * H);   // (S, B, 2H) before: [dr, dz] compact
            a.Cell[Dgn] = t.Add("dgn", after ? 0 : S, B * H);            // (S, B, H) before: gradient at (r⊙h)·W_hnᵀ
            a.Cell[Drh] = t.Add("drh", after ? 0 : 1, B * H);            // (B, H) before: gradient at r⊙hin of one step
            // W_hh packed once per pass for the per-step GEMMs. After: W_hhᵀ (H, 3H) forward, W_hh (3H, H) backward.
            // Before: the r, z rows (2H, H) in whhP and the n rows (H, H) in whnP, transposed forward, as stored backward.
            int gh = after ? G : 2 * H;
            a.WhhP = t.Add("whhP", 1, Math.Max(Gemm.PackedBLength<T>(gh, H), Gemm.PackedBLength<T>(H, gh)));
            a.Cell[WhnP] = t.Add("whnP", 1, after ? 0 : Gemm.PackedBLength<T>(H, H));
        }

        public void InputTarget(ScanArena<T> a, out Tape.Slot slot, out int firstStep, out int ld) { slot = a.Cell[Gx]; firstStep = 0; ld = 0; }
        public void InputGradient(ScanArena<T> a, out Tape.Slot slot, out int ld) { slot = a.Cell[After ? Gx : Dgx]; ld = 0; }

        public void PrepareForward(ScanArena<T> a, int B, bool packWhh = true)
        {
            int H = l.CellSize, G = GateRows;
            bool after = After;
            // The bias holds b_ih plus every part of b_hh that is purely additive: all of it before reset, the r and z
            // blocks after (b_hn goes to the kernel). It is added to each step's rows inside the time loop, where they
            // are about to be read (for I ≤ 512, one k block, the same bits as the GEMM onto the bias).
            var bias = a[a.Bias];
            l.BiasIh.Value.CopyTo(bias);
            if (l.BiasHh != null) Vec.Add(after ? bias[..(2 * H)] : bias, after ? l.BiasHh.Value.AsSpan(0, 2 * H) : l.BiasHh.Value);
            var whh = l.WeightHh.Value.AsSpan();
            if (!packWhh) return;
            if (after) a.PackWeights(a.WhhP, whh, G, H, forOneRow: B == 1);
            else
            {
                a.PackWeights(a.WhhP, whh[..(2 * H * H)], 2 * H, H, forOneRow: B == 1);
                a.PackWeights(a.Cell[WhnP], whh[(2 * H * H)..], H, H, forOneRow: B == 1);
            }
        }

        public void PrepareBackward(ScanArena<T> a, int B)
        {
            int H = l.CellSize, G = GateRows;
            var whh = l.WeightHh.Value.AsSpan();
            if (After)
            {
                Gemm.PackB<T>(a[a.WhhP], whh, false, H, G, forOneRow: B == 1);
                a[a.Cell[DBias]].Clear();
            }
            else
            {
                Gemm.PackB<T>(a[a.WhhP], whh[..(2 * H * H)], false, H, 2 * H, forOneRow: B == 1);
                Gemm.PackB<T>(a[a.Cell[WhnP]], whh[(2 * H * H)..], false, H, H, forOneRow: B == 1);
            }
        }

        // Reset-before needs all of r⊙h before the n product: a second barrier per step, so it stays on the row loops.
        public bool SplitsUnits(int batch) => After;

        public void PackUnits(ScanArena<T> a, UnitSplit<T> u, UnitSplit<T>.Part p) => u.Pack(p, l.WeightHh.Value, l.WeightIh.Value, a[a.Bias]);

        public void ForwardUnits(ref ScanStep<T> st, UnitSplit<T> u, UnitSplit<T>.Part p)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, I = l.InputSize, n = st.N, s = st.S, u0 = p.U0, w = p.Width, gw = 3 * w;
            var gh = p.Gates.AsSpan(n * gw, n * gw); // (n, 3w) each: r, z, n of these units
            var gx = u.ProjectAll ? u.InputRows(p, s, n) : p.Gates.AsSpan(0, n * gw);
            if (u.ProjectX) u.Product(p, false, gx, st.Rows(a.Xs, s, I), T.Zero, n);
            else if (!u.ProjectAll)
            {
                var all = st.Rows(a.Cell[Gx], s, G);
                for (int b = 0; b < n; b++)
                    for (int g = 0; g < 3; g++) all.Slice(b * G + g * H + u0, w).CopyTo(gx.Slice(b * gw + g * w, w));
            }
            if (st.SkipProduct) gh.Clear();
            else u.Product(p, true, gh, st.Hin, T.Zero, n);
            var bhn = l.BiasHh != null ? l.BiasHh.Value.AsSpan(2 * H + u0, w) : default;
            for (int b = 0; b < n; b++)
            {
                int o = b * H + u0;
                GruCell.Forward(st.HNew.Slice(o, w), gx.Slice(b * gw, gw), gh.Slice(b * gw, gw), st.HPrev.Slice(o, w), bhn, p.Bias,
                    st.Mask.IsEmpty ? default : st.Mask.Slice(b, 1), 1, w);
            }
        }

        public void Forward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, I = l.InputSize, n = st.N, s = st.S;
            var gx = st.Rows(a.Cell[Gx], s, G);
            if (a.XStep) a.Product(gx, st.Rows(a.Xs, s, I), a.WihP, T.Zero, n, G, I);
            // A zero initial state: the first step's products are zeros (the same +0 bits), so they are cleared instead.
            bool zero = st.SkipProduct;
            if (After)
            {
                var gh = st.Rows(a.Cell[Gh], a.Kept ? s : 0, G); // inference: one step's worth, Backward alone reads the rest
                if (zero) gh.Clear();
                else a.Product(gh, st.Hin, a.WhhP, T.Zero, n, G, H);
                var bhn = l.BiasHh != null ? l.BiasHh.Value.AsSpan(2 * H, H) : default;
                GruCell.Forward(st.HNew, gx, gh, st.HPrev, bhn, a[a.Bias], st.Mask, n, H); // the cell adds the x-side biases
            }
            else
            {
                Vec.AddToRows<T>(gx, a[a.Bias], n, G);
                var ghrz = st.Rows(a.Cell[Ghrz], 0, 2 * H); var ghn = st.Rows(a.Cell[Ghn], 0, H);
                var rh = st.Rows(a.Cell[Rh], a.Kept ? s : 0, H);
                if (zero) ghrz.Clear();
                else a.Product(ghrz, st.Hin, a.WhhP, T.Zero, n, 2 * H, H);
                GruCell.ForwardGates(rh, gx, ghrz, st.Hin, n, H);
                if (zero) ghn.Clear();
                else a.Product(ghn, rh, a.Cell[WhnP], T.Zero, n, H, H);
                GruCell.ForwardCandidate(st.HNew, gx, ghn, st.HPrev, st.Mask, n, H);
            }
        }

        public void Backward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, n = st.N, s = st.S;
            var gx = st.Rows(a.Cell[Gx], s, G);
            // Next = dh⊙z (dh on masked rows); the GEMM terms below add the gradient through hin (into Dhin).
            if (After)
            {
                var dgx = gx; // over gx (read first, element by element)
                var dgh = st.Rows(a.Cell[Gh], s, G); // over gh, whose n block the cell reads first
                GruCell.Backward(dgx, dgh, st.Next, st.Rows(a.Cell[DBias], 0, 4 * H), st.Dh, gx, dgh, st.HPrev, st.Mask, n, H);
                if (st.Carries) Gemm.MultiplyPacked(st.Dhin, dgh, a[a.WhhP], false, T.One, T.One, n, H, G);
            }
            else
            {
                var dgx = st.Rows(a.Cell[Dgx], s, G);
                var dgn = st.Rows(a.Cell[Dgn], s, H); var dgrz = st.Rows(a.Cell[Dgrz], s, 2 * H);
                var drh = st.Rows(a.Cell[Drh], 0, H);
                GruCell.BackwardCandidate(dgx, dgn, st.Next, st.Dh, gx, st.HPrev, st.Mask, n, H);
                Gemm.MultiplyPacked(drh, dgn, a[a.Cell[WhnP]], false, T.One, T.Zero, n, H, H);
                GruCell.BackwardReset(dgx, dgrz, st.Dhin, drh, gx, st.Hin, n, H);
                if (st.Carries) Gemm.MultiplyPacked(st.Dhin, dgrz, a[a.WhhP], false, T.One, T.One, n, H, 2 * H);
            }
        }

        public void WeightGradients(ScanArena<T> a, int sStop, int steps, int B)
        {
            int H = l.CellSize, G = GateRows, I = l.InputSize, rows = a.RowCount(sStop, steps); // steps·B, or the packed rows
            bool after = After;
            var dgxAll = a.Steps(a.Cell[after ? Gx : Dgx], sStop, steps); // (rows, 3H)
            var hinAll = a.HinSteps(sStop, steps); // (rows, H)
            var dWhh = l.WeightHh.Grad.AsSpan();
            if (after)
            {
                Gemm.Multiply(dWhh, a.Steps(a.Cell[Gh], sStop, steps), hinAll, true, false, T.One, T.One, G, H, rows);
                // The cells summed [dr, dz, dn, dn⊙r] over the steps per row: b_ih gets the first 3H, b_hh [dr, dz, dn⊙r].
                var dbias = a[a.Cell[DBias]];
                var sums = dbias.Slice(4 * B * H, 4 * H);
                sums.Clear();
                Vec.AddColumnSums<T>(sums, dbias[..(4 * B * H)], B, 4 * H);
                Vec.Add(l.BiasIh.Grad.AsSpan(), sums[..G]);
                Vec.Add(l.BiasHh!.Grad.AsSpan(0, 2 * H), sums[..(2 * H)]);
                Vec.Add(l.BiasHh.Grad.AsSpan(2 * H, H), sums[(3 * H)..]);
            }
            else
            {
                // The r, z rows of W_hh see hin; the n rows see r⊙hin.
                Gemm.Multiply(dWhh[..(2 * H * H)], a.Steps(a.Cell[Dgrz], sStop, steps), hinAll, true, false, T.One, T.One, 2 * H, H, rows);
                Gemm.Multiply(dWhh[(2 * H * H)..], a.Steps(a.Cell[Dgn], sStop, steps), a.Steps(a.Cell[Rh], sStop, steps), true, false, T.One, T.One, H, H, rows);
                if (l.BiasHh != null) Vec.AddColumnSums<T>(l.BiasHh.Grad, dgxAll, rows, G);
            }
            Gemm.Multiply(l.WeightIh.Grad, dgxAll, a.Steps(a.Xs, sStop, steps), true, false, T.One, T.One, G, I, rows);
            if (!after) Vec.AddColumnSums<T>(l.BiasIh.Grad, dgxAll, rows, G);
        }
    }
}
