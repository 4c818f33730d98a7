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
    /// reads every parameter. Everything is checked before the model is allocated: the metadata (each key present,
    /// well-formed and in range, each size within what the file's bytes can hold), then every tensor against the
    /// architecture (present, exact shape, floating-point dtype, nothing extra). Any problem with the file's content
    /// throws <see cref="SafeTensorsException"/> naming the file and the tensor or metadata key, with the expected
    /// and the actual value; a path that is not a regular file (a FIFO, a device, a directory) is refused before it
    /// is opened. A missing or unreadable file throws the usual <see cref="IOException"/> family.
    /// The returned model is in evaluation mode (Training = false).
    /// </summary>
    public static SequenceModel<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
        => Load<T>(path, out _);

    /// <summary>As <see cref="Load{T}(string)"/>, also returning the file's metadata (one open, one header parse).</summary>
    public static SequenceModel<T> Load<T>(string path, out IReadOnlyDictionary<string, string> metadata) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = SafeTensors.Load(path);
        metadata = file.Metadata;
        var spec = CheckArchitecture(file);
        var model = new SequenceModel<T>(spec, rng: null); // every value is read below: skip initialisation
        try
        {
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

    /// <summary>
    /// The architecture of an open checkpoint, checked against the file before anything is allocated: throws
    /// <see cref="SafeTensorsException"/> naming the metadata key or the tensor.
    /// </summary>
    internal static ModelSpec CheckArchitecture(SafeTensorsFile file)
    {
        string path = file.Source;
        var spec = ModelSpec.FromMetadata(file.Metadata, (key, message) => new SafeTensorsException(path, null, $"metadata '{key}': {message}"));
        // A file cannot hold more parameters than it has bytes: at 2 bytes a value (F16, BF16), the data buffer bounds
        // every size and their total before the model is built from them.
        long bytes = 0;
        foreach (var t in file.Tensors) bytes += t.End - t.Begin; // the tensors tile the buffer (checked by the parser)
        long most = bytes / 2;
        foreach (var (key, value, used) in new[] {
            ("rnn.input_size", spec.InputSize, spec.Vocab == 0), ("rnn.vocab", spec.Vocab, spec.Vocab > 0),
            ("rnn.embedding_dim", spec.EmbeddingDim, spec.Vocab > 0), ("rnn.hidden", spec.Hidden, spec.Layers > 0),
            ("rnn.output_size", spec.OutputSize, true) })
            if (used && value > most)
                throw new SafeTensorsException(path, null, $"metadata '{key}': expected at most {most} (the file's {bytes} data bytes hold no more 2-byte values), got {value}.");
        var shapes = spec.ParameterShapes();
        Int128 total = 0, emb = 0, rec = 0;
        foreach (var (name, shape) in shapes)
        {
            Int128 n = 1;
            foreach (long d in shape) n *= d;
            total += n;
            if (name.StartsWith("embedding.", StringComparison.Ordinal)) emb += n;
            else if (name.StartsWith("rnn.", StringComparison.Ordinal)) rec += n;
        }
        // Name the keys of the largest part: the embedding, the recurrent stack or the head.
        string keys = emb >= rec && emb >= total - emb - rec ? "'rnn.vocab', 'rnn.embedding_dim'" : rec >= total - emb - rec ? "'rnn.layers', 'rnn.hidden'" : "'rnn.output_size'";
        if (total > most)
            throw new SafeTensorsException(path, null,
                $"metadata {keys}: expected an architecture of at most {most} parameters (the file's {bytes} data bytes at 2 bytes a value), got {total} " +
                $"(rnn.layers={spec.Layers}, rnn.hidden={spec.Hidden}, rnn.vocab={spec.Vocab}, rnn.embedding_dim={spec.EmbeddingDim}, rnn.output_size={spec.OutputSize}).");
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape) in shapes)
        {
            wanted.Add(name);
            string expected = SafeTensors.ShapeText(shape);
            if (!file.Contains(name))
                throw new SafeTensorsException(path, name, $"missing: expected shape {expected} for this architecture.");
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(shape))
                throw new SafeTensorsException(path, name, $"expected shape {expected} for this architecture, got {info.ShapeText}.");
            if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw new SafeTensorsException(path, name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got {info.DType.Name()}.");
        }
        foreach (var t in file.Tensors)
            if (!wanted.Contains(t.Name))
                throw new SafeTensorsException(path, t.Name, $"unexpected for this architecture (shape {t.ShapeText}).");
        return spec;
    }

    /// <summary>The metadata of a checkpoint (architecture and extra entries), after full validation of the file.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var file = SafeTensors.Load(path);
        return new Dictionary<string, string>(file.Metadata);
    }
}
