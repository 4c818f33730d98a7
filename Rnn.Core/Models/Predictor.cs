using System.Numerics;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// A caller's streaming state for a <see cref="Predictor{T}"/>: every layer's recurrent state plus scratch, for a
/// fixed batch size. Small, allocated once by <see cref="Predictor{T}.NewState"/>; each thread holds its own.
/// </summary>
public sealed class StreamState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal readonly T[][] States;   // per layer (batch, StateSize)
    internal readonly T[][] Saved;    // per layer, a copy for masked rows in Predict
    internal readonly T[] Scratch;    // (batch, max StepScratchSize)
    internal readonly T[] Input;      // (batch, features) embedding lookup or step input
    internal readonly T[] Output;     // (batch, O)
    internal readonly int[] Tokens;   // (batch) one step's ids in Predict
    internal readonly Predictor<T> Owner;

    /// <summary>Rows this state serves.</summary>
    public int Batch { get; }
    /// <summary>Steps taken since the last reset.</summary>
    public long Steps { get; internal set; }

    internal StreamState(Predictor<T> owner, int batch)
    {
        Owner = owner; Batch = batch;
        var layers = owner.Model.Recurrent;
        States = layers.Select(l => new T[batch * l.StateSize]).ToArray();
        Saved = layers.Select(l => new T[batch * l.StateSize]).ToArray();
        Scratch = new T[batch * layers.Select(l => l.StepScratchSize).DefaultIfEmpty(0).Max()];
        Input = new T[batch * owner.Model.Spec.FeatureSize];
        Output = new T[batch * owner.Model.Spec.OutputSize];
        Tokens = new int[batch];
        Reset();
    }

    /// <summary>Back to the state before the first step.</summary>
    public void Reset()
    {
        var layers = Owner.Model.Recurrent;
        for (int k = 0; k < layers.Count; k++) layers[k].InitState(States[k], Batch);
        Steps = 0;
    }
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

    /// <summary>Wraps a model. Throws for a bidirectional model (it needs whole sequences).</summary>
    public Predictor(SequenceModel<T> model)
    {
        if (model.Spec.Bidirectional)
            throw new NotSupportedException("Predictor: a bidirectional model cannot run one step at a time; use SequenceModel.Forward on whole sequences.");
        Model = model;
    }

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
        return Run(state.Input, state);
    }

    private ReadOnlySpan<T> Run(ReadOnlySpan<T> x, StreamState<T> s)
    {
        var layers = Model.Recurrent;
        ReadOnlySpan<T> cur = x;
        for (int k = 0; k < layers.Count; k++)
        {
            var l = layers[k];
            l.Step(s.States[k], cur, s.Scratch.AsSpan(0, s.Batch * l.StepScratchSize), s.Batch);
            cur = s.States[k].AsSpan(0, s.Batch * l.HiddenSize);
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
        var layers = Model.Recurrent;
        for (int t = 0; t < seqLen; t++)
        {
            if (tokens.IsEmpty)
                for (int b = 0; b < B; b++) x.Slice((b * seqLen + t) * F, F).CopyTo(s.Input.AsSpan(b * F, F));
            else
            {
                for (int b = 0; b < B; b++) s.Tokens[b] = tokens[b * seqLen + t];
                Model.Embedding!.Lookup(s.Input, s.Tokens);
            }
            if (!mask.IsEmpty) for (int k = 0; k < layers.Count; k++) s.States[k].CopyTo(s.Saved[k], 0);
            var y = Run(s.Input, s);
            bool restored = false;
            if (!mask.IsEmpty)
                for (int b = 0; b < B; b++)
                {
                    if (mask[b * seqLen + t] != T.Zero) continue;
                    restored = true;
                    for (int k = 0; k < layers.Count; k++)
                    {
                        // the state is block-major, (blocks, batch, H): restore this row in every block
                        int h = layers[k].HiddenSize, blocks = layers[k].StateSize / h;
                        for (int q = 0; q < blocks; q++)
                            s.Saved[k].AsSpan(q * B * h + b * h, h).CopyTo(s.States[k].AsSpan(q * B * h + b * h, h));
                    }
                }
            if (perStep)
            {
                // a masked row outputs the head of its carried state, as in training
                if (restored) Model.Head.Infer(s.Output, layers.Count > 0 ? s.States[^1].AsSpan(0, B * layers[^1].HiddenSize) : s.Input.AsSpan(), B);
                for (int b = 0; b < B; b++) y.Slice(b * O, O).CopyTo(output.Slice((b * seqLen + t) * O, O));
            }
        }
        if (!perStep)
        {
            // the head on the final (mask-carried) top state
            var top = layers.Count > 0 ? s.States[^1].AsSpan(0, B * layers[^1].HiddenSize) : s.Input.AsSpan();
            Model.Head.Infer(output, top, B);
        }
    }

    private void Check(StreamState<T> s)
    {
        if (!ReferenceEquals(s.Owner, this)) throw new ArgumentException("state: expected a state made by this predictor's NewState, got one from another predictor.", nameof(s));
    }
}
