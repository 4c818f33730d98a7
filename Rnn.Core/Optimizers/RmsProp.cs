using System.Numerics;

namespace Rnn.Optimizers;

/// <summary>
/// RMSprop (Keras/Lasagne form): a = ρ·a + (1−ρ)·g²; p −= lr·g/(√a + ε). Defaults lr 1e-3, ρ 0.9, ε 1e-7.
/// char-rnn uses lr 2e-3, ρ 0.95, ε 1e-8. Row-sparse parameters are updated lazily (touched rows only).
/// </summary>
public sealed class RmsProp<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] _a;
    /// <summary>ρ, the decay of the squared-gradient average.</summary>
    public double Rho { get; }
    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Creates the optimizer; ρ must be in [0, 1), ε finite and &gt; 0.</summary>
    public RmsProp(IEnumerable<Parameter<T>> parameters, double learningRate = 1e-3, double rho = 0.9, double epsilon = 1e-7)
        : base(parameters, learningRate)
    {
        Rho = CheckDecay(rho, nameof(rho)); Epsilon = CheckEpsilon(epsilon, nameof(epsilon));
        _a = NewState();
    }

    private protected override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update(int index, Parameter<T> p, int offset, int count, T gradScale)
    {
        T lr = T.CreateTruncating(LearningRate), rho = T.CreateTruncating(Rho), eps = T.CreateTruncating(Epsilon);
        var w = p.Value.AsSpan(offset, count); var g = p.Grad.AsSpan(offset, count); var a = _a[index].AsSpan(offset, count);
        for (int i = 0; i < count; i++)
        {
            T gi = gradScale * g[i];
            a[i] = rho * a[i] + (T.One - rho) * gi * gi;
            w[i] -= lr * gi / (T.Sqrt(a[i]) + eps);
        }
    }
}
