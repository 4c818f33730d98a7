using System.Numerics;

namespace Rnn.Losses;

/// <summary>
/// A loss over a model's output rows, for <see cref="Models.Trainer{T, TTarget}"/>: the value, its gradient (written,
/// never accumulated, so no buffer needs clearing) and a correctness count for accuracy. Targets are <typeparamref name="TTarget"/>
/// (values for BCE and MSE, class ids for softmax cross-entropy); weights are optional per-row weights (e.g. a sequence mask).
/// </summary>
public interface ILoss<T, TTarget> where T : unmanaged, IFloatingPointIeee754<T> where TTarget : unmanaged
{
    /// <summary>Targets per output row (1 for BCE and softmax cross-entropy; the output width for MSE).</summary>
    int TargetsPerRow(int outputWidth);
    /// <summary>The mean loss.</summary>
    T Forward(ReadOnlySpan<T> output, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights);
    /// <summary>Writes dL/doutput into grad (output's shape), overwriting it.</summary>
    void Backward(Span<T> grad, ReadOnlySpan<T> output, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights);
    /// <summary>Rows predicted correctly, and in <paramref name="counted"/> the rows that count (0 when accuracy has no meaning, e.g. MSE).</summary>
    int Correct(ReadOnlySpan<T> output, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> weights, out int counted);
}

/// <summary>Binary cross-entropy on logits (<see cref="BinaryCrossEntropy"/>), one logit and one target in [0, 1] per row; accuracy at ½.</summary>
public sealed class BinaryCrossEntropyLoss<T> : ILoss<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public int TargetsPerRow(int outputWidth) => outputWidth;
    /// <inheritdoc/>
    public T Forward(ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights)
    {
        NoWeights(weights);
        return BinaryCrossEntropy.Forward(output, targets);
    }
    /// <inheritdoc/>
    public void Backward(Span<T> grad, ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights)
    {
        NoWeights(weights);
        BinaryCrossEntropy.Backward(grad, output, targets, T.One);
    }
    /// <inheritdoc/>
    public int Correct(ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights, out int counted)
    {
        counted = output.Length;
        return BinaryCrossEntropy.Correct(output, targets);
    }
    private static void NoWeights(ReadOnlySpan<T> weights)
    {
        if (!weights.IsEmpty) throw new ArgumentException($"weights: expected empty (binary cross-entropy takes no row weights), got {weights.Length} elements.", nameof(weights));
    }
}

/// <summary>Mean squared error (<see cref="Mse"/>) over every output element; no accuracy.</summary>
public sealed class MseLoss<T> : ILoss<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public int TargetsPerRow(int outputWidth) => outputWidth;
    /// <inheritdoc/>
    public T Forward(ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights)
    {
        NoWeights(weights);
        return Mse.Forward(output, targets);
    }
    /// <inheritdoc/>
    public void Backward(Span<T> grad, ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights)
    {
        NoWeights(weights);
        Mse.Backward(grad, output, targets, T.One);
    }
    /// <inheritdoc/>
    public int Correct(ReadOnlySpan<T> output, ReadOnlySpan<T> targets, ReadOnlySpan<T> weights, out int counted) { counted = 0; return 0; }
    private static void NoWeights(ReadOnlySpan<T> weights)
    {
        if (!weights.IsEmpty) throw new ArgumentException($"weights: expected empty (MSE takes no row weights), got {weights.Length} elements.", nameof(weights));
    }
}

/// <summary>Softmax cross-entropy (<see cref="SoftmaxCrossEntropy"/>) over <see cref="Classes"/> logits per row, one class id per row; optional 0/1 row weights (a sequence mask).</summary>
public sealed class SoftmaxCrossEntropyLoss<T> : ILoss<T, int> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Classes C (the output width).</summary>
    public int Classes { get; }
    /// <summary>Creates the loss for <paramref name="classes"/> classes.</summary>
    public SoftmaxCrossEntropyLoss(int classes) { Guard.AtLeast(classes, 1); Classes = classes; }
    /// <inheritdoc/>
    public int TargetsPerRow(int outputWidth)
        => outputWidth == Classes ? 1 : throw new ArgumentException($"outputWidth: expected the loss's {Classes} classes, got a model output of {outputWidth}.", nameof(outputWidth));
    /// <inheritdoc/>
    public T Forward(ReadOnlySpan<T> output, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights) => SoftmaxCrossEntropy.Forward(output, targets, weights, Classes);
    /// <inheritdoc/>
    public void Backward(Span<T> grad, ReadOnlySpan<T> output, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights)
        => SoftmaxCrossEntropy.Backward(grad, output, targets, weights, T.One, Classes);
    /// <inheritdoc/>
    public int Correct(ReadOnlySpan<T> output, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights, out int counted)
    {
        counted = 0;
        if (weights.IsEmpty) counted = targets.Length;
        else for (int i = 0; i < weights.Length; i++) if (weights[i] != T.Zero) counted++;
        return SoftmaxCrossEntropy.Correct(output, targets, weights, Classes);
    }
}
