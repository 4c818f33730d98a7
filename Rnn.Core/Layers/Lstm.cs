using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>
/// Options of <see cref="Lstm{T}"/>; the defaults are Keras's LSTM layer (one bias, unit forget bias). The initial
/// state, when given or learned, is the pair (h0, c0).
/// </summary>
public sealed record LstmOptions : GatedRecurrentOptions
{
    /// <summary>Set the forget-gate block of bias_ih to 1 after initialisation (Keras's unit_forget_bias).</summary>
    public bool UnitForgetBias { get; init; } = true;
    /// <summary>
    /// PyTorch's proj_size: 0 (none), or P in [1, H) so that h_t = W_hr·(o ⊙ tanh c_t) has P features; W_hh is then
    /// (4H, P) and a parameter weight_hr (P, H) is added. The state is h (P) and c (H).
    /// </summary>
    public int ProjSize { get; init; }
    /// <summary>
    /// Peephole connections (Lasagne's LSTMLayer default, ONNX's LSTM input P): diagonal weights through which the
    /// i and f gates see c_{t−1} and the o gate sees c_t. Adds a parameter peephole (3H) = [p_i | p_f | p_o].
    /// </summary>
    public bool Peepholes { get; init; }
}

/// <summary>
/// Long short-term memory layer with PyTorch's equations and gate order i, f, g, o:
/// gates = x·W_ihᵀ + b_ih + h·W_hhᵀ (+ b_hh); c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c').
/// Input x is (batch, seq, I), batch-major; mask (batch, seq) of 0/1, a masked step keeping both h and c.
/// Parameters: weight_ih (4H, I), weight_hh (4H, P), bias_ih (4H), optionally bias_hh (4H), h0 (P) and c0 (H), and
/// weight_hr (P, H) with a projection (<see cref="LstmOptions.ProjSize"/>, P = H without one), each name ending in the
/// constructor's suffix. The scan is <see cref="RecurrentScan{T, TCell}"/>; this file is the cell.
/// </summary>
public sealed class Lstm<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public LstmOptions Options { get; }

    private readonly RecurrentScan<T, Cell> _scan;
    private protected override IScan<T> Scan => _scan;
    internal override double DropoutRate => Options.Dropout;
    internal override double RecurrentDropoutRate => Options.RecurrentDropout;
    /// <inheritdoc/>
    public override int StateCount => 2;
    /// <summary>(P, H): the output projection, only with <see cref="LstmOptions.ProjSize"/>.</summary>
    public Parameter<T>? WeightHr { get; }
    /// <summary>(3H) = [p_i | p_f | p_o]: the peephole weights, only with <see cref="LstmOptions.Peepholes"/>.</summary>
    public Parameter<T>? Peephole { get; }

    /// <summary>Creates the layer and initialises its parameters per <see cref="GatedRecurrentOptions.Init"/> from <paramref name="rng"/> (null: zeros, for loading).</summary>
    public Lstm(int inputSize, int hiddenSize, Rng? rng, LstmOptions? options = null, string suffix = "_l0")
        : base(inputSize, CheckedProj(options, hiddenSize), hiddenSize, 4, options ??= new LstmOptions(), suffix)
    {
        Options = options;
        if (!RecurrentInit.IsRate(Options.Dropout)) throw new ArgumentException(RecurrentInit.RateError(Options.Dropout, nameof(LstmOptions.Dropout)), nameof(options));
        if (!RecurrentInit.IsRate(Options.RecurrentDropout)) throw new ArgumentException(RecurrentInit.RateError(Options.RecurrentDropout, nameof(LstmOptions.RecurrentDropout)), nameof(options));
        if (Options.InitialState == InitialState.Learned) C0 = Add(new Parameter<T>("c0" + suffix, [hiddenSize]));
        if (rng != null) RecurrentInit.Weights(Options.Init, rng, 4, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh);
        if (Options.UnitForgetBias) BiasIh.Value.AsSpan(hiddenSize, hiddenSize).Fill(T.One);
        if (Options.ProjSize > 0)
        {
            WeightHr = Add(new Parameter<T>("weight_hr" + suffix, [Options.ProjSize, hiddenSize]));
            if (rng != null && Options.Init == InitScheme.PyTorch) Initializers.Uniform<T>(WeightHr.Value, rng, -1 / Math.Sqrt(hiddenSize), 1 / Math.Sqrt(hiddenSize));
            else if (rng != null) Initializers.GlorotUniform<T>(WeightHr.Value, rng, hiddenSize, Options.ProjSize);
        }
        if (Options.Peepholes)
        {
            // U(±1/√H) under either scheme (Keras has no peepholes; PyTorch's scheme for everything else).
            Peephole = Add(new Parameter<T>("peephole" + suffix, [3 * hiddenSize]));
            if (rng != null) Initializers.Uniform<T>(Peephole.Value, rng, -1 / Math.Sqrt(hiddenSize), 1 / Math.Sqrt(hiddenSize));
        }
        DropoutRng = new Rng(rng?.NextUInt64() ?? 0);
        _scan = new RecurrentScan<T, Cell>(this, new Cell(this));
    }

    private static int CheckedProj(LstmOptions? options, int hiddenSize)
    {
        int p = options?.ProjSize ?? 0;
        if (p < 0 || (p > 0 && p >= hiddenSize))
            throw new ArgumentException($"options.ProjSize: expected 0 or 1..{hiddenSize - 1} (below hiddenSize, as PyTorch requires), got {p}.", nameof(options));
        return p > 0 ? p : hiddenSize;
    }

    /// <summary>
    /// The LSTM cell: one step forward and one back, over the gates (B, 4H) and the state (h, c). With a projection
    /// the kernel's h is r = o ⊙ tanh(c) (B, H), and h = r·W_hrᵀ (B, P) follows.
    /// </summary>
    internal readonly struct Cell(Lstm<T> l) : IRecurrentCell<T>
    {
        private const int Gates = 0, Tc = 1, DBias = 2, R = 3, Dhp = 4, Dr = 5, DrPrev = 6, WhrP = 7, DPeep = 8; // cell slots
        private bool Projects => l.WeightHr != null;
        private bool Peeps => l.Peephole != null;

        // The kernel for this variant: with or without peepholes (the projection is around it, in Forward and Backward).
        private void CellForward(Span<T> h, Span<T> c, Span<T> tc, Span<T> gates, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> cPrev,
            ReadOnlySpan<T> bias, ReadOnlySpan<T> mask, int n, int gs)
        {
            if (Peeps) LstmCell.ForwardPeephole(h, c, tc, gates, hPrev, cPrev, bias, l.Peephole!.Value, mask, n, l.CellSize, gs);
            else LstmCell.Forward(h, c, tc, gates, hPrev, cPrev, bias, mask, n, l.CellSize, gs);
        }

        private void CellBackward(ScanArena<T> a, ref ScanStep<T> st, Span<T> dg, Span<T> dhPrev, ReadOnlySpan<T> dh, int ds)
        {
            int H = l.CellSize, n = st.N;
            var tc = st.Rows(a.Cell[Tc], st.S, H);
            var dbias = st.Rows(a.Cell[DBias], 0, GateRows);
            if (Peeps)
                LstmCell.BackwardPeephole(dg, dhPrev, st.Dc, dbias, st.Rows(a.Cell[DPeep], 0, 3 * H), dh, dg, st.CPrev, st.CNew, tc,
                    l.Peephole!.Value, st.Mask, n, H, ds);
            else LstmCell.Backward(dg, dhPrev, st.Dc, dbias, dh, dg, st.CPrev, tc, st.Mask, n, H, ds);
        }

        public int GateRows => 4 * l.CellSize;
        public bool HasCell => true;
        public bool ProjectsPerStep => true;

        // dGates rows 2 KB (a multiple of 512 floats) apart fall into few cache sets, so the weight-gradient GEMM would
        // have to pack dGatesᵀ; 16 floats of padding let it read dGatesᵀ in place.
        private int Stride => 4 * l.CellSize % 512 == 0 ? 4 * l.CellSize + 16 : 4 * l.CellSize;

        public void Layout(ScanArena<T> a, int B, int S, bool rd)
        {
            int H = l.CellSize, G = GateRows, P = l.HiddenSize;
            var t = a.Tape;
            // (S, B, 4H) rows Stride apart: pre-, then post-activation i, f, g, o; Backward writes each step's
            // dGates over that step's gates (only its own cell step reads them): a smaller tape, more of it in cache.
            a.Cell[Gates] = t.Add("gates", S, B * Stride);
            a.Cell[Tc] = t.Add("tc", S, B * H);       // (S, B, H) tanh(c) after step s
            a.Cell[DBias] = t.Add("dbias", 1, B * G); // (B, 4H) dGates summed over the steps, per row: the bias gradient
            // W_hh packed once per pass for the per-step GEMMs: W_hhᵀ (P, 4H) in Forward, W_hh (4H, P) in Backward.
            a.WhhP = t.Add("whhP", 1, Math.Max(Gemm.PackedBLength<T>(G, P), Gemm.PackedBLength<T>(P, G)));
            bool pr = Projects;
            a.Cell[R] = t.Add("r", pr ? S : 0, B * H);        // (S, B, H) projection: o ⊙ tanh(c), the projection's input
            a.Cell[Dhp] = t.Add("dhp", pr ? S : 0, B * P);    // (S, B, P) gradient at the projection's output (0 on masked rows)
            a.Cell[Dr] = t.Add("dr", pr ? 1 : 0, B * H);      // (B, H) gradient at r of one step
            a.Cell[DrPrev] = t.Add("drp", pr ? 1 : 0, B * H); // (B, H) the kernel's pass-through output, unused
            // W_hr packed once per pass: W_hrᵀ (H, P) in Forward, W_hr (P, H) in Backward.
            a.Cell[WhrP] = t.Add("whrP", 1, pr ? Math.Max(Gemm.PackedBLength<T>(P, H), Gemm.PackedBLength<T>(H, P)) : 0);
            a.Cell[DPeep] = t.Add("dpeep", 1, Peeps ? B * 3 * H : 0); // (B, 3H) peephole gradients summed over the steps, per row
        }

        public void InputTarget(ScanArena<T> a, out Tape.Slot slot, out int firstStep, out int ld) { slot = a.Cell[Gates]; firstStep = 0; ld = Stride; }
        public void InputGradient(ScanArena<T> a, out Tape.Slot slot, out int ld) { slot = a.Cell[Gates]; ld = Stride; }

        public void PrepareForward(ScanArena<T> a, int B, bool packWhh = true)
        {
            var bias = a[a.Bias]; // the cell adds it (no pass writing it into every step's gates)
            l.BiasIh.Value.CopyTo(bias);
            if (l.BiasHh != null) Vec.Add(bias, l.BiasHh.Value);
            if (packWhh) a.PackWeights(a.WhhP, l.WeightHh.Value, GateRows, l.HiddenSize, forOneRow: B == 1); // once per pass, not once per step
            if (Projects) a.PackWeights(a.Cell[WhrP], l.WeightHr!.Value, l.HiddenSize, l.CellSize, forOneRow: B == 1);
        }

        public void PrepareBackward(ScanArena<T> a, int B)
        {
            Gemm.PackB<T>(a[a.WhhP], l.WeightHh.Value, false, l.HiddenSize, GateRows, forOneRow: B == 1); // W_hh (4H, P) as op(B) of dh = dGates·W_hh
            a[a.Cell[DBias]].Clear();
            a[a.Cell[DPeep]].Clear();
            if (Projects) Gemm.PackB<T>(a[a.Cell[WhrP]], l.WeightHr!.Value, false, l.CellSize, l.HiddenSize, forOneRow: B == 1); // dr = dh·W_hr
        }

        public void Forward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, I = l.InputSize, n = st.N, gs = Stride, s = st.S;
            var gates = st.Rows(a.Cell[Gates], s, gs);
            if (a.XStep) a.Product(gates, st.Rows(a.Xs, s, I), a.WihP, T.Zero, n, G, I, gs);
            if (!st.SkipProduct) a.Product(gates, st.Hin, a.WhhP, T.One, n, G, l.HiddenSize, gs);
            // Inference keeps one tanh(c) (only Backward reads them).
            var tc = st.Rows(a.Cell[Tc], a.Kept ? s : 0, H);
            if (!Projects) { CellForward(st.HNew, st.CNew, tc, gates, st.HPrev, st.CPrev, a[a.Bias], st.Mask, n, gs); return; }
            // Projected: the kernel writes r (its masked rows copy themselves), then h = r·W_hrᵀ, then masked rows keep
            // h_{t-1} and get r = 0 (the weight gradient reads r there, times a zero gradient).
            int P = l.HiddenSize;
            var r = st.Rows(a.Cell[R], a.Kept ? s : 0, H);
            CellForward(r, st.CNew, tc, gates, r, st.CPrev, a[a.Bias], st.Mask, n, gs);
            if (!st.Mask.IsEmpty) for (int b = 0; b < n; b++) if (st.Mask[b] == T.Zero) r.Slice(b * H, H).Clear();
            a.Product(st.HNew, r, a.Cell[WhrP], T.Zero, n, P, H);
            if (!st.Mask.IsEmpty) for (int b = 0; b < n; b++) if (st.Mask[b] == T.Zero) st.HPrev.Slice(b * P, P).CopyTo(st.HNew.Slice(b * P, P));
        }

        // The projection needs all of r before any h: it stays on the row loops (as do peepholes, for now).
        public bool SplitsUnits(int batch) => !Projects && !Peeps;

        public void PackUnits(ScanArena<T> a, UnitSplit<T> u, UnitSplit<T>.Part p) => u.Pack(p, l.WeightHh.Value, l.WeightIh.Value, a[a.Bias]);

        public void ForwardUnits(ref ScanStep<T> st, UnitSplit<T> u, UnitSplit<T>.Part p)
        {
            var a = st.A;
            int H = l.CellSize, I = l.InputSize, n = st.N, gs = Stride, s = st.S, u0 = p.U0, w = p.Width, gw = 4 * w;
            var gk = u.ProjectAll ? u.InputRows(p, s, n) : p.Gates.AsSpan(0, n * gw); // (n, 4w): this participant's i, f, g, o
            if (u.ProjectX) u.Product(p, false, gk, st.Rows(a.Xs, s, I), T.Zero, n);
            else if (!u.ProjectAll)
            {
                // The hoisted product's columns of these units.
                var gates = st.Rows(a.Cell[Gates], s, gs);
                for (int b = 0; b < n; b++)
                    for (int g = 0; g < 4; g++) gates.Slice(b * gs + g * H + u0, w).CopyTo(gk.Slice(b * gw + g * w, w));
            }
            if (!st.SkipProduct) u.Product(p, true, gk, st.Hin, T.One, n);
            var tc = st.Rows(a.Cell[Tc], 0, H);
            for (int b = 0; b < n; b++)
            {
                int o = b * H + u0;
                LstmCell.Forward(st.HNew.Slice(o, w), st.CNew.Slice(o, w), tc.Slice(o, w), gk.Slice(b * gw, gw), st.HPrev.Slice(o, w),
                    st.CPrev.Slice(o, w), p.Bias, st.Mask.IsEmpty ? default : st.Mask.Slice(b, 1), 1, w);
            }
        }

        public void Backward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, n = st.N, ds = Stride, s = st.S;
            var dg = st.Rows(a.Cell[Gates], s, ds); // the step's gates in, its dGates out
            if (!Projects)
                // dGates and dc_{t-1}; Next = dh on masked rows (state passed through), else 0.
                CellBackward(a, ref st, dg, st.Next, st.Dh, ds);
            else
            {
                // dhp = dh on real rows, 0 on masked ones (their h was h_{t-1}: dh passes through to Next); dr = dhp·W_hr.
                int P = l.HiddenSize;
                var dhp = st.Rows(a.Cell[Dhp], s, P); var dr = st.Rows(a.Cell[Dr], 0, H);
                st.Dh.CopyTo(dhp);
                st.Next.Clear();
                if (!st.Mask.IsEmpty)
                    for (int b = 0; b < n; b++)
                        if (st.Mask[b] == T.Zero) { dhp.Slice(b * P, P).Clear(); st.Dh.Slice(b * P, P).CopyTo(st.Next.Slice(b * P, P)); }
                Gemm.MultiplyPacked(dr, dhp, a[a.Cell[WhrP]], false, T.One, T.Zero, n, H, P);
                CellBackward(a, ref st, dg, st.Rows(a.Cell[DrPrev], 0, H), dr, ds);
            }
            // dh_{t-1} += dGates·W_hh.
            if (st.Carries) Gemm.MultiplyPacked(st.Dhin, dg, a[a.WhhP], false, T.One, T.One, n, l.HiddenSize, G, ds);
        }

        public void WeightGradients(ScanArena<T> a, int sStop, int steps, int B)
        {
            int rows = a.RowCount(sStop, steps), G = GateRows;
            var dgAll = a.Steps(a.Cell[Gates], sStop, steps); // dGates (rows, 4H): steps·B, or the packed rows, rows Stride apart
            var hinAll = a.HinSteps(sStop, steps); // (rows, P)
            // dW_hh += dGᵀ·hin and dW_ih += dGᵀ·xs: one call, so dGᵀ is packed once for both.
            Gemm.MultiplyShared(l.WeightHh.Grad, hinAll, l.HiddenSize, l.WeightIh.Grad, a.Steps(a.Xs, sStop, steps), l.InputSize,
                dgAll, true, T.One, T.One, G, rows, Stride);
            // The cells summed dGates over the steps per row; the bias gradient is the sum of those rows.
            if (l.BiasHh != null) Vec.AddColumnSums<T>(l.BiasIh.Grad, l.BiasHh.Grad, a[a.Cell[DBias]], B, G);
            else Vec.AddColumnSums<T>(l.BiasIh.Grad, a[a.Cell[DBias]], B, G);
            if (Peeps) Vec.AddColumnSums<T>(l.Peephole!.Grad, a[a.Cell[DPeep]], B, 3 * l.CellSize);
            // dW_hr += dhpᵀ·r over the kept steps.
            if (Projects)
                Gemm.Multiply(l.WeightHr!.Grad, a.Steps(a.Cell[Dhp], sStop, steps), a.Steps(a.Cell[R], sStop, steps), true, false, T.One, T.One,
                    l.HiddenSize, l.CellSize, rows);
        }
    }
}
