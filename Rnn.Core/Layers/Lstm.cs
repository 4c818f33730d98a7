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
}

/// <summary>
/// Long short-term memory layer with PyTorch's equations and gate order i, f, g, o:
/// gates = x·W_ihᵀ + b_ih + h·W_hhᵀ (+ b_hh); c' = σ(f)⊙c + σ(i)⊙tanh(g); h' = σ(o)⊙tanh(c').
/// Input x is (batch, seq, I), batch-major; mask (batch, seq) of 0/1, a masked step keeping both h and c.
/// Parameters: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H), optionally bias_hh (4H), h0 and c0 (H),
/// each name ending in the constructor's suffix. The scan is <see cref="RecurrentScan{T, TCell}"/>; this file is the cell.
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

    /// <summary>Creates the layer and initialises its parameters per <see cref="GatedRecurrentOptions.Init"/> from <paramref name="rng"/> (null: zeros, for loading).</summary>
    public Lstm(int inputSize, int hiddenSize, Rng? rng, LstmOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, hiddenSize, 4, options ??= new LstmOptions(), suffix)
    {
        Options = options;
        RecurrentInit.CheckRate(Options.Dropout, nameof(LstmOptions.Dropout));
        RecurrentInit.CheckRate(Options.RecurrentDropout, nameof(LstmOptions.RecurrentDropout));
        if (Options.InitialState == InitialState.Learned) C0 = Add(new Parameter<T>("c0" + suffix, [hiddenSize]));
        if (rng != null) RecurrentInit.Weights(Options.Init, rng, 4, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh);
        if (Options.UnitForgetBias) BiasIh.Value.AsSpan(hiddenSize, hiddenSize).Fill(T.One);
        DropoutRng = new Rng(rng?.NextUInt64() ?? 0);
        _scan = new RecurrentScan<T, Cell>(this, new Cell(this));
    }

    /// <summary>The LSTM cell: one step forward and one back, over the gates (B, 4H) and the state (h, c).</summary>
    internal readonly struct Cell(Lstm<T> l) : IRecurrentCell<T>
    {
        private const int Gates = 0, Tc = 1, DBias = 2; // cell slots

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
        }

        public void InputTarget(ScanArena<T> a, out Tape.Slot slot, out int firstStep, out int ld) { slot = a.Cell[Gates]; firstStep = 0; ld = Stride; }
        public void InputGradient(ScanArena<T> a, out Tape.Slot slot, out int ld) { slot = a.Cell[Gates]; ld = Stride; }

        public void PrepareForward(ScanArena<T> a, int B)
        {
            var bias = a[a.Bias]; // the cell adds it (no pass writing it into every step's gates)
            l.BiasIh.Value.CopyTo(bias);
            if (l.BiasHh != null) Vec.Add(bias, l.BiasHh.Value);
            Gemm.PackB<T>(a[a.WhhP], l.WeightHh.Value, true, GateRows, l.HiddenSize, forOneRow: B == 1); // once per pass, not once per step
        }

        public void PrepareBackward(ScanArena<T> a, int B)
        {
            Gemm.PackB<T>(a[a.WhhP], l.WeightHh.Value, false, l.HiddenSize, GateRows, forOneRow: B == 1); // W_hh (4H, P) as op(B) of dh = dGates·W_hh
            a[a.Cell[DBias]].Clear();
        }

        public void Forward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, I = l.InputSize, n = st.N, gs = Stride, s = st.S;
            var gates = st.Rows(a.Cell[Gates], s, gs);
            if (a.XStep) Gemm.MultiplyPacked(gates, st.Rows(a.Xs, s, I), a[a.WihP], false, T.One, T.Zero, n, G, I, ldc: gs);
            if (!st.SkipProduct) Gemm.MultiplyPacked(gates, st.Hin, a[a.WhhP], false, T.One, T.One, n, G, l.HiddenSize, ldc: gs);
            // Inference keeps one tanh(c) (only Backward reads them).
            LstmCell.Forward(st.HNew, st.CNew, st.Rows(a.Cell[Tc], a.Kept ? s : 0, H), gates, st.HPrev, st.CPrev, a[a.Bias],
                st.Mask, n, H, gs);
        }

        public void Backward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, G = GateRows, n = st.N, ds = Stride, s = st.S;
            var dg = st.Rows(a.Cell[Gates], s, ds); // the step's gates in, its dGates out
            // dGates and dc_{t-1}; Next = dh on masked rows (state passed through), else 0.
            LstmCell.Backward(dg, st.Next, st.Dc, st.Rows(a.Cell[DBias], 0, G), st.Dh, dg, st.CPrev,
                st.Rows(a.Cell[Tc], s, H), st.Mask, n, H, ds);
            // dh_{t-1} += dGates·W_hh.
            if (st.Carries) Gemm.MultiplyPacked(st.Dhin, dg, a[a.WhhP], false, T.One, T.One, n, l.HiddenSize, G, ds);
        }

        public void WeightGradients(ScanArena<T> a, int sStop, int steps, int B)
        {
            int rows = steps * B, G = GateRows;
            var dgAll = a.Steps(a.Cell[Gates], sStop, steps); // dGates (steps·B, 4H), rows Stride apart
            var hinAll = a.DropH ? a.Steps(a.Hd, sStop, steps) : a.Steps(a.H, sStop, steps); // (steps·B, P)
            // dW_hh += dGᵀ·hin and dW_ih += dGᵀ·xs: one call, so dGᵀ is packed once for both.
            Gemm.MultiplyShared(l.WeightHh.Grad, hinAll, l.HiddenSize, l.WeightIh.Grad, a.Steps(a.Xs, sStop, steps), l.InputSize,
                dgAll, true, T.One, T.One, G, rows, Stride);
            // The cells summed dGates over the steps per row; the bias gradient is the sum of those rows.
            if (l.BiasHh != null) Vec.AddColumnSums<T>(l.BiasIh.Grad, l.BiasHh.Grad, a[a.Cell[DBias]], B, G);
            else Vec.AddColumnSums<T>(l.BiasIh.Grad, a[a.Cell[DBias]], B, G);
        }
    }
}
