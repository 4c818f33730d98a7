using System.Numerics;

namespace Rnn.Optimizers;

/// <summary>
/// Adagrad with Lasagne's rule: accu += g²; p −= lr·g/√(accu + ε), ε = 1e-6 by default
/// (min-char-rnn has the same form with ε = 1e-8; PyTorch uses √accu + ε: pass <c>epsilonInsideSqrt: false</c>).
/// Row-sparse parameters update touched rows only, which is exact for Adagrad (a zero gradient leaves accu and p unchanged).
/// </summary>
public sealed class Adagrad<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] _accu;
    /// <summary>ε.</summary>
    public double Epsilon { get; }
    /// <summary>True: √(accu + ε) (Lasagne, min-char-rnn). False: √accu + ε (PyTorch).</summary>
    public bool EpsilonInsideSqrt { get; }

    /// <summary>Creates the optimizer; ε must be finite and &gt; 0.</summary>
    public Adagrad(IEnumerable<Parameter<T>> parameters, double learningRate, double epsilon = 1e-6, bool epsilonInsideSqrt = true)
        : base(parameters, learningRate)
    {
        Epsilon = CheckEpsilon(epsilon, nameof(epsilon)); EpsilonInsideSqrt = epsilonInsideSqrt;
        _accu = NewState();
    }

    private protected override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update(int index, Parameter<T> p, int offset, int count, T gradScale)
    {
        T lr = T.CreateTruncating(LearningRate), eps = T.CreateTruncating(Epsilon);
        var w = p.Value.AsSpan(offset, count); var g = p.Grad.AsSpan(offset, count); var a = _accu[index].AsSpan(offset, count);
        for (int i = 0; i < count; i++)
        {
            T gi = gradScale * g[i];
            a[i] += gi * gi;
            w[i] -= lr * gi / (EpsilonInsideSqrt ? T.Sqrt(a[i] + eps) : T.Sqrt(a[i]) + eps);
        }
    }
}
