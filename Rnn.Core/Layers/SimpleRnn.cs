using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Tape;

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
}

/// <summary>
/// Vanilla recurrent layer: h_t = f(x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b), with Lasagne's RecurrentLayer semantics.
/// Input x is (batch, seq, I), batch-major; mask is (batch, seq) of 0/1, a masked step keeping h_{t−1}.
/// Parameters use PyTorch's names and layout: weight_ih_l0 (H, I), weight_hh_l0 (H, H), bias_ih_l0 (H),
/// optionally bias_hh_l0 (H) and h0 (H).
/// </summary>
public sealed class SimpleRnn<T> : RecurrentLayer<T>, IRecurrentLayer<T>, IRowLoops<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The options this layer was built with.</summary>
    public SimpleRnnOptions Options { get; }


    private readonly Tape<T> _tape = new();
    private Slot _xs, _m, _h, _dpre, _dbias, _carry, _bias, _whhPacked; // see Forward for shapes
    private bool _hasMask;
    private bool _carryOut; // Backward: dh_{-1} is wanted (dh0 or a learned h0), so the last reverse step's dh product runs

    /// <summary>
    /// Creates the layer. Weights start as Lasagne's HeUniform (U(±√(3/fan_in)), fan_in = I for W_ih and H for W_hh);
    /// biases and h0 start at zero; a null rng leaves every weight at zero (for loading). Re-initialise <see cref="Parameter{T}.Value"/> for other schemes.
    /// </summary>
    public SimpleRnn(int inputSize, int hiddenSize, Rng? rng, SimpleRnnOptions? options = null, string suffix = "_l0")
        : base(inputSize, hiddenSize, 1, options ??= new SimpleRnnOptions(), suffix)
    {
        Options = options;
        if (Options.Activation is not (Activation.Tanh or Activation.Relu))
            throw new ArgumentException($"options.Activation: expected Tanh or Relu, got {Options.Activation}.", nameof(options));
        if (rng == null) return; // loading: the caller writes every value
        Initializers.HeUniform<T>(WeightIh.Value, rng, inputSize);
        Initializers.HeUniform<T>(WeightHh.Value, rng, hiddenSize);
    }

    /// <inheritdoc/>
    void IRecurrentLayer<T>.Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, int batch, int seqLen)
        => Forward(y, x, mask, default, batch, seqLen);
    /// <inheritdoc/>
    void IRecurrentLayer<T>.Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
        => Backward(dx, default, dy, batch, seqLen);

    /// <summary>
    /// Runs the layer over a batch and records the tape for <see cref="Backward"/>.
    /// y: (batch, seq, H) or (batch, H), overwritten. x: (batch, seq, I). mask: (batch, seq) of 0/1, or empty.
    /// h0: (batch, H) when InitialState is Given, else empty.
    /// </summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, ReadOnlySpan<T> h0, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize;
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        Guard.Length(x.Length, B * S * I, $"(batch={B}, seq={S}, features={I})");
        Guard.Length(y.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})");
        Guard.Mask(mask, B, S);
        if (Options.InitialState == InitialState.Given) Guard.Length(h0.Length, B * H, $"(batch={B}, H={H})");
        else if (!h0.IsEmpty) throw new ArgumentException($"h0: expected empty with InitialState.{Options.InitialState}, got {h0.Length} elements.", nameof(h0));
        Guard.Finite(x);

        if (_tape.Begin(B, S))
        {
            _xs = _tape.Add("xs", S, B * I);       // (S, B, I) input in scan order
            _m = _tape.Add("m", S, B);             // (S, B) mask in scan order
            _h = _tape.Add("h", S + 1, B * H);     // (S+1, B, H) h[0] = h_{-1}, h[s+1] = state after scan step s
            _dpre = _tape.Add("dpre", S, B * H);   // (S, B, H) gradient at the pre-activation
            _dbias = _tape.Add("dbias", 1, B * H); // (B, H) dpre summed over the steps, per row: the bias gradient
            _carry = _tape.Add("carry", 2, B * H); // (2, B, H) dh flowing to the previous step
            _bias = _tape.Add("bias", 1, H);       // (H) summed biases
            _whhPacked = _tape.Add("whhPacked", 1, Gemm.PackedBLength<T>(H, H)); // W_hhᵀ packed once per pass (Forward), W_hh (Backward)
            _tape.Commit();
        }
        _hasMask = !mask.IsEmpty;
        TapeRecorded();

        // Time-major, scan-ordered copies, so each step is contiguous and the input GEMM is one call.
        RecurrentInit.ToScanOrder<T>(_tape[_xs], x, default, B, S, I, Options.Backwards);
        if (_hasMask) RecurrentInit.ToScanOrder<T>(_tape[_m], mask, default, B, S, 1, Options.Backwards);

        var bias = _tape[_bias];
        WeightBiasSum(bias);
        var hAll = _tape.Steps(_h, 1, S); // (S, B, H) pre-activations, then states
        // x·W_ihᵀ for every step in one GEMM; each step adds the bias to its rows in the time loop, instead of a pass
        // writing it over every step first (for I ≤ 512, one k block, the same bits as the GEMM onto the bias).
        Gemm.Multiply(hAll, _tape[_xs], WeightIh.Value, false, true, T.One, T.Zero, S * B, H, I);

        var hInit = _tape.Step(_h, 0);
        switch (Options.InitialState)
        {
            case InitialState.Given: h0.CopyTo(hInit); break;
            case InitialState.Learned: Vec.BroadcastRows<T>(hInit, H0!.Value, B, H); break;
            default: hInit.Clear(); break;
        }

        Gemm.PackB<T>(_tape[_whhPacked], WeightHh.Value, true, H, H, forOneRow: B == 1); // once per pass, not once per step
        RowLoops<T>.Forward(this, B, S);

        if (Options.ReturnSequences) RecurrentInit.FromScanOrder(y, _tape.Steps(_h, 1, S), B, S, H, Options.Backwards);
        else _tape.Step(_h, S).CopyTo(y);
    }

    /// <summary>The recurrence for batch rows [r0, r1): rows never interact, so row ranges run in parallel.</summary>
    void IRowLoops<T>.ForwardSteps(int r0, int r1, int seqLen)
    {
        int S = seqLen, H = HiddenSize, n = r1 - r0;
        var whhT = _tape[_whhPacked];
        var bias = _tape[_bias];
        for (int s = 0; s < S; s++)
        {
            var hPrev = _tape.Step(_h, s).Slice(r0 * H, n * H);
            var hCur = _tape.Step(_h, s + 1).Slice(r0 * H, n * H);
            Vec.AddToRows<T>(hCur, bias, n, H);
            // A zero initial state adds nothing: the first step skips its product.
            if (s > 0 || Options.InitialState != InitialState.Zero) Gemm.MultiplyPacked(hCur, hPrev, whhT, false, T.One, T.One, n, H, H);
            if (typeof(T) == typeof(float) && Options.Activation == Activation.Tanh)
                CellMath.Tanh(MemoryMarshal.Cast<T, float>(hCur), MemoryMarshal.Cast<T, float>(hCur)); // the cells' rational tanh
            else Activations.Forward(hCur, hCur, Options.Activation);
            if (_hasMask)
            {
                var ms = _tape.Step(_m, s).Slice(r0, n);
                for (int b = 0; b < n; b++)
                    if (ms[b] == T.Zero) hPrev.Slice(b * H, H).CopyTo(hCur.Slice(b * H, H));
            }
        }
    }

    /// <summary>The reverse time loop for batch rows [r0, r1), from the last step down to seq − steps.</summary>
    void IRowLoops<T>.BackwardSteps(int r0, int r1, int seqLen, int steps, ReadOnlySpan<T> dy)
    {
        int S = seqLen, H = HiddenSize, n = r1 - r0;
        var carry = _tape.Step(_carry, 0).Slice(r0 * H, n * H);
        var next = _tape.Step(_carry, 1).Slice(r0 * H, n * H);
        T clip = T.CreateTruncating(Options.GradClipping);
        var whhP = _tape[_whhPacked];
        var dbias = _tape[_dbias].Slice(r0 * H, n * H);
        for (int s = S - 1; s >= S - steps; s--)
        {
            int t = Options.Backwards ? S - 1 - s : s;
            // dh = carry + dy at this step.
            if (Options.ReturnSequences)
                Vec.AddRows(carry, dy[((r0 * S + t) * H)..], n, H, S * H);
            else if (s == S - 1) Vec.Add(carry, dy.Slice(r0 * H, n * H));

            var dpre = _tape.Step(_dpre, s).Slice(r0 * H, n * H);
            bool carries = s > S - steps || _carryOut; // the last step's dh_{t-1} only matters when someone reads it
            // The bias gradient's per-row sums are taken in the tanh pass when nothing changes dpre after it.
            bool fused = Options.Activation == Activation.Tanh && clip == T.Zero && !_hasMask;
            if (Options.Activation == Activation.Tanh) TanhBackward(dpre, fused ? dbias : default, _tape.Step(_h, s + 1).Slice(r0 * H, n * H), carry);
            else Activations.Backward(dpre, _tape.Step(_h, s + 1).Slice(r0 * H, n * H), carry, Options.Activation);
            if (clip > T.Zero) Vec.Clip(dpre, clip);

            // Masked rows: no gradient to the cell, dh passes straight to h_{t-1}.
            if (_hasMask)
            {
                var ms = _tape.Step(_m, s).Slice(r0, n);
                for (int b = 0; b < n; b++)
                {
                    if (ms[b] == T.Zero) { dpre.Slice(b * H, H).Clear(); carry.Slice(b * H, H).CopyTo(next.Slice(b * H, H)); }
                    else next.Slice(b * H, H).Clear();
                }
                if (carries) Gemm.MultiplyPacked(next, dpre, whhP, false, T.One, T.One, n, H, H);
            }
            else if (carries) Gemm.MultiplyPacked(next, dpre, whhP, false, T.One, T.Zero, n, H, H);
            if (!fused) Vec.Add(dbias, dpre);
            var tmp = carry; carry = next; next = tmp;
        }
    }

    /// <summary>
    /// Backpropagates through time from the last recorded Forward. dy has y's shape. Accumulates into every
    /// parameter gradient, into dx (batch, seq, I) if not empty, and into dh0 (batch, H) if not empty
    /// (InitialState.Given only).
    /// </summary>
    public void Backward(Span<T> dx, Span<T> dh0, ReadOnlySpan<T> dy, int batch, int seqLen)
    {
        int B = batch, S = seqLen, I = InputSize, H = HiddenSize;
        if (_tape.Batch != B || _tape.SeqLen != S)
            throw new InvalidOperationException($"Backward: expected the shape of the last Forward (batch={_tape.Batch}, seq={_tape.SeqLen}), got (batch={B}, seq={S}).");
        Guard.Length(dy.Length, B * OutputLength(S), $"(batch={B}{(Options.ReturnSequences ? $", seq={S}" : "")}, H={H})");
        if (!dx.IsEmpty) Guard.Length(dx.Length, B * S * I, $"(batch={B}, seq={S}, features={I})");
        if (!dh0.IsEmpty) Guard.Length(dh0.Length, B * H, $"(batch={B}, H={H})");

        int steps = Options.GradientSteps > 0 ? Math.Min(Options.GradientSteps, S) : S;
        int sStop = S - steps;
        ConsumeTape();
        var carry = _tape.Step(_carry, 0);
        carry.Clear();
        Gemm.PackB<T>(_tape[_whhPacked], WeightHh.Value, false, H, H, forOneRow: B == 1); // W_hh (H, H) as op(B) of dh = dpre·W_hh
        _tape[_dbias].Clear();
        _carryOut = sStop == 0 && (!dh0.IsEmpty || H0 != null);
        RowLoops<T>.Backward(this, B, S, steps, dy);
        carry = _tape.Step(_carry, steps & 1); // the carries swap once per step

        // Whatever reached h_{-1} (never, under truncation).
        if (sStop == 0)
        {
            if (!dh0.IsEmpty) Vec.Add(dh0, carry);
            if (H0 != null) Vec.AddColumnSums<T>(H0.Grad, carry, B, H);
        }

        // Hoisted weight gradients: one GEMM each over all kept steps.
        int rows = steps * B;
        var dpreAll = _tape.Steps(_dpre, sStop, steps);   // (steps·B, H)
        // dW_hh += dpreᵀ·h and dW_ih += dpreᵀ·xs: one call where dpreᵀ can be packed once for both.
        Gemm.MultiplyShared(WeightHh.Grad, _tape.Steps(_h, sStop, steps), H, WeightIh.Grad, _tape.Steps(_xs, sStop, steps), I, dpreAll, true, T.One, T.One, H, rows);
        // The loop summed dpre over the steps per row; the bias gradient is the sum of those rows.
        if (BiasHh != null) Vec.AddColumnSums<T>(BiasIh.Grad, BiasHh.Grad, _tape[_dbias], B, H);
        else Vec.AddColumnSums<T>(BiasIh.Grad, _tape[_dbias], B, H);

        if (dx.IsEmpty) return;
        // dx in scan order, written over xs: the weight gradients above were its last readers.
        var dxs = _tape.Steps(_xs, sStop, steps);
        Gemm.Multiply(dxs, dpreAll, WeightIh.Value, false, false, T.One, T.Zero, rows, I, H);
        RecurrentInit.AddFromScanOrder<T>(dx, _tape.Steps(_xs, sStop, steps), default, B, S, steps, I, Options.Backwards);
    }

    /// <inheritdoc/>
    public int StateSize => HiddenSize;
    /// <inheritdoc/>
    public int StepScratchSize => HiddenSize;

    /// <summary>
    /// One inference step for streaming callers, reading only the weights (thread-safe, allocation-free):
    /// state (batch, H) holds h_{t−1} on entry and h_t on exit; x is (batch, I); scratch has
    /// <see cref="StepScratchSize"/>·batch elements. A fresh state is zeros (or h0 when learned).
    /// </summary>
    public void Step(Span<T> state, ReadOnlySpan<T> x, Span<T> scratch, int batch)
    {
        int H = HiddenSize;
        Guard.Length(state.Length, batch * H, $"(batch={batch}, H={H})");
        Guard.Length(x.Length, batch * InputSize, $"(batch={batch}, features={InputSize})");
        var pre = scratch[..(batch * H)]; // (B, H)
        for (int b = 0; b < batch; b++)
        {
            var row = pre.Slice(b * H, H);
            BiasIh.Value.CopyTo(row);
            if (BiasHh != null) Vec.Add(row, BiasHh.Value);
        }
        Gemm.Multiply(pre, x, WeightIh.Value, false, true, T.One, T.One, batch, H, InputSize);
        Gemm.Multiply(pre, state, WeightHh.Value, false, true, T.One, T.One, batch, H, H);
        Activations.Forward(state, pre, Options.Activation);
    }

    /// <summary>Writes the initial state for <see cref="Step"/>: zeros, or the learned h0 broadcast.</summary>
    public void InitState(Span<T> state, int batch)
    {
        if (H0 != null) Vec.BroadcastRows<T>(state, H0.Value, batch, HiddenSize);
        else state.Clear();
    }

    /// <summary>dpre = dh ⊙ (1 − h²), vectorised; each element is computed as in Activations.Backward.</summary>
    /// <summary>dpre = dh ⊙ (1 − h²); dpre is also added to sums (same shape) unless it is empty.</summary>
    private static void TanhBackward(Span<T> dpre, Span<T> sums, ReadOnlySpan<T> h, ReadOnlySpan<T> dh)
    {
        int n = dpre.Length, w = Vector<T>.Count, i = 0;
        ref T d = ref MemoryMarshal.GetReference(dpre);
        ref T y = ref MemoryMarshal.GetReference(h);
        ref T g = ref MemoryMarshal.GetReference(dh);
        if (h.Length < n || dh.Length < n) throw new ArgumentException($"TanhBackward: expected {n} elements, got {h.Length} and {dh.Length}.");
        if (sums.IsEmpty)
        {
            for (; i + w <= n; i += w)
            {
                var yv = Vector.LoadUnsafe(ref y, (nuint)i);
                (Vector.LoadUnsafe(ref g, (nuint)i) * (Vector<T>.One - yv * yv)).StoreUnsafe(ref d, (nuint)i);
            }
            for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref g, i) * (T.One - Unsafe.Add(ref y, i) * Unsafe.Add(ref y, i));
            return;
        }
        if (sums.Length != n) throw new ArgumentException($"TanhBackward: expected {n} sums, got {sums.Length}.");
        ref T a = ref MemoryMarshal.GetReference(sums);
        for (; i + w <= n; i += w)
        {
            var yv = Vector.LoadUnsafe(ref y, (nuint)i);
            var dv = Vector.LoadUnsafe(ref g, (nuint)i) * (Vector<T>.One - yv * yv);
            dv.StoreUnsafe(ref d, (nuint)i);
            (Vector.LoadUnsafe(ref a, (nuint)i) + dv).StoreUnsafe(ref a, (nuint)i);
        }
        for (; i < n; i++)
        {
            T dv = Unsafe.Add(ref g, i) * (T.One - Unsafe.Add(ref y, i) * Unsafe.Add(ref y, i));
            Unsafe.Add(ref d, i) = dv;
            Unsafe.Add(ref a, i) += dv;
        }
    }

    private void WeightBiasSum(Span<T> bias)
    {
        BiasIh.Value.CopyTo(bias);
        if (BiasHh != null) Vec.Add(bias, BiasHh.Value);
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
