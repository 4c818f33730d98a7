using System.Numerics;
using Rnn.Layers;

namespace Rnn.IO;

/// <summary>
/// Loads Keras weights saved as named arrays in a safetensors file (see the README: one line of Python maps
/// <c>model.weights</c> to <c>{w.path: w.numpy()}</c>) into our layers, converting layouts and gate orders:
/// Keras keeps kernels as (in, G·units) with gates in columns, we keep PyTorch's (G·H, in) with gates in rows.
/// <list type="bullet">
/// <item>LSTM: kernel (I, 4u), recurrent_kernel (u, 4u), bias (4u), gates i, f, c, o → ours i, f, g, o
/// (the same order: c is g), transposed. A second bias (TwoBiases) is set to zero.</item>
/// <item>GRU: gates z, r, h → ours r, z, n. reset_after=True: bias (2, 3u), row 0 the input bias, row 1 the
/// recurrent bias (needs a Gru with ResetAfter and TwoBiases); reset_after=False: bias (3u) (needs ResetAfter = false).</item>
/// <item>SimpleRNN: kernel (I, u), recurrent_kernel (u, u), bias (u).</item>
/// <item>Dense: kernel (in, out) → weight (out, in); bias (out). Embedding: embeddings (vocab, dim).</item>
/// </list>
/// Tensors are found as <c>prefix + "kernel"</c> etc., with or without TF's ":0" suffix. Every tensor is checked
/// (present, exact shape, floating-point dtype) before anything is written, and no other tensor may start with
/// the prefix; failures throw <see cref="SafeTensorsException"/> naming the tensor. Keras's recurrent activation
/// must be "sigmoid" (the default since Keras 2.3; older hard_sigmoid models do not match our cells).
/// </summary>
public static class KerasImport
{
    private static readonly int[] LstmOrder = [0, 1, 2, 3]; // ours i, f, g, o ← Keras i, f, c, o
    private static readonly int[] GruOrder = [1, 0, 2];     // ours r, z, n ← Keras z, r, h
    private static readonly int[] OneGate = [0];

