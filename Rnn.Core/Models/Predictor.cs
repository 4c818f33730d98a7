using System.Numerics;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// A caller's streaming state for a <see cref="Predictor{T}"/>: every layer's recurrent state plus scratch, for a
/// fixed batch size. Small, allocated once by <see cref="Predictor{T}.NewState"/>; each thread holds its own.
/// </summary>
public sealed class StreamState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal readonly RecurrentState<T>[] Streams; // per layer: its state, scratch and packed weights
    internal readonly T[][] SavedH, SavedC;         // per layer, a copy for masked rows in Predict
    internal readonly T[] Input;      // (batch, features) embedding lookup or step input
    internal readonly T[] Output;     // (batch, O)
    internal readonly int[] Tokens;   // (batch) one step's ids in Predict
    internal readonly T[] Projected;  // (batch, G·H) token-table rows: the first layer's input projection
    internal readonly Predictor<T> Owner;

    /// <summary>Rows this state serves.</summary>
    public int Batch { get; }
    /// <summary>Steps taken since the last reset.</summary>
    public long Steps { get; internal set; }

    internal StreamState(Predictor<T> owner, int batch)
    {
        Owner = owner; Batch = batch;
        var layers = owner.Layers;
        Streams = layers.Select(l => l.NewStream(batch, owner.Precision)).ToArray();
        SavedH = layers.Select(l => new T[l.StateLength(batch, 0)]).ToArray();
        SavedC = layers.Select(l => new T[l.StateCount == 2 ? l.StateLength(batch, 1) : 0]).ToArray();
        Input = new T[batch * owner.Model.Spec.FeatureSize];
        Output = new T[batch * owner.Model.Spec.OutputSize];
        Tokens = new int[batch];
        Projected = new T[owner.Table.Length > 0 ? batch * owner.TableWidth : 0];
    }

    /// <summary>Back to the state before the first step (re-reading the model's current weights).</summary>
    public void Reset()
    {
        foreach (var s in Streams) s.Reset();
        Steps = 0;
    }
}

/// <summary>Whether a token model's first layer gathers its input projection Embedding·W_ihᵀ from a (vocab, G·H) table.</summary>
public enum TokenTable
{
    /// <summary>
    /// Build the table when its memory is small: at most <see cref="Predictor{T}.AutoTableMaxBytes"/> and G·H ≤ 4·E
    /// (so at most four times the embedding's own size).
    /// </summary>
    Auto,
    /// <summary>Always build it (a token model with a recurrent layer).</summary>
    On,
    /// <summary>Never: each step multiplies the embedding row by W_ih.</summary>
    Off,
}

