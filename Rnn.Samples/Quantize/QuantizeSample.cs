using System.Globalization;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Samples.Common;

namespace Rnn.Samples.Quantize;

/// <summary>
/// The `quantize` command: rewrites a float model checkpoint (Checkpoint.Save, as `imdb --save` writes) with its
/// matrices in bf16 or int8 (Checkpoint.SaveQuantized), keeping its other metadata (an imdb model's vocabulary and
/// maxlen), so `classify` loads it and predicts at that precision. Prints both file sizes. `--eval adding` instead
/// measures an `adding --save` checkpoint (plain parameters, not a model checkpoint) at each precision (AddingEval).
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
            .Option("out", "FILE", "checkpoint to write")
            .Option("eval", "adding", "instead of writing: print the validation MSE of an `adding --save` checkpoint at float32, bf16 and int8")
            .Option("seed", "N", "with --eval adding: the training run's --seed (its validation batch)", "1")
            .Option("batch", "N", "with --eval adding: the training run's --batch", "100")
            .Option("min-length", "N", "with --eval adding: the training run's --min-length", "50")
            .Option("max-length", "N", "with --eval adding: the training run's --max-length", "55");
        if (!cli.Parse(args)) return 0;
        string model = cli.InputPath("model") ?? throw new UsageException("quantize: --model FILE is required.");
        if (cli.Has("eval"))
        {
            cli.Choice("eval", "adding");
            if (cli.Has("to") || cli.Has("out")) throw new UsageException("quantize: --eval measures and writes nothing; drop --to and --out.");
            int batch = cli.Int("batch", 1, 100_000), minLen = cli.Int("min-length", 2, 1_000_000);
            int maxLen = cli.Int("max-length", minLen + 1, 1_000_000);
            ulong seed = cli.ULong("seed");
            Console.WriteLine(AddingEval.Describe(AddingEval.Run(model, seed, batch, minLen, maxLen), model, seed, batch));
            return 0;
        }
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
