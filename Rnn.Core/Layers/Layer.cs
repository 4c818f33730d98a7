using System.Numerics;

namespace Rnn.Layers;

/// <summary>
/// Base of every layer: a parameter registry and a train/eval switch. Each concrete layer has its own
/// <c>Forward(outputs..., inputs..., sizes...)</c> and <c>Backward(dInputs..., dOutputs..., sizes...)</c>
/// side by side; Backward reads what Forward recorded on the layer's tape and accumulates into
/// every gradient buffer, parameter gradients and input gradients alike.
/// </summary>
public abstract class Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<Parameter<T>> _parameters = new();

    /// <summary>The layer's trainable parameters, in a fixed order.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>Training mode (dropout active, tape recorded). Default true.</summary>
    public bool Training { get; set; } = true;

    /// <summary>Registers a parameter; called from constructors.</summary>
    protected Parameter<T> Add(Parameter<T> p) { _parameters.Add(p); return p; }

    /// <summary>Clears every parameter gradient.</summary>
    public void ZeroGrad() { foreach (var p in _parameters) p.ZeroGrad(); }
}