    /// <summary>Loads a Keras LSTM layer's kernel, recurrent_kernel and bias (prefix e.g. "lstm/lstm_cell/").</summary>
    public static void LoadLstm<T>(SafeTensorsFile file, Lstm<T> layer, string prefix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.WeightHr != null || layer.Peephole != null)
            throw new NotSupportedException("layer: a Keras LSTM has neither a projection nor peepholes; expected an Lstm without ProjSize and Peepholes.");
        LoadCell(file, prefix, layer.InputSize, layer.HiddenSize, LstmOrder, layer.WeightIh, layer.WeightHh, layer.BiasIh, layer.BiasHh, resetAfter: null);
    }

    /// <summary>
    /// Loads a Keras GRU layer (prefix e.g. "gru/gru_cell/"). The bias shape tells reset_after: (2, 3u) needs
    /// a Gru with ResetAfter = true and TwoBiases, (3u) a Gru with ResetAfter = false.
    /// </summary>
    public static void LoadGru<T>(SafeTensorsFile file, Gru<T> layer, string prefix) where T : unmanaged, IFloatingPointIeee754<T>
        => LoadCell(file, prefix, layer.InputSize, layer.HiddenSize, GruOrder, layer.WeightIh, layer.WeightHh, layer.BiasIh, layer.BiasHh, layer.Options.ResetAfter);

    /// <summary>Loads a Keras SimpleRNN layer (prefix e.g. "simple_rnn/simple_rnn_cell/"); its activation must match the layer's.</summary>
    public static void LoadSimpleRnn<T>(SafeTensorsFile file, SimpleRnn<T> layer, string prefix) where T : unmanaged, IFloatingPointIeee754<T>
        => LoadCell(file, prefix, layer.InputSize, layer.HiddenSize, OneGate, layer.WeightIh, layer.WeightHh, layer.BiasIh, layer.BiasHh, resetAfter: null);

    /// <summary>Loads a Keras Dense layer (prefix e.g. "dense/"): kernel (in, out) transposed into weight (out, in), and bias.</summary>
    public static void LoadDense<T>(SafeTensorsFile file, Dense<T> layer, string prefix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string k = Find(file, prefix, "kernel"), b = Find(file, prefix, "bias");
        int I = layer.InputSize, O = layer.OutputSize;
        Check(file, k, [I, O]);
        Check(file, b, [O]);
        Strict(file, prefix, k, b);
        Gates(layer.Weight.Value, file.GetDouble(k), OneGate, O, I);
        Read(file, b, layer.Bias.Value);
    }

    /// <summary>Loads a Keras Embedding layer (prefix e.g. "embedding/"): embeddings (vocab, dim), same layout.</summary>
    public static void LoadEmbedding<T>(SafeTensorsFile file, Embedding<T> layer, string prefix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string e = Find(file, prefix, "embeddings");
        Check(file, e, [layer.VocabSize, layer.Dim]);
        Strict(file, prefix, e);
        Read(file, e, layer.Weight.Value);
    }

    private static void LoadCell<T>(SafeTensorsFile file, string prefix, int I, int H, int[] order, Parameter<T> wih, Parameter<T> whh,
        Parameter<T> bih, Parameter<T>? bhh, bool? resetAfter) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int G = order.Length;
        string k = Find(file, prefix, "kernel"), r = Find(file, prefix, "recurrent_kernel"), b = Find(file, prefix, "bias");
        Check(file, k, [I, G * H]);
        Check(file, r, [H, G * H]);
        var bs = file.Info(b).Shape;
        bool twoRows = bs.Count == 2;
        if (resetAfter is bool ra)
        {
            if (ra && !twoRows)
                throw new SafeTensorsException(file.Source, b, $"a Keras GRU with reset_after=False has one bias ({3 * H}), got {file.Info(b).ShapeText}: build the Gru with ResetAfter = false.");
            if (!ra && twoRows)
                throw new SafeTensorsException(file.Source, b, $"a Keras GRU with reset_after=True has a bias of shape (2, {3 * H}): build the Gru with ResetAfter = true and TwoBiases = true.");
            if (ra && bhh == null)
                throw new SafeTensorsException(file.Source, b, "reset_after=True keeps the recurrent bias inside r⊙(·): build the Gru with TwoBiases = true.");
        }
        Check(file, b, twoRows && resetAfter == true ? [2, G * H] : [G * H]);
        Strict(file, prefix, k, r, b);

        Gates(wih.Value, file.GetDouble(k), order, H, I);
        Gates(whh.Value, file.GetDouble(r), order, H, H);
        var bias = file.GetDouble(b);
        Gates(bih.Value, bias.AsSpan(0, G * H), order, H, 1);
        if (bhh != null)
        {
            if (twoRows) Gates(bhh.Value, bias.AsSpan(G * H, G * H), order, H, 1);
            else Array.Clear(bhh.Value);
        }
    }

    /// <summary>
    /// dst (G·H, cols) row-major from src (cols, G·H) Keras layout: dst[j·H + h, i] = src[i, order[j]·H + h].
    /// A bias is the case cols = 1.
    /// </summary>
    internal static void Gates<T>(Span<T> dst, ReadOnlySpan<double> src, int[] order, int H, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int GH = order.Length * H;
        for (int j = 0; j < order.Length; j++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < cols; i++)
                    dst[(j * H + h) * cols + i] = T.CreateTruncating(src[i * GH + order[j] * H + h]);
    }

    private static void Read<T>(SafeTensorsFile file, string name, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
        => PyTorchImport.Read(file, name, dst);

    private static string Find(SafeTensorsFile file, string prefix, string leaf)
    {
        string name = prefix + leaf;
        if (file.Contains(name)) return name;
        if (file.Contains(name + ":0")) return name + ":0";
        var near = file.Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Take(12).ToList();
        throw new SafeTensorsException(file.Source, name, $"missing (also tried '{name}:0'); tensors starting with '{prefix}': {(near.Count == 0 ? "none" : string.Join(", ", near))}.");
    }

    private static void Check(SafeTensorsFile file, string name, int[] shape)
    {
        var t = file.Info(name);
        if (!t.Shape.SequenceEqual(shape.Select(d => (long)d)))
            throw new SafeTensorsException(file.Source, name, $"expected shape ({string.Join(", ", shape)}), got {t.ShapeText}.");
        if (t.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
            throw new SafeTensorsException(file.Source, name, $"expected a floating-point dtype (F32, F64, F16 or BF16), got {t.DType}.");
    }

    private static void Strict(SafeTensorsFile file, string prefix, params string[] used)
    {
        foreach (var n in file.Names)
            if (n.StartsWith(prefix, StringComparison.Ordinal) && Array.IndexOf(used, n) < 0)
                throw new SafeTensorsException(file.Source, n, $"unexpected tensor under '{prefix}': the layer has only {string.Join(", ", used)}.");
    }
}
