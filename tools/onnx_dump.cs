#:project ../Rnn.Core/Rnn.Core.csproj
// Writes ONNX exports of a few SequenceModels with their inputs, outputs and weights, for tools/check_onnx.py:
//   dotnet run tools/onnx_dump.cs -- OUTDIR
using Rnn.Init;
using Rnn.IO;
using Rnn.Models;

string dir = args.Length > 0 ? args[0] : "onnx-check";
Directory.CreateDirectory(dir);
var cases = new (string Name, ModelSpec Spec, int Batch, int Seq, bool Randomize)[]
{
    ("imdb", new ModelSpec { Vocab = 20000, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1, OutputActivation = "sigmoid" }, 2, 80, false),
    ("lstm_bi2_tokens", new ModelSpec { Vocab = 13, EmbeddingDim = 5, Cell = CellKind.Lstm, Hidden = 4, Layers = 2, Bidirectional = true, OutputSize = 2, Init = "pytorch" }, 3, 7, true),
    ("gru_bi2_perstep", new ModelSpec { InputSize = 3, Cell = CellKind.Gru, Hidden = 4, Layers = 2, Bidirectional = true, OutputSize = 2, PerStep = true, OutputActivation = "tanh", Init = "pytorch" }, 2, 6, true),
    ("gru_before", new ModelSpec { InputSize = 3, Cell = CellKind.GruResetBefore, Hidden = 5, OutputSize = 1, OutputActivation = "sigmoid" }, 2, 6, true),
    ("rnn_relu_bi", new ModelSpec { InputSize = 3, Cell = CellKind.RnnRelu, Hidden = 4, Bidirectional = true, OutputSize = 3, PerStep = true, Init = "pytorch" }, 2, 5, true),
    ("rnn_tanh_2", new ModelSpec { InputSize = 2, Cell = CellKind.RnnTanh, Hidden = 3, Layers = 2, OutputSize = 1, OutputActivation = "relu" }, 2, 5, true),
};
foreach (var (name, spec, B, S, randomize) in cases)
{
    var rng = new Rng(11);
    using var model = new SequenceModel<float>(spec, rng);
    model.Training = false;
    if (randomize)
        foreach (var (_, p) in model.NamedParameters)
            for (int i = 0; i < p.Length; i++) p.Value[i] = (float)rng.Uniform(-0.6, 0.6);
    var tensors = new List<NamedTensor>();
    float[] output;
    if (spec.Vocab > 0)
    {
        var tokens = new int[B * S];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(spec.Vocab);
        output = model.Forward(tokens, default, B, S).ToArray();
        tensors.Add(NamedTensor.I64("input.tokens", [B, S], tokens.Select(t => (long)t).ToArray()));
    }
    else
    {
        var x = new float[B * S * spec.InputSize];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.Uniform(-1, 1);
        output = model.Forward(x, default, B, S).ToArray();
        tensors.Add(NamedTensor.F32("input.x", [B, S, spec.InputSize], x));
    }
    tensors.Add(NamedTensor.F32("output", spec.PerStep ? [B, S, spec.OutputSize] : [B, spec.OutputSize], output));
    if (name != "imdb")
        foreach (var (n, p) in model.NamedParameters) tensors.Add(NamedTensor.F32("param." + n, p.Shape, p.Value));
    SafeTensors.Save(Path.Combine(dir, name + ".safetensors"), tensors, spec.ToMetadata());
    OnnxExport.Export(model, Path.Combine(dir, name + ".onnx"), name == "imdb" ? null : S);
    Console.WriteLine($"{name}: {new FileInfo(Path.Combine(dir, name + ".onnx")).Length} bytes");
}
