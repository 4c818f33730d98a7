using System.Numerics;
using Rnn.Layers;
using Rnn.Losses;

namespace Rnn.Models;

/// <summary>
/// Keras's TimeDistributed(Dense): one <see cref="Dense{T}"/> applied to every step of (batch, seq, F), giving
/// (batch, seq, O). The rows are batch-major, so the (batch, seq) mask of the sequence lines up with the output
/// rows; <see cref="Loss"/> and <see cref="LossBackward"/> use it as SoftmaxCrossEntropy row weights, so padded
/// steps cost nothing and the mean is over the real steps. The wrapped Dense is owned by this object.
/// </summary>
public sealed class TimeDistributed<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The per-step layer (its parameters are this layer's parameters).</summary>
    public Dense<T> Inner { get; }
    /// <summary>The trainable parameters of <see cref="Inner"/>.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => Inner.Parameters;
    /// <summary>Input features per step F.</summary>
    public int InputSize => Inner.InputSize;
    /// <summary>Output features per step O.</summary>
    public int OutputSize => Inner.OutputSize;

    /// <summary>Wraps <paramref name="inner"/>; Dispose disposes it.</summary>
    public TimeDistributed(Dense<T> inner) { Inner = inner ?? throw new ArgumentNullException(nameof(inner)); }

    /// <summary>y (batch, seq, O), overwritten, from x (batch, seq, F): the Dense on all batch·seq rows in one GEMM.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, int batch, int seqLen)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1);
        Guard.Length(x.Length, batch * seqLen * InputSize, $"(batch={batch}, seq={seqLen}, F={InputSize})");
        Guard.Length(y.Length, batch * seqLen * OutputSize, $"(batch={batch}, seq={seqLen}, O={OutputSize})");
        Inner.Forward(y, x, batch * seqLen);
    }

    /// <summary>Accumulates the Dense's parameter gradients, and dx (batch, seq, F) when not empty, from dy (batch, seq, O).</summary>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int batch, int seqLen)
    {
        Guard.Length(dy.Length, batch * seqLen * OutputSize, $"(batch={batch}, seq={seqLen}, O={OutputSize})");
        Inner.Backward(dx, dy, batch * seqLen);
    }

    /// <summary>
    /// Per-step softmax cross-entropy: logits (batch, seq, C), targets (batch, seq), mask (batch, seq) of 0/1 or
    /// empty. Returns the mean over the unmasked steps (0 if every step is masked); masked targets are not read.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000", Justification = "The loss is typed by the model's T, which callers have in scope.")]
    public static T Loss(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> mask, int batch, int seqLen, int classes)
    {
        CheckLoss(logits, targets, mask, batch, seqLen, classes);
        return SoftmaxCrossEntropy.Forward(logits, targets, mask, classes);
    }

    /// <summary>Writes d(scale·<see cref="Loss"/>)/dlogits into dlogits (batch, seq, C), overwriting it; masked steps get 0.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000", Justification = "As Loss.")]
    public static void LossBackward(Span<T> dlogits, ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> mask, T scale, int batch, int seqLen, int classes)
    {
        CheckLoss(logits, targets, mask, batch, seqLen, classes);
        SoftmaxCrossEntropy.Backward(dlogits, logits, targets, mask, scale, classes);
    }

    private static void CheckLoss(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, ReadOnlySpan<T> mask, int batch, int seqLen, int classes)
    {
        Guard.AtLeast(batch, 1); Guard.AtLeast(seqLen, 1); Guard.AtLeast(classes, 1);
        Guard.Length(targets.Length, batch * seqLen, $"(batch={batch}, seq={seqLen})");
        Guard.Length(logits.Length, batch * seqLen * classes, $"(batch={batch}, seq={seqLen}, C={classes})");
        Guard.Mask(mask, batch, seqLen);
    }

    /// <summary>Disposes the wrapped Dense.</summary>
    public void Dispose() => Inner.Dispose();
}
