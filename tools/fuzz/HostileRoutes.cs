using Rnn.IO;
using Rnn.Layers;

namespace Rnn.Fuzz;

/// <summary>
/// Every load route a file can take, and the verdict on one input: accepted, refused with the documented family
/// (<see cref="SafeTensorsException"/>; <see cref="NotSupportedException"/> for a valid PyTorch file using a feature
/// we do not have, as documented), or anything else, which is a bug.
/// </summary>
public static class HostileRoutes
{
    /// <summary>The routes, by name.</summary>
    public static readonly string[] Names = ["checkpoint", "pytorch", "keras", "safetensors"];

    /// <summary>Outcome of one route on one input.</summary>
    public enum Verdict { Accepted, Refused, Escaped }

    /// <summary>Runs <paramref name="bytes"/> through route <paramref name="route"/>; <paramref name="scratch"/> is a file path the checkpoint route may write.</summary>
    public static (Verdict Verdict, Exception? Error) Run(string route, byte[] bytes, string scratch)
    {
        try
        {
            switch (route)
            {
                case "checkpoint":
                    File.WriteAllBytes(scratch, bytes);
                    using (Checkpoint.Load<float>(scratch, out _)) { }
                    break;
                case "pytorch":
                    using (var f = SafeTensors.Deserialize(bytes, "fuzz.safetensors"))
                    using (PyTorchImport.BuildModel<float>(f)) { }
                    break;
                case "keras":
                    using (var f = SafeTensors.Deserialize(bytes, "fuzz.safetensors"))
                    {
                        int i = HostileCorpus.KerasIn, h = HostileCorpus.KerasH;
                        using var lstm = new Lstm<float>(i, h, null);
                        using var gru = new Gru<float>(i, h, null, new GruOptions { ResetAfter = true, TwoBiases = true });
                        using var dense = new Dense<float>(h, 2, null);
                        using var emb = new Embedding<float>(HostileCorpus.KerasVocab, i, null);
                        KerasImport.LoadLstm(f, lstm, "lstm/lstm_cell/");
                        KerasImport.LoadGru(f, gru, "gru/gru_cell/");
                        KerasImport.LoadDense(f, dense, "dense/");
                        KerasImport.LoadEmbedding(f, emb, "embedding/");
                    }
                    break;
                default:
                    using (var f = SafeTensors.Deserialize(bytes, "fuzz.safetensors"))
                        foreach (var t in f.Tensors)
                        {
                            if (t.DType is SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16) f.GetDouble(t.Name);
                            else if (t.DType.Name().StartsWith('F')) f.GetBytes(t.Name);
                            else f.GetInt64(t.Name);
                        }
                    break;
            }
            return (Verdict.Accepted, null);
        }
        catch (SafeTensorsException e) { return (Verdict.Refused, e); }
        catch (NotSupportedException e) when (route == "pytorch") { return (Verdict.Refused, e); }
        catch (Exception e) { return (Verdict.Escaped, e); }
    }
}
