using System.Numerics;
using Rnn.Init;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// The <see cref="Model{T}"/> a <see cref="ModelSpec"/> describes: [Embedding "embedding"] → recurrent stack "rnn"
/// (dropout between) → [Dropout "dropout"] → Dense "fc", on the final state or at every step. A builder over
/// <see cref="Model{T}"/> with typed access to its parts; parameter names follow PyTorch: "embedding.weight",
/// "rnn.weight_ih_l0", "rnn.weight_hh_l1_reverse", "fc.weight", "fc.bias". Checkpoints keep the ModelSpec metadata.
/// </summary>
public sealed class SequenceModel<T> : Model<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The architecture.</summary>
    public ModelSpec Spec { get; }
    /// <summary>The token embedding, when the input is tokens.</summary>
    public Embedding<T>? Embedding { get; }
    /// <summary>The recurrent layers, bottom first (each may be a <see cref="Bidirectional{T}"/>).</summary>
    public IReadOnlyList<IRecurrentLayer<T>> Recurrent { get; }
    /// <summary>The head.</summary>
    public Dense<T> Head { get; }

    /// <summary>
    /// Builds the model with weights drawn from <paramref name="rng"/>; null leaves every parameter at zero, for a
    /// caller that writes them all (loading a checkpoint), skipping the cost of initialisation.
    /// </summary>
    public SequenceModel(ModelSpec spec, Rng? rng) : base(Validated(spec).FeatureSizeOfInput(), rng, spec.ToLayers())
    {
        Spec = spec;
        Embedding = spec.Vocab > 0 ? (Embedding<T>)Layer("embedding") : null;
        Recurrent = spec.Layers > 0 ? (IReadOnlyList<IRecurrentLayer<T>>)Layer("rnn") : [];
        Head = (Dense<T>)Layer("fc");
    }

    private static ModelSpec Validated(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (spec.Layers == 0 && !spec.PerStep)
            throw new ArgumentException("ModelSpec.PerStep: expected true when Layers = 0 (a Dense per position), got false.", nameof(spec));
        return spec;
    }
}
