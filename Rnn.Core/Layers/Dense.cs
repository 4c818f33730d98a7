using System.Numerics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Tape;

namespace Rnn.Layers;

/// <summary>
/// Fully connected layer y = f(x·Wᵀ + b) over rows: x (n, in) → y (n, out), where n is the batch
/// (or batch·seq for per-step use). PyTorch names and layout: weight (out, in), bias (out).
/// Weights start as Glorot uniform (Lasagne's and Keras's default), the bias at zero.
/// </summary>
public sealed class Dense<T> : Layer<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Input features.</summary>
    public int InputSize { get; }
    /// <summary>Output features.</summary>
    public int OutputSize { get; }
    /// <summary>The nonlinearity f.</summary>
    public Activation Activation { get; }
    /// <summary>(out, in).</summary>
    public Parameter<T> Weight { get; }
    /// <summary>(out).</summary>
    public Parameter<T> Bias { get; }

    private readonly Tape<T> _tape = new();
    private Slot _x, _y, _dz;

    /// <summary>Creates the layer; <paramref name="name"/> prefixes the parameter names ("" gives weight, bias); a null rng leaves the weight at zero (for loading).</summary>
    public Dense(int inputSize, int outputSize, Rng? rng, Activation activation = Activation.Linear, string name = "")
    {
        Guard.AtLeast(inputSize, 1); Guard.AtLeast(outputSize, 1);
        InputSize = inputSize; OutputSize = outputSize; Activation = activation;
        string p = name.Length == 0 ? "" : name + ".";
        Weight = Add(new Parameter<T>(p + "weight", [outputSize, inputSize]));
        Bias = Add(new Parameter<T>(p + "bias", [outputSize]));
        if (rng != null) Initializers.GlorotUniform<T>(Weight.Value, rng, inputSize, outputSize);
    }

    /// <summary>y (n, out) = f(x (n, in)·Wᵀ + b); records x and y for Backward.</summary>
    public void Forward(Span<T> y, ReadOnlySpan<T> x, int n)
    {
        Guard.AtLeast(n, 1);
        Guard.Length(x.Length, n * InputSize, $"(n={n}, in={InputSize})");
        Guard.Length(y.Length, n * OutputSize, $"(n={n}, out={OutputSize})");
        Guard.Finite(x);
        if (_tape.Begin(n, 1))
        {
            _x = _tape.Add("x", n, InputSize);   // (n, in)
            _y = _tape.Add("y", n, OutputSize);  // (n, out)
            _dz = _tape.Add("dz", n, OutputSize); // (n, out) gradient before f
            _tape.Commit();
        }
        x.CopyTo(_tape[_x]);
        Vec.BroadcastRows<T>(y, Bias.Value, n, OutputSize);
        Gemm.Multiply(y, x, Weight.Value, false, true, T.One, T.One, n, OutputSize, InputSize);
        Activations.Forward(y, y, Activation);
        y.CopyTo(_tape[_y]);
    }

    /// <summary>y (n, out) = f(x (n, in)·Wᵀ + b) for inference: reads only the weights (thread-safe, records nothing).</summary>
    public void Infer(Span<T> y, ReadOnlySpan<T> x, int n)
    {
        Guard.Length(x.Length, n * InputSize, $"(n={n}, in={InputSize})");
        Guard.Length(y.Length, n * OutputSize, $"(n={n}, out={OutputSize})");
        Vec.BroadcastRows<T>(y, Bias.Value, n, OutputSize);
        Gemm.Multiply(y, x, Weight.Value, false, true, T.One, T.One, n, OutputSize, InputSize);
        Activations.Forward(y, y, Activation);
    }

    /// <summary>Accumulates into weight/bias gradients and into dx (n, in) when not empty; dy is (n, out).</summary>
    public void Backward(Span<T> dx, ReadOnlySpan<T> dy, int n)
    {
        if (_tape.Batch != n) throw new InvalidOperationException($"Backward: expected n={_tape.Batch} from the last Forward, got {n}.");
        Guard.Length(dy.Length, n * OutputSize, $"(n={n}, out={OutputSize})");
        var dz = _tape[_dz];
        Activations.Backward(dz, _tape[_y], dy, Activation);
        Gemm.Multiply(Weight.Grad, dz, _tape[_x], true, false, T.One, T.One, OutputSize, InputSize, n);
        Vec.AddColumnSums<T>(Bias.Grad, dz, n, OutputSize);
        if (dx.IsEmpty) return;
        Guard.Length(dx.Length, n * InputSize, $"(n={n}, in={InputSize})");
        Gemm.Multiply(dx, dz, Weight.Value, false, false, T.One, T.One, n, InputSize, OutputSize);
    }

    /// <summary>Returns the tape's memory to the pool.</summary>
    public void Dispose() => _tape.Dispose();
}
