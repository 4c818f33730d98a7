using System.Numerics;
using System.Runtime.InteropServices;

namespace Rnn.Optimizers;

/// <summary>
/// Adam (Kingma &amp; Ba) with Keras's defaults: lr 1e-3, β1 0.9, β2 0.999, ε 1e-7 (PyTorch uses ε 1e-8: pass it).
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·m̂/(√v̂ + ε), with bias corrections from the global step.
/// Row-sparse parameters are updated lazily, like PyTorch's SparseAdam / TF's LazyAdam: only the rows
/// touched this step have their moments decayed and their values moved.
/// </summary>
public sealed class Adam<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] _m, _v;
    /// <summary>β1.</summary>
    public double Beta1 { get; }
    /// <summary>β2.</summary>
    public double Beta2 { get; }
    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Creates the optimizer; β1 and β2 must be in [0, 1), ε finite and &gt; 0.</summary>
    public Adam(IEnumerable<Parameter<T>> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7)
        : base(parameters, learningRate)
    {
        Beta1 = CheckDecay(beta1, nameof(beta1)); Beta2 = CheckDecay(beta2, nameof(beta2)); Epsilon = CheckEpsilon(epsilon, nameof(epsilon));
        _m = NewState(); _v = NewState();
    }

    // Per-step constants (BeginStep): β1, β2, 1−β1, 1−β2, ε in T; lr_t = lr/(1−β1^t) and 1/√(1−β2^t).
    private T _b1, _b2, _c1, _c2, _eps, _stepSize, _invSqrtBc2;

    /// <inheritdoc/>
    protected override void BeginStep()
    {
        double t = StepCount;
        double bc1 = 1 - Math.Pow(Beta1, t), bc2 = 1 - Math.Pow(Beta2, t);
        _b1 = T.CreateTruncating(Beta1); _b2 = T.CreateTruncating(Beta2);
        _c1 = T.One - _b1; _c2 = T.One - _b2;
        _eps = T.CreateTruncating(Epsilon);
        _stepSize = T.CreateTruncating(LearningRate / bc1);
        _invSqrtBc2 = T.CreateTruncating(1 / Math.Sqrt(bc2));
    }

    /// <inheritdoc/>
    protected override void PrefetchRow(int index, Parameter<T> p, int offset, int count)
    {
        base.PrefetchRow(index, p, offset, count);
        Kernels.Vec.Prefetch<T>(_m[index].AsSpan(offset, count));
        Kernels.Vec.Prefetch<T>(_v[index].AsSpan(offset, count));
    }

    private protected override bool ElementwiseUpdate => true;

    /// <inheritdoc/>
    protected override void Update(int index, Parameter<T> p, int offset, int count, T gradScale)
    {
        // lr_t = lr·√(1−β2^t)/(1−β1^t), ε scaled the same way as PyTorch's √v̂ + ε form.
        T b1 = _b1, b2 = _b2, c1 = _c1, c2 = _c2, eps = _eps, stepSize = _stepSize, invSqrtBc2 = _invSqrtBc2;
        var w = p.Value.AsSpan(offset, count); var g = p.Grad.AsSpan(offset, count);
        var m = _m[index].AsSpan(offset, count); var v = _v[index].AsSpan(offset, count);
        ref T rw = ref MemoryMarshal.GetReference(w); ref T rg = ref MemoryMarshal.GetReference(g);
        ref T rm = ref MemoryMarshal.GetReference(m); ref T rv = ref MemoryMarshal.GetReference(v);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // The same operations in the same order per element as the loop below (no fused multiply-add):
            // identical results, a vector at a time.
            var vb1 = new Vector<T>(b1); var vb2 = new Vector<T>(b2); var vc1 = new Vector<T>(c1); var vc2 = new Vector<T>(c2);
            var vs = new Vector<T>(gradScale); var vstep = new Vector<T>(stepSize); var vinv = new Vector<T>(invSqrtBc2); var veps = new Vector<T>(eps);
            for (; i + Vector<T>.Count <= count; i += Vector<T>.Count)
            {
                nuint u = (nuint)i;
                var gi = vs * Vector.LoadUnsafe(ref rg, u);
                var mi = vb1 * Vector.LoadUnsafe(ref rm, u) + vc1 * gi;
                var vi = vb2 * Vector.LoadUnsafe(ref rv, u) + vc2 * gi * gi;
                mi.StoreUnsafe(ref rm, u); vi.StoreUnsafe(ref rv, u);
                (Vector.LoadUnsafe(ref rw, u) - vstep * mi / (Vector.SquareRoot(vi) * vinv + veps)).StoreUnsafe(ref rw, u);
            }
        }
        for (; i < count; i++)
        {
            T gi = gradScale * g[i];
            m[i] = b1 * m[i] + c1 * gi;
            v[i] = b2 * v[i] + c2 * gi * gi;
            w[i] -= stepSize * m[i] / (T.Sqrt(v[i]) * invSqrtBc2 + eps);
        }
    }
}