/// <summary>
/// Inference for apps over a trained <see cref="SequenceModel{T}"/>: <see cref="Step(ReadOnlySpan{T}, StreamState{T})"/>
/// for streaming callers (a sensor, a keyboard) one timestep at a time, and <see cref="Predict"/> for whole sequences.
/// It reads only the weights, through the same layer and cell code as training, and keeps every mutable thing in the
/// caller's <see cref="StreamState{T}"/>: one predictor serves many threads, each with its own state, as long as
/// nobody trains the model meanwhile. A step allocates nothing. Dropout is off. Bidirectional models cannot stream.
/// </summary>
public sealed class Predictor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The model whose weights are read.</summary>
    public SequenceModel<T> Model { get; }

    /// <summary>The recurrent layers' weight storage in every state this predictor makes.</summary>
    public WeightPrecision Precision { get; }

    /// <summary>
    /// Wraps a model; its recurrent layers step with weights at <paramref name="precision"/> (float32: Forward's bits;
    /// bf16 and int8 are packed from the weights when a state is made or reset, and need a float model). Throws for a
    /// bidirectional model (it needs whole sequences).
    /// </summary>
    public Predictor(SequenceModel<T> model, WeightPrecision precision = WeightPrecision.Float32)
        : this(model, precision, TokenTable.Auto) { }

    /// <summary>
    /// As <see cref="Predictor(SequenceModel{T}, WeightPrecision)"/>, choosing whether a token model's first layer
    /// gathers its input projection from a (vocab, G·H) table of Embedding·W_ihᵀ, made here from the current weights
    /// (<see cref="TokenTable"/>; make a new predictor after changing the weights).
    /// </summary>
    public Predictor(SequenceModel<T> model, WeightPrecision precision, TokenTable tokenTable)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Spec.Bidirectional)
            throw new NotSupportedException("Predictor: a bidirectional model cannot run one step at a time; use SequenceModel.Forward on whole sequences.");
        if (!Enum.IsDefined(precision)) throw new ArgumentOutOfRangeException(nameof(precision), $"precision: expected Float32, BFloat16 or Int8, got {(int)precision}.");
        if (precision != WeightPrecision.Float32 && typeof(T) != typeof(float))
            throw new NotSupportedException($"precision: {precision} weights need a float model, got {typeof(T).Name}.");
        if (!Enum.IsDefined(tokenTable)) throw new ArgumentOutOfRangeException(nameof(tokenTable), $"tokenTable: expected Auto, On or Off, got {(int)tokenTable}.");
        Precision = precision;
        Model = model;
        Layers = model.Recurrent.Select(l => (RecurrentLayer<T>)l).ToArray();
        if (tokenTable == TokenTable.On && (model.Embedding == null || Layers.Length == 0))
            throw new ArgumentException("tokenTable: On needs a token model with a recurrent layer (the table replaces the first layer's input product); use Auto or Off.", nameof(tokenTable));
        if (model.Embedding != null && Layers.Length > 0 && (tokenTable == TokenTable.On || (tokenTable == TokenTable.Auto && TablePays(model, Layers[0]))))
        {
            var l = Layers[0];
            int V = model.Spec.Vocab, E = l.InputSize;
            TableWidth = l.WeightIh.Value.Length / E;
            if ((long)V * TableWidth > Array.MaxLength)
                throw new ArgumentException($"tokenTable: expected a table of at most {Array.MaxLength} elements, got vocab {V} × {TableWidth}; use Off.", nameof(tokenTable));
            // One GEMM over every token, as Forward hoists x·W_ihᵀ over every step: each row holds the bits the step's
            // product would make (the cell adds the biases, as without the table).
            Table = new T[(long)V * TableWidth];
            Kernels.Gemm.Multiply(Table, model.Embedding.Weight.Value, l.WeightIh.Value, false, true, T.One, T.Zero, V, TableWidth, E);
        }
    }

    internal RecurrentLayer<T>[] Layers { get; }
    internal readonly T[] Table = [];
    internal readonly int TableWidth;

    /// <summary>True when token steps gather the first layer's input projection from the table.</summary>
    public bool UsesTokenTable => Table.Length > 0;

    /// <summary>
    /// Auto's rule: the table (vocab · G·H floats) replaces a product of E·G·H multiply-adds per token with a row copy,
    /// so it pays once its build (vocab rows of that product) is spread over enough steps; its memory is the price,
    /// capped at <see cref="AutoTableMaxBytes"/> and at 4× the embedding itself.
    /// </summary>
    private static bool TablePays(SequenceModel<T> model, RecurrentLayer<T> first)
    {
        long V = model.Spec.Vocab, E = first.InputSize, G = first.WeightIh.Value.Length / E;
        long bytes = V * G * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        return bytes <= AutoTableMaxBytes && G <= 4 * E;
    }

    /// <summary>The largest token table <see cref="TokenTable.Auto"/> builds.</summary>
    public const long AutoTableMaxBytes = 16L << 20;

    /// <summary>A fresh state for <paramref name="batch"/> parallel streams.</summary>
    public StreamState<T> NewState(int batch = 1)
    {
        Guard.AtLeast(batch, 1);
        return new StreamState<T>(this, batch);
    }

    /// <summary>
    /// One step on features x (batch, InputSize). Returns the head's output for this step, (batch, O), owned by the
    /// state and valid until its next step. For a final-state model it is the prediction if the sequences ended here.
    /// </summary>
    public ReadOnlySpan<T> Step(ReadOnlySpan<T> x, StreamState<T> state)
    {
        Check(state);
        if (Model.Embedding != null) throw new InvalidOperationException($"Step: this model takes tokens (vocab {Model.Spec.Vocab}); call Step(ReadOnlySpan<int>, state).");
        Guard.Length(x.Length, state.Batch * Model.Spec.InputSize, $"(batch={state.Batch}, features={Model.Spec.InputSize})");
        return Run(x, state);
    }

    /// <summary>One step on token ids (batch); ids outside [0, vocab) throw. Returns (batch, O) as above.</summary>
    public ReadOnlySpan<T> Step(ReadOnlySpan<int> tokens, StreamState<T> state)
    {
        Check(state);
        if (Model.Embedding == null) throw new InvalidOperationException("Step: this model takes features, not tokens.");
        Guard.Length(tokens.Length, state.Batch, $"(batch={state.Batch})");
        Model.Embedding.Lookup(state.Input, tokens);
        return Table.Length > 0 ? RunTokens(tokens, state) : Run(state.Input, state);
    }

    // The first layer's step from the table's rows (ids checked by the lookup before), the rest as Run.
    private ReadOnlySpan<T> RunTokens(ReadOnlySpan<int> tokens, StreamState<T> s)
    {
        int W = TableWidth;
        for (int b = 0; b < s.Batch; b++) Table.AsSpan(tokens[b] * W, W).CopyTo(s.Projected.AsSpan(b * W, W));
        Layers[0].StepProjected(s.Streams[0], s.Projected);
        ReadOnlySpan<T> cur = s.Streams[0].H;
        for (int k = 1; k < Layers.Length; k++)
        {
            Layers[k].Step(s.Streams[k], cur);
            cur = s.Streams[k].H;
        }
        Model.Head.Infer(s.Output, cur, s.Batch);
        s.Steps++;
        return s.Output;
    }

    private ReadOnlySpan<T> Run(ReadOnlySpan<T> x, StreamState<T> s)
    {
        ReadOnlySpan<T> cur = x;
        for (int k = 0; k < Layers.Length; k++)
        {
            Layers[k].Step(s.Streams[k], cur);
            cur = s.Streams[k].H;
        }
        Model.Head.Infer(s.Output, cur, s.Batch);
        s.Steps++;
        return s.Output;
    }

    /// <summary>
    /// Whole sequences through the streaming path: output (batch, O) from the final state, or (batch, seq, O) for a
    /// per-step model. x (batch, seq, InputSize); mask (batch, seq) or empty — a masked step keeps the state, like
    /// training. Uses (and resets) the caller's state, so it is thread-safe per state.
    /// </summary>
    public void Predict(Span<T> output, ReadOnlySpan<T> x, ReadOnlySpan<T> mask, StreamState<T> state, int seqLen)
    {
        Check(state);
        if (Model.Embedding != null) throw new InvalidOperationException("Predict: this model takes tokens; call PredictTokens.");
        Guard.Length(x.Length, state.Batch * seqLen * Model.Spec.InputSize, $"(batch={state.Batch}, seq={seqLen}, features={Model.Spec.InputSize})");
        PredictCore(output, x, default, mask, state, seqLen);
    }

    /// <summary>Whole token sequences (batch, seq); as <see cref="Predict"/>. With MaskZero the mask comes from token 0.</summary>
    public void PredictTokens(Span<T> output, ReadOnlySpan<int> tokens, ReadOnlySpan<T> mask, StreamState<T> state, int seqLen)
    {
        Check(state);
        if (Model.Embedding == null) throw new InvalidOperationException("PredictTokens: this model takes features, not tokens.");
        int B = state.Batch;
        Guard.Length(tokens.Length, B * seqLen, $"(batch={B}, seq={seqLen})");
        if (Model.Spec.MaskZero)
        {
            var derived = new T[B * seqLen];
            Model.Embedding.ComputeMask(derived, tokens, B, seqLen);
            mask = derived;
        }
        PredictCore(output, default, tokens, mask, state, seqLen);
    }

    private void PredictCore(Span<T> output, ReadOnlySpan<T> x, ReadOnlySpan<int> tokens, ReadOnlySpan<T> mask, StreamState<T> s, int seqLen)
    {
        int B = s.Batch, O = Model.Spec.OutputSize, F = Model.Spec.FeatureSize;
        bool perStep = Model.Spec.PerStep;
        Guard.Length(output.Length, perStep ? B * seqLen * O : B * O, $"(batch={B}{(perStep ? $", seq={seqLen}" : "")}, {O})");
        Guard.Mask(mask, B, seqLen);
        s.Reset();
        var layers = Layers;
        for (int t = 0; t < seqLen; t++)
        {
            if (tokens.IsEmpty)
                for (int b = 0; b < B; b++) x.Slice((b * seqLen + t) * F, F).CopyTo(s.Input.AsSpan(b * F, F));
            else
            {
                for (int b = 0; b < B; b++) s.Tokens[b] = tokens[b * seqLen + t];
                Model.Embedding!.Lookup(s.Input, s.Tokens);
            }
            if (!mask.IsEmpty)
                for (int k = 0; k < layers.Length; k++) { s.Streams[k].H.CopyTo(s.SavedH[k]); s.Streams[k].C.CopyTo(s.SavedC[k]); }
            var y = !tokens.IsEmpty && Table.Length > 0 ? RunTokens(s.Tokens, s) : Run(s.Input, s);
            bool restored = false;
            if (!mask.IsEmpty)
                for (int b = 0; b < B; b++)
                {
                    if (mask[b * seqLen + t] != T.Zero) continue;
                    restored = true;
                    for (int k = 0; k < layers.Length; k++)
                    {
                        int h = layers[k].HiddenSize, c = layers[k].CellSize;
                        s.SavedH[k].AsSpan(b * h, h).CopyTo(s.Streams[k].H.Slice(b * h, h));
                        if (s.SavedC[k].Length > 0) s.SavedC[k].AsSpan(b * c, c).CopyTo(s.Streams[k].C.Slice(b * c, c));
                    }
                }
            if (perStep)
            {
                // a masked row outputs the head of its carried state, as in training
                if (restored) Model.Head.Infer(s.Output, layers.Length > 0 ? s.Streams[^1].H : s.Input.AsSpan(), B);
                for (int b = 0; b < B; b++) y.Slice(b * O, O).CopyTo(output.Slice((b * seqLen + t) * O, O));
            }
        }
        if (!perStep)
        {
            // the head on the final (mask-carried) top state
            var top = layers.Length > 0 ? s.Streams[^1].H : s.Input.AsSpan();
            Model.Head.Infer(output, top, B);
        }
    }

    private void Check(StreamState<T> s)
    {
        ArgumentNullException.ThrowIfNull(s, "state");
        if (!ReferenceEquals(s.Owner, this)) throw new ArgumentException("state: expected a state made by this predictor's NewState, got one from another predictor.", nameof(s));
    }
}
