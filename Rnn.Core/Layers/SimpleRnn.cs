using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;

namespace Rnn.Layers;

/// <summary>Options of <see cref="SimpleRnn{T}"/>; the defaults are Lasagne's RecurrentLayer.</summary>
public sealed record SimpleRnnOptions : RecurrentOptions
{
    /// <summary>f in h_t = f(x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b). Tanh or Relu.</summary>
    public Activation Activation { get; init; } = Activation.Tanh;
    /// <summary>
    /// Lasagne's grad_clipping: the gradient flowing into the pre-activation at each step is clipped
    /// elementwise to [−c, c] (not norm clipping). 0 turns it off.
    /// </summary>
    public double GradClipping { get; init; }
    /// <summary>
    /// Weight initialisation: null (default) is Lasagne's HeUniform for the weights and zero biases; Keras is glorot /
    /// orthogonal / zeros; PyTorch is U(±1/√H) for every weight and bias.
    /// </summary>
    public InitScheme? Init { get; init; }
}

/// <summary>
/// Vanilla recurrent layer: h_t = f(x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b), with Lasagne's RecurrentLayer semantics.
/// Input x is (batch, seq, I), batch-major; mask is (batch, seq) of 0/1, a masked step keeping h_{t−1}.
/// Parameters use PyTorch's names and layout: weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H),
/// optionally bias_hh_l0 (H) and h0 (H). The scan is <see cref="RecurrentScan{T, TCell}"/>; this file is the cell.
/// </summary>
public sealed class SimpleRnn<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public SimpleRnnOptions Options { get; }

    private readonly RecurrentScan<T, Cell> _scan;
    private protected override IScan<T> Scan => _scan;
    /// <inheritdoc/>
    public override int StateCount => 1;

    /// <summary>
    /// Creates the layer. Weights start per <see cref="SimpleRnnOptions.Init"/>: by default Lasagne's HeUniform
    /// (U(±√(3/fan_in)), fan_in = I for W_ih and H for W_hh) with zero biases; h0 starts at zero; a null rng leaves
    /// every weight at zero (for loading).
    /// </summary>
    public SimpleRnn(int inputSize, int hiddenSize, Rng? rng, SimpleRnnOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, hiddenSize, 1, options ??= new SimpleRnnOptions(), suffix)
    {
        Options = options;
        if (Options.Activation is not (Activation.Tanh or Activation.Relu))
            throw new ArgumentException($"options.Activation: expected Tanh or Relu, got {Options.Activation}.", nameof(options));
        if (!(Options.GradClipping >= 0 && double.IsFinite(Options.GradClipping)))
            throw new ArgumentException($"options.GradClipping: expected a finite value >= 0, got {Options.GradClipping}.", nameof(options));
        _scan = new RecurrentScan<T, Cell>(this, new Cell(this));
        if (Options.Init is { } init && !Enum.IsDefined(init))
            throw new ArgumentException($"options.Init: expected null, Keras or PyTorch, got {init}.", nameof(options));
        if (rng == null) return; // loading: the caller writes every value
        if (Options.Init is { } scheme) { RecurrentInit.Weights(scheme, rng, 1, inputSize, hiddenSize, WeightIh, WeightHh, BiasIh, BiasHh); return; }
        Initializers.HeUniform<T>(WeightIh.Value, rng, inputSize);
        Initializers.HeUniform<T>(WeightHh.Value, rng, hiddenSize);
    }

    /// <summary>Forward for a vanilla RNN: as the base, with no c0.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, int batch, int seqLen)
        => Forward(y, x, mask, h0, default, batch, seqLen);
    /// <summary>Backward for a vanilla RNN: dh0 out (InitialState.Given), no dhT.</summary>
    public void Backward(Span<T> dx, Span<T> dh0, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, dh0, default, dy, default, default, batch, seqLen);

    /// <summary>The vanilla cell: the pre-activation is written into h's own slot, then f applied in place.</summary>
    internal readonly struct Cell(SimpleRnn<T> l) : IRecurrentCell<T>
    {
        private const int Dpre = 0, DBias = 1; // cell slots

        public int GateRows => l.CellSize;
        public bool HasCell => false;
        public bool ProjectsPerStep => false; // measured: no gain from projecting per step (docs/BENCHMARKS.md)

        public void Layout(ScanArena<T> a, int B, int S, bool rd)
        {
            int H = l.CellSize;
            var t = a.Tape;
            a.Cell[Dpre] = t.Add("dpre", S, B * H);   // (S, B, H) gradient at the pre-activation
            a.Cell[DBias] = t.Add("dbias", 1, B * H); // (B, H) dpre summed over the steps, per row: the bias gradient
            a.WhhP = t.Add("whhP", 1, Gemm.PackedBLength<T>(H, H)); // W_hhᵀ packed once per pass (Forward), W_hh (Backward)
        }

        // x·W_ihᵀ for every step in one GEMM straight into h[1..S]; each step adds the bias and h·W_hhᵀ there.
        public void InputTarget(ScanArena<T> a, out Tape.Slot slot, out int firstStep, out int ld) { slot = a.H; firstStep = 1; ld = 0; }
        public void InputGradient(ScanArena<T> a, out Tape.Slot slot, out int ld) { slot = a.Cell[Dpre]; ld = 0; }

        public void PrepareForward(ScanArena<T> a, int B, bool packWhh = true)
        {
            var bias = a[a.Bias];
            l.BiasIh.Value.CopyTo(bias);
            if (l.BiasHh != null) Vec.Add(bias, l.BiasHh.Value);
            if (packWhh) a.PackWeights(a.WhhP, l.WeightHh.Value, l.CellSize, l.CellSize, forOneRow: B == 1); // once per pass, not once per step
        }

        public void PrepareBackward(ScanArena<T> a, int B)
        {
            Gemm.PackB<T>(a[a.WhhP], l.WeightHh.Value, false, l.CellSize, l.CellSize, forOneRow: B == 1); // W_hh (H, H) as op(B) of dh = dpre·W_hh
            a[a.Cell[DBias]].Clear();
        }

        // Without a mask the activation runs over all rows as one span: rows must start on whole vectors for the
        // per-row slices to take the same paths (one row always does).
        public bool SplitsUnits(int batch) => batch == 1 || l.CellSize % UnitSplit<T>.Align == 0;

        public void PackUnits(ScanArena<T> a, UnitSplit<T> u, UnitSplit<T>.Part p) => u.Pack(p, l.WeightHh.Value, l.WeightIh.Value, a[a.Bias]);

        public void ForwardUnits(ref ScanStep<T> st, UnitSplit<T> u, UnitSplit<T>.Part p)
        {
            var a = st.A;
            int H = l.CellSize, n = st.N, u0 = p.U0, w = p.Width;
            var hCur = st.HNew.Slice(u0, (n - 1) * H + w); // (n, w) rows H apart: x·W_ihᵀ of these units
            if (u.ProjectX) u.Product(p, false, hCur, st.Rows(a.Xs, st.S, l.InputSize), T.Zero, n, ldc: H);
            else if (u.ProjectAll)
            {
                var xg = u.InputRows(p, st.S, n); // (n, w)
                for (int b = 0; b < n; b++) xg.Slice(b * w, w).CopyTo(hCur.Slice(b * H, w));
            }
            for (int b = 0; b < n; b++) Vec.Add(hCur.Slice(b * H, w), p.Bias);
            if (!st.SkipProduct) u.Product(p, true, hCur, st.HPrev, T.One, n, ldc: H);
            for (int b = 0; b < n; b++)
                RnnCell.Forward(hCur.Slice(b * H, w), st.HPrev.Slice(b * H + u0, w), st.Mask.IsEmpty ? default : st.Mask.Slice(b, 1), l.Options.Activation, 1, w);
        }

        public void Forward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, n = st.N;
            var hCur = st.HNew; // holds x·W_ihᵀ
            // (x·W_ihᵀ + b) + h·W_hhᵀ: the bias first, in the step, instead of a pass over every step before the loop.
            Vec.AddToRows<T>(hCur, a[a.Bias], n, H);
            if (!st.SkipProduct) a.Product(hCur, st.HPrev, a.WhhP, T.One, n, H, H);
            RnnCell.Forward(hCur, st.HPrev, st.Mask, l.Options.Activation, n, H); // f in place; masked rows keep h_{t-1}
        }

        public void Backward(ref ScanStep<T> st)
        {
            var a = st.A;
            int H = l.CellSize, n = st.N;
            var dpre = st.Rows(a.Cell[Dpre], st.S, H);
            // dpre = clip(dh ⊙ f'), summed per row for the bias; Next = dh on masked rows, else 0 (+ dpre·W_hh below).
            // Without a mask Next is the product alone (β = 0), written only when someone reads it.
            bool masked = !st.Mask.IsEmpty;
            RnnCell.Backward(dpre, masked ? st.Next : default, st.Rows(a.Cell[DBias], 0, H), st.HNew, st.Dh, st.Mask, l.Options.Activation,
                T.CreateTruncating(l.Options.GradClipping), n, H);
            if (st.Carries) Gemm.MultiplyPacked(st.Next, dpre, a[a.WhhP], false, T.One, masked ? T.One : T.Zero, n, H, H);
        }

        public void WeightGradients(ScanArena<T> a, int sStop, int steps, int B)
        {
            int H = l.CellSize, rows = a.RowCount(sStop, steps); // steps·B, or the packed rows
            var dpreAll = a.Steps(a.Cell[Dpre], sStop, steps); // (rows, H)
            // dW_hh += dpreᵀ·h and dW_ih += dpreᵀ·xs: one call where dpreᵀ can be packed once for both.
            Gemm.MultiplyShared(l.WeightHh.Grad, a.HinSteps(sStop, steps), H, l.WeightIh.Grad, a.Steps(a.Xs, sStop, steps), l.InputSize, dpreAll, true, T.One, T.One, H, rows);
            // The loop summed dpre over the steps per row; the bias gradient is the sum of those rows.
            if (l.BiasHh != null) Vec.AddColumnSums<T>(l.BiasIh.Grad, l.BiasHh.Grad, a[a.Cell[DBias]], B, H);
            else Vec.AddColumnSums<T>(l.BiasIh.Grad, a[a.Cell[DBias]], B, H);
        }
    }
}
