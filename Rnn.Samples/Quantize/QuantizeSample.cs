using System.Globalization;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Samples.Common;

namespace Rnn.Samples.Quantize;

/// <summary>
/// The `quantize` command: rewrites a float checkpoint (any written by a sample's --save) with its matrices in bf16 or
/// int8 (Checkpoint.SaveQuantized), keeping its other metadata (an imdb model's vocabulary and maxlen), so `classify`
/// loads it and predicts at that precision. Prints both file sizes.
/// </summary>
public static class QuantizeSample
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var cli = new Cli("quantize",
            "Writes a copy of a checkpoint with its weight matrices in bf16 (BF16 tensors) or int8 (I8 tensors with F32\n" +
            "per-row scales `<name>.scale`); biases stay F32. classify and Checkpoint.Load read the result, and predict at\n" +
            "that precision.")
            .Option("model", "FILE", "float checkpoint to read (e.g. written by `imdb --save`)")
            .Option("to", "bf16|int8", "the weight format to write")
            .Option("out", "FILE", "checkpoint to write");
        if (!cli.Parse(args)) return 0;
        string model = cli.InputPath("model") ?? throw new UsageException("quantize: --model FILE is required.");
        if (!cli.Has("to")) throw new UsageException("quantize: --to bf16|int8 is required.");
        var precision = cli.Choice("to", "bf16", "int8") == "int8" ? WeightPrecision.Int8 : WeightPrecision.BFloat16;
        string output = cli.OutputPath("out") ?? throw new UsageException("quantize: --out FILE is required.");

        using var net = Checkpoint.Load<float>(model, out var meta);
        if (Checkpoint.PrecisionOf(meta) != WeightPrecision.Float32)
            throw new BadInputException($"{model}: already quantised ({meta[Checkpoint.PrecisionKey]}); quantize a float32 checkpoint.");
        var extra = meta.Where(kv => !kv.Key.StartsWith("rnn.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        Checkpoint.SaveQuantized(net, output, precision, extra);
        long before = new FileInfo(model).Length, after = new FileInfo(output).Length;
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci, $"{output}: {after:N0} bytes ({(precision == WeightPrecision.Int8 ? "int8" : "bf16")}), from {before:N0} bytes (float32): {(double)before / after:F2}x smaller"));
        return 0;
    }
}
