using System.Numerics;

namespace Rnn.Optimizers;

/// <summary>
/// SGD with optional momentum and Nesterov, PyTorch's formulation: v = μ·v + g; p −= lr·v
/// (Nesterov: p −= lr·(g + μ·v)). Row-sparse parameters update touched rows only (lazy momentum).
/// </summary>
public sealed class Sgd<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][]? _v;
    /// <summary>Momentum μ (0 = plain SGD).</summary>
    public double Momentum { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>Creates the optimizer.</summary>
    public Sgd(IEnumerable<Parameter<T>> parameters, double learningRate, double momentum = 0, bool nesterov = false)
        : base(parameters, learningRate)
    {
        CheckDecay(momentum, nameof(momentum)); // NaN included
        if (nesterov && momentum == 0) throw new ArgumentException("nesterov: expected momentum > 0 with Nesterov, got 0.", nameof(nesterov));
        Momentum = momentum; Nesterov = nesterov;
        if (momentum > 0) _v = NewState();
    }

    private protected override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update(int index, Parameter<T> p, int offset, int count, T gradScale)
    {
        T lr = T.CreateTruncating(LearningRate), mu = T.CreateTruncating(Momentum);
        var w = p.Value.AsSpan(offset, count); var g = p.Grad.AsSpan(offset, count);
        if (_v is null) { for (int i = 0; i < count; i++) w[i] -= lr * gradScale * g[i]; return; }
        var v = _v[index].AsSpan(offset, count);
        for (int i = 0; i < count; i++)
        {
            T gi = gradScale * g[i];
            v[i] = mu * v[i] + gi;
            w[i] -= lr * (Nesterov ? gi + mu * v[i] : v[i]);
        }
    }
}
