using System.Globalization;
using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Losses;
using Rnn.Samples.Adding;
using Rnn.Samples.Common;

namespace Rnn.Samples.Quantize;

/// <summary>
/// `quantize --eval adding`: the validation MSE of a checkpoint written by `adding --save`, at float32, bf16 and int8.
/// The validation batch is the training run's own: `adding` builds the model from Rng(seed) and then draws that batch,
/// so the same seed and data options give the same batch here. Each precision runs both SimpleRnn layers through their
/// streaming step (<see cref="RecurrentLayer{T}.NewStream"/> at that precision, the format `quantize --to` writes;
/// the Dense head stays float32, as in <c>Predictor</c>); masked steps keep each row's state, as Forward does.
/// </summary>
public static class AddingEval
{
    /// <summary>Validation MSE streamed at float32 (Full), bf16 and int8 (Quarter: a quarter of the bytes), and Forward's own (the training run's figure).</summary>
    public readonly record struct Result(double Forward, double Full, double Bf16, double Quarter);

    /// <summary>Loads <paramref name="path"/> (parameters and `adding.hidden`) and measures it on the seed's validation batch.</summary>
    public static Result Run(string path, ulong seed, int batch, int minLen, int maxLen)
    {
        var meta = Checkpoint.ReadMetadata(path);
        if (!meta.TryGetValue("adding.hidden", out var hiddenText) ||
            !int.TryParse(hiddenText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int hidden) || hidden < 1 || hidden > 100_000)
            throw new BadInputException($"{path}: metadata 'adding.hidden': expected an integer in 1..100000 (a checkpoint written by `adding --save`), got '{(hiddenText ?? "no key")}'.");
        var rng = new Rng(seed);
        using var model = new AddingModel<float>(rng, hidden); // draws its initial weights first, as `adding` does
        // `adding --save` writes a model checkpoint (a bidirectional layer "rnn", parameters rnn.weight_ih_l0[_reverse]
        // ...; older files: weight_ih_l0 ...) and "fc": the same matrices as AddingModel's two SimpleRnns and head.
        using (var file = SafeTensors.Load(path))
            foreach (var p in model.Parameters)
            {
                string name = file.Contains(p.Name) ? p.Name : "rnn." + p.Name;
                if (!file.Contains(name))
                    throw new BadInputException($"{path}: tensor '{name}': missing; expected a checkpoint written by `adding --save`.");
                file.ReadFloat(name, p.Value);
            }
        var x = new float[batch * maxLen * 2]; var y = new float[batch]; var mask = new float[batch * maxLen];
        AddingData.Generate<float>(x, y, mask, rng, batch, minLen, maxLen);
        double forward = model.Loss(x, mask, y, batch, maxLen);
        return new Result(forward,
            Streamed(model, x, mask, y, batch, maxLen, WeightPrecision.Float32),
            Streamed(model, x, mask, y, batch, maxLen, WeightPrecision.BFloat16),
            Streamed(model, x, mask, y, batch, maxLen, WeightPrecision.Int8));
    }

    /// <summary>MSE of the model's streaming path at <paramref name="precision"/>: x (batch, seq, 2), mask (batch, seq), y (batch).</summary>
    public static double Streamed(AddingModel<float> model, ReadOnlySpan<float> x, ReadOnlySpan<float> mask, ReadOnlySpan<float> y, int batch, int seqLen, WeightPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(model);
        int H = model.Hidden;
        var hf = Final(model.Forward1, x, mask, batch, seqLen, precision, reverse: false);   // (B, H)
        var hb = Final(model.Backward1, x, mask, batch, seqLen, precision, reverse: true);   // (B, H)
        var cat = new float[batch * 2 * H];
        Concat.Forward<float>(cat, hf, hb, batch, H, H);
        var output = new float[batch];
        model.Output.Infer(output, cat, batch);
        return Mse.Forward<float>(output, y);
    }

    // The layer's final state after stepping t = 0..S-1 (reverse: S-1..0); a masked step restores the row's state.
    private static float[] Final(SimpleRnn<float> layer, ReadOnlySpan<float> x, ReadOnlySpan<float> mask, int batch, int seqLen, WeightPrecision precision, bool reverse)
    {
        int H = layer.HiddenSize, I = layer.InputSize;
        using var stream = layer.NewStream(batch, precision);
        var xt = new float[batch * I]; var saved = new float[batch * H];
        for (int s = 0; s < seqLen; s++)
        {
            int t = reverse ? seqLen - 1 - s : s;
            for (int b = 0; b < batch; b++) x.Slice((b * seqLen + t) * I, I).CopyTo(xt.AsSpan(b * I, I));
            stream.H.CopyTo(saved);
            layer.Step(stream, xt);
            for (int b = 0; b < batch; b++)
                if (mask[b * seqLen + t] == 0f) saved.AsSpan(b * H, H).CopyTo(stream.H.Slice(b * H, H));
        }
        return stream.H.ToArray();
    }

    /// <summary>The lines `quantize --eval adding` prints.</summary>
    public static string Describe(Result r, string path, ulong seed, int batch)
    {
        var ci = CultureInfo.InvariantCulture;
        string Rel(double v) => string.Create(ci, $"{100 * (v - r.Full) / r.Full:+0.00;-0.00}% of float32");
        return string.Create(ci,
            $"{path}: validation MSE on the adding run's batch (seed {seed}, {batch} sequences)\n" +
            $"float32  {r.Full:G6} (Forward, as the training run printed: {r.Forward:G6})\n" +
            $"bf16     {r.Bf16:G6} ({Rel(r.Bf16)})\n" +
            $"int8     {r.Quarter:G6} ({Rel(r.Quarter)})");
    }
}
