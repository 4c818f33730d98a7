using System.Numerics;
using System.Runtime.InteropServices;
using Rnn.Init;
using Rnn.Models;

namespace Rnn.IO;

/// <summary>
/// Model checkpoints: a <see cref="SequenceModel{T}"/>'s parameters as safetensors (PyTorch names, F32 or F64),
/// with its <see cref="ModelSpec"/> in <c>__metadata__</c>, so <see cref="Load{T}(string)"/> rebuilds the model without code.
/// Saves are atomic (temp file, flush, rename), so a crash mid-save leaves the previous file intact.
/// </summary>
public static class Checkpoint
{
    /// <summary>Saves the model; <paramref name="extra"/> adds metadata entries (keys must not start with "rnn.").</summary>
    public static void Save<T>(SequenceModel<T> model, string path, IReadOnlyDictionary<string, string>? extra = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var meta = model.Spec.ToMetadata();
        if (extra != null)
            foreach (var (k, v) in extra)
            {
                if (k.StartsWith("rnn.", StringComparison.Ordinal))
                    throw new ArgumentException($"extra: key '{k}' is reserved (the \"rnn.\" prefix holds the architecture).", nameof(extra));
                meta[k] = v;
            }
        var tensors = model.NamedParameters.Select(np => typeof(T) == typeof(float)
            ? NamedTensor.F32(np.Name, np.Parameter.Shape, (float[])(object)np.Parameter.Value)
            : NamedTensor.F64(np.Name, np.Parameter.Shape, (double[])(object)np.Parameter.Value));
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>
    /// Loads a checkpoint written by <see cref="Save{T}"/>: rebuilds the architecture from the metadata, then
    /// reads every parameter. A missing or unexpected tensor or a wrong shape throws <see cref="SafeTensorsException"/>
    /// naming the tensor; a malformed architecture throws <see cref="InvalidDataException"/> naming the key.
    /// The returned model is in evaluation mode (Training = false).
    /// </summary>
    public static SequenceModel<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
        => Load<T>(path, out _);

    /// <summary>As <see cref="Load{T}(string)"/>, also returning the file's metadata (one open, one header parse).</summary>
    public static SequenceModel<T> Load<T>(string path, out IReadOnlyDictionary<string, string> metadata) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = SafeTensors.Load(path);
        metadata = file.Metadata;
        var spec = ModelSpec.FromMetadata(file.Metadata);
        var model = new SequenceModel<T>(spec, rng: null); // every value is read below: skip initialisation
        try
        {
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, p) in model.NamedParameters)
            {
                wanted.Add(name);
                if (!file.Contains(name))
                    throw new SafeTensorsException(path, name, $"missing: expected shape {p.ShapeText} for this architecture.");
                var info = file.Info(name);
                if (!info.Shape.SequenceEqual(p.Shape.Select(d => (long)d)))
                    throw new SafeTensorsException(path, name, $"expected shape {p.ShapeText} for this architecture, got {info.ShapeText}.");
            }
            foreach (var t in file.Tensors)
                if (!wanted.Contains(t.Name))
                    throw new SafeTensorsException(path, t.Name, $"unexpected for this architecture (shape {t.ShapeText}).");
            foreach (var (name, p) in model.NamedParameters)
            {
                if (typeof(T) == typeof(float)) file.ReadFloat(name, MemoryMarshal.Cast<T, float>(p.Value.AsSpan()));
                else file.ReadDouble(name, MemoryMarshal.Cast<T, double>(p.Value.AsSpan()));
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.Training = false;
        return model;
    }

    /// <summary>The metadata of a checkpoint (architecture and extra entries), after full validation of the file.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var file = SafeTensors.Load(path);
        return new Dictionary<string, string>(file.Metadata);
    }
}
