using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rnn.Init;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.IO;

/// <summary>
/// Model checkpoints: a <see cref="SequenceModel{T}"/>'s parameters as safetensors (PyTorch names, F32 or F64),
/// with its <see cref="ModelSpec"/> in <c>__metadata__</c>, so <see cref="Load{T}(string)"/> rebuilds the model without code.
/// Saves are atomic (temp file, flush, rename), so a crash mid-save leaves the previous file intact.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Saves the model; <paramref name="extra"/> adds metadata entries (keys must not start with "rnn."). A
    /// <see cref="SequenceModel{T}"/> writes its <see cref="ModelSpec"/> (format 1, which every release reads); any other
    /// <see cref="Model{T}"/> writes its layer list (format 2).
    /// </summary>
    public static void Save<T>(Model<T> model, string path, IReadOnlyDictionary<string, string>? extra = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var meta = model is SequenceModel<T> sm ? sm.Spec.ToMetadata() : ModelMetadata.ToMetadata(model.InputSize, model.Specs);
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

    /// <summary>The metadata key recording a reduced-precision checkpoint's weight format ("bf16" or "int8").</summary>
    public const string PrecisionKey = "rnn.weight_precision";
    /// <summary>The suffix of an I8 tensor's per-row scales: weight <c>name</c> (N, K) has <c>name.scale</c> (N), F32.</summary>
    public const string ScaleSuffix = ".scale";

    /// <summary>
    /// Saves a float model with its matrices (every rank-2 parameter: recurrent weights, embedding, head) in reduced
    /// precision, the vectors (biases, peepholes, initial states) as F32. BFloat16: BF16 tensors (round to nearest
    /// even). Int8: I8 tensors with one symmetric scale per row (max|w|/127) in an F32 tensor named
    /// <c>name</c> + <see cref="ScaleSuffix"/>. The metadata records the format under <see cref="PrecisionKey"/>;
    /// <see cref="Load{T}(string)"/> reads such a file back as float weights (bf16 widened exactly, int8 as q·scale),
    /// and <see cref="PrecisionOf"/> tells a caller which <see cref="WeightPrecision"/> to run its Predictor at.
    /// </summary>
    public static void SaveQuantized(SequenceModel<float> model, string path, WeightPrecision precision, IReadOnlyDictionary<string, string>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (precision is not (WeightPrecision.BFloat16 or WeightPrecision.Int8))
            throw new ArgumentOutOfRangeException(nameof(precision), $"precision: expected BFloat16 or Int8 (Save writes float32), got {precision}.");
        var meta = model.Spec.ToMetadata();
        if (extra != null)
            foreach (var (k, v) in extra)
            {
                if (k.StartsWith("rnn.", StringComparison.Ordinal))
                    throw new ArgumentException($"extra: key '{k}' is reserved (the \"rnn.\" prefix holds the architecture).", nameof(extra));
                meta[k] = v;
            }
        meta[PrecisionKey] = precision == WeightPrecision.Int8 ? "int8" : "bf16";
        var tensors = new List<NamedTensor>();
        foreach (var (name, p) in model.NamedParameters)
        {
            var w = p.Value;
            if (p.Shape.Length != 2) { tensors.Add(NamedTensor.F32(name, p.Shape, w)); continue; }
            if (precision == WeightPrecision.BFloat16)
            {
                var b = new ushort[w.Length];
                for (int i = 0; i < w.Length; i++) b[i] = BFloat16.FromFloat(w[i]);
                tensors.Add(NamedTensor.BF16(name, p.Shape, b));
                continue;
            }
            int rows = p.Shape[0], cols = p.Shape[1];
            var q = new sbyte[w.Length]; var scale = new float[rows];
            QuantMatrix.QuantiseRows(w, rows, cols, q, scale);
            tensors.Add(NamedTensor.I8(name, p.Shape, q));
            tensors.Add(NamedTensor.F32(name + ScaleSuffix, [rows], scale));
        }
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>
    /// The weight precision a checkpoint was saved at (<see cref="PrecisionKey"/>: Float32 when absent), for
    /// <c>new Predictor&lt;float&gt;(model, Checkpoint.PrecisionOf(metadata))</c>.
    /// </summary>
    public static WeightPrecision PrecisionOf(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(PrecisionKey, out var v)) return WeightPrecision.Float32;
        return v switch
        {
            "bf16" => WeightPrecision.BFloat16,
            "int8" => WeightPrecision.Int8,
            _ => throw new ArgumentException($"metadata: '{PrecisionKey}' expected bf16 or int8, got '{(v.Length > 20 ? v[..20] + "..." : v)}'.", nameof(metadata)),
        };
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
        if (file.Metadata.TryGetValue("rnn.format", out var format) && format == "2")
            throw new SafeTensorsException(file.Source, null, "metadata 'rnn.format': expected 1 (a SequenceModel), got 2 (a layer list): load it with Checkpoint.LoadModel.");
        var spec = CheckArchitecture(file);
        return (SequenceModel<T>)Read(file, new SequenceModel<T>(spec, rng: null)); // every value is read: skip initialisation
    }

    /// <summary>
    /// Loads any checkpoint written by <see cref="Save{T}"/>: a layer list (format 2) as a <see cref="Model{T}"/>, a
    /// <see cref="ModelSpec"/> (format 1, every release so far) as a <see cref="SequenceModel{T}"/>. Checked as
    /// <see cref="Load{T}(string)"/> before anything is allocated; the model is returned in evaluation mode.
    /// </summary>
    public static Model<T> LoadModel<T>(string path) where T : unmanaged, IFloatingPointIeee754<T> => LoadModel<T>(path, out _);

    /// <summary>As <see cref="LoadModel{T}(string)"/>, also returning the file's metadata.</summary>
    public static Model<T> LoadModel<T>(string path, out IReadOnlyDictionary<string, string> metadata) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var file = SafeTensors.Load(path);
        metadata = file.Metadata;
        if (!(file.Metadata.TryGetValue("rnn.format", out var format) && format == "2"))
            return Read(file, new SequenceModel<T>(CheckArchitecture(file), rng: null));
        string src = file.Source;
        var (input, layers) = ModelMetadata.FromMetadata(file.Metadata, (key, message) => new SafeTensorsException(src, null, $"metadata '{key}': {message}"));
        CheckTensors(file, ModelMetadata.ParameterShapes(input, layers, (key, message) => new SafeTensorsException(src, null, $"metadata '{key}': {message}")));
        return Read(file, new Model<T>(input, null, layers));
    }

    private static Model<T> Read<T>(SafeTensorsFile file, Model<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        try
        {
            foreach (var (name, p) in model.NamedParameters)
            {
                if (file.Info(name).DType == SafeTensorsDType.I8)
                {
                    // A float embedding table stays int8 until its values are read: a lookup dequantises its rows.
                    if (typeof(T) == typeof(float) && p.TouchedRows != null) p.DeferInt8(ReadInt8Rows(file, name, p.Shape[0], p.Shape[1]));
                    else ReadInt8(file, name, p.Value, p.Shape[0], p.Shape[1]);
                }
                else if (typeof(T) == typeof(float)) file.ReadFloat(name, MemoryMarshal.Cast<T, float>(p.Value.AsSpan()));
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

    // An I8 matrix (rows, cols) and its F32 scales (rows), as float q·scale; the scales are checked (finite, ≥ 0) first.
    private static void ReadInt8<T>(SafeTensorsFile file, string name, T[] dst, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var scale = ReadScales(file, name, rows);
        // Whole rows at a time through a 64 KB buffer that stays in cache: a copy of the whole tensor (2.5 MB for a
        // 20000 × 128 embedding) would cost fresh pages, measured at ~10 ms more than an F32 load at start-up.
        int chunkRows = Math.Max(1, (64 << 10) / Math.Max(cols, 1));
        var buffer = new byte[Math.Min(rows, chunkRows) * cols];
        for (int r0 = 0; r0 < rows; r0 += chunkRows)
        {
            int n = Math.Min(chunkRows, rows - r0);
            var q = MemoryMarshal.Cast<byte, sbyte>(buffer.AsSpan(0, n * cols));
            file.ReadBytes(name, (long)r0 * cols, MemoryMarshal.AsBytes(q));
            if (typeof(T) == typeof(float))
                Dequantise(q, scale.AsSpan(r0, n), MemoryMarshal.Cast<T, float>(dst.AsSpan(r0 * cols, n * cols)), n, cols);
            else
                for (int r = 0; r < n; r++)
                    for (int k = 0; k < cols; k++) dst[(r0 + r) * cols + k] = T.CreateTruncating((float)q[r * cols + k] * scale[r0 + r]);
        }
    }

    // The same I8 matrix kept as it is: its bytes and checked scales.
    private static Int8Rows ReadInt8Rows(SafeTensorsFile file, string name, int rows, int cols)
    {
        var scale = ReadScales(file, name, rows);
        var q = new sbyte[(long)rows * cols];
        file.ReadBytes(name, 0, System.Runtime.InteropServices.MemoryMarshal.AsBytes(q.AsSpan()));
        return new Int8Rows(q, scale, cols);
    }

    private static float[] ReadScales(SafeTensorsFile file, string name, int rows)
    {
        var scale = new float[rows];
        file.ReadFloat(name + ScaleSuffix, scale);
        for (int r = 0; r < rows; r++)
            if (!float.IsFinite(scale[r]) || scale[r] < 0)
                throw new SafeTensorsException(file.Source, name + ScaleSuffix, $"expected finite scales ≥ 0, got {scale[r]} at row {r}.");
        return scale;
    }

    /// <summary>
    /// dst (rows, cols) = q · scale per row. (float)q is exact and the product rounds once, so the Vector256 path gives
    /// the scalar path's bits; it keeps loading an int8 checkpoint (a 20000-row embedding) from costing more than F32's.
    /// </summary>
    internal static void Dequantise(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scale, Span<float> dst, int rows, int cols, bool vector = true)
    {
        Guard.Length(q.Length, rows * cols, $"(rows={rows}, cols={cols})");
        Guard.Length(scale.Length, rows, $"(rows={rows})");
        Guard.Length(dst.Length, rows * cols, $"(rows={rows}, cols={cols})");
        for (int r = 0; r < rows; r++)
        {
            var qr = q.Slice(r * cols, cols);
            var dr = dst.Slice(r * cols, cols);
            float s = scale[r];
            int k = 0;
            if (vector && Vector256.IsHardwareAccelerated)
            {
                var vs = Vector256.Create(s);
                for (; k <= cols - 16; k += 16)
                {
                    var b = Vector128.Create(qr.Slice(k, 16));                    // 16 × i8
                    var lo = Vector128.WidenLower(b);                             // 8 × i16
                    var hi = Vector128.WidenUpper(b);
                    var i0 = Vector256.Create(Vector128.WidenLower(lo), Vector128.WidenUpper(lo)); // 8 × i32
                    var i1 = Vector256.Create(Vector128.WidenLower(hi), Vector128.WidenUpper(hi));
                    (Vector256.ConvertToSingle(i0) * vs).CopyTo(dr.Slice(k, 8));
                    (Vector256.ConvertToSingle(i1) * vs).CopyTo(dr.Slice(k + 8, 8));
                }
            }
            for (; k < cols; k++) dr[k] = qr[k] * s;
        }
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
        // An int8 checkpoint holds 1-byte values.
        bool int8 = file.Metadata.TryGetValue(PrecisionKey, out var prec) && prec == "int8";
        if (file.Metadata.ContainsKey(PrecisionKey) && prec is not ("bf16" or "int8"))
            throw new SafeTensorsException(path, null, $"metadata '{PrecisionKey}': expected bf16 or int8, got '{(prec!.Length > 20 ? prec[..20] + "..." : prec)}'.");
        if (!int8)
            foreach (var t in file.Tensors)
                if (t.DType == SafeTensorsDType.I8)
                    throw new SafeTensorsException(path, t.Name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got I8 without metadata '{PrecisionKey}' = int8.");
        long most = int8 ? bytes : bytes / 2;
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
                $"metadata {keys}: expected an architecture of at most {most} parameters (the file's {bytes} data bytes at {(int8 ? 1 : 2)} bytes a value), got {total} " +
                $"(rnn.layers={spec.Layers}, rnn.hidden={spec.Hidden}, rnn.vocab={spec.Vocab}, rnn.embedding_dim={spec.EmbeddingDim}, rnn.output_size={spec.OutputSize}).");
        CheckTensors(file, shapes);
        return spec;
    }

    // Every tensor against the architecture: present, exact shape, floating-point dtype, nothing extra; and the total
    // within what the file's bytes hold (checked before the model is allocated).
    private static void CheckTensors(SafeTensorsFile file, List<(string Name, long[] Shape)> shapes)
    {
        string path = file.Source;
        long bytes = 0;
        foreach (var t in file.Tensors) bytes += t.End - t.Begin;
        Int128 total = 0;
        foreach (var (_, shape) in shapes)
        {
            Int128 n = 1;
            foreach (long d in shape) n *= d;
            total += n;
        }
        // An int8 checkpoint holds 1-byte values, any other at least 2 (checked against the precision key by CheckArchitecture).
        bool int8 = file.Metadata.TryGetValue(PrecisionKey, out var prec) && prec == "int8";
        long most = int8 ? bytes : bytes / 2;
        if (total > most)
            throw new SafeTensorsException(path, null, $"metadata: expected an architecture of at most {most} parameters (the file's {bytes} data bytes at {(int8 ? 1 : 2)} bytes a value), got {total}.");
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
            if (info.DType == SafeTensorsDType.I8 && int8 && shape.Length == 2)
            {
                // its per-row scales: present, F32, (rows)
                string sn = name + ScaleSuffix;
                wanted.Add(sn);
                if (!file.Contains(sn))
                    throw new SafeTensorsException(path, sn, $"missing: expected the F32 scales ({shape[0]}) of I8 tensor '{name}'.");
                var si = file.Info(sn);
                if (si.DType != SafeTensorsDType.F32)
                    throw new SafeTensorsException(path, sn, $"expected dtype F32 for the scales of '{name}', got {si.DType.Name()}.");
                if (si.Shape.Count != 1 || si.Shape[0] != shape[0])
                    throw new SafeTensorsException(path, sn, $"expected shape ({shape[0]}) (a scale per row of '{name}'), got {si.ShapeText}.");
            }
            else if (info.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
                throw new SafeTensorsException(path, name, info.DType == SafeTensorsDType.I8
                    ? $"expected a floating-point dtype (F32, F64, F16 or BF16), got I8{(int8 ? " for a tensor that is not a matrix" : $" without metadata '{PrecisionKey}' = int8")}."
                    : $"expected a floating-point dtype (F32, F64, F16 or BF16), got {info.DType.Name()}.");
        }
        foreach (var t in file.Tensors)
            if (!wanted.Contains(t.Name))
                throw new SafeTensorsException(path, t.Name, $"unexpected for this architecture (shape {t.ShapeText}).");
    }

    /// <summary>The metadata of a checkpoint (architecture and extra entries), after full validation of the file.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var file = SafeTensors.Load(path);
        return new Dictionary<string, string>(file.Metadata);
    }
}
