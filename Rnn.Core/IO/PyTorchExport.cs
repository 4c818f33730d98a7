using System.Numerics;

namespace Rnn.IO;

/// <summary>
/// Writes layers back as a PyTorch state_dict in safetensors, under the names <see cref="PyTorchImport"/> reads:
/// each (prefix, module) pair gives <c>prefix + "." + local</c> for each of the module's parameters, so a file
/// loaded with a module list and saved with the same list holds the same tensors, and PyTorch's
/// <c>module.load_state_dict(safetensors.torch.load_file(path))</c> takes it strictly. float parameters are written
/// as F32, double as F64 (call <c>module.double()</c> before loading a double file, or let load_state_dict copy
/// into float parameters). A bias=False module's biases (kept at 0, see <see cref="PyTorchImport.BuildRecurrent{T}"/>)
/// are not written; if training moved them off 0, the export throws rather than drop them.
/// </summary>
public static class PyTorchExport
{
    /// <summary>The state_dict's tensors, in the modules' order; values are read, not copied.</summary>
    public static IReadOnlyList<NamedTensor> StateDict<T>(IEnumerable<(string Prefix, object Module)> modules)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"T: PyTorch export writes float (F32) or double (F64) parameters, got {typeof(T).Name}.");
        ArgumentNullException.ThrowIfNull(modules);
        var list = modules.ToList();
        var r = new List<NamedTensor>();
        foreach (var (name, p) in PyTorchImport.Targets<T>(list, nameof(modules)))
            r.Add(typeof(T) == typeof(float) ? NamedTensor.F32(name, p.Shape, (float[])(object)p.Value) : NamedTensor.F64(name, p.Shape, (double[])(object)p.Value));
        CheckDropped<T>(list);
        return r;
    }

    /// <summary>Writes the state_dict to <paramref name="path"/> atomically (see <see cref="SafeTensors.Save"/>).</summary>
    public static void Save<T>(string path, IEnumerable<(string Prefix, object Module)> modules, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => SafeTensors.Save(path, StateDict<T>(modules), metadata);

    /// <summary>The bytes <see cref="Save{T}"/> would write.</summary>
    public static byte[] Serialize<T>(IEnumerable<(string Prefix, object Module)> modules, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => SafeTensors.Serialize(StateDict<T>(modules), metadata);

    // The parameters a PyTorch module has not (bias=False) must still be 0, or the file would not be the model.
    private static void CheckDropped<T>(IEnumerable<(string Prefix, object Module)> modules) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var (prefix, module) in modules)
        {
            IEnumerable<Parameter<T>> ps = module switch
            {
                Layers.IRecurrentLayer<T> l => l.Parameters,
                Layers.Layer<T> l => l.Parameters,
                _ => [],
            };
            foreach (var p in ps)
                if (PyTorchImport.HasNoTensor(p) && Array.FindIndex(p.Value, v => v != T.Zero) is int i and >= 0)
                    throw new InvalidOperationException($"modules ('{prefix}'): parameter '{p.Name}' stands for a bias the PyTorch module does not have (bias=False), so it must stay 0, got {p.Value[i]} at flat index {i} (was it trained? exclude it from the optimizer).");
        }
    }
}
