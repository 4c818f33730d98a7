using Rnn.Init;
using Rnn.IO;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

/// <summary>bf16 and int8 checkpoints (Checkpoint.SaveQuantized): round trips, the precision they load at, and hostile files.</summary>
public sealed class QuantCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rnn-qck-" + Guid.NewGuid().ToString("N"));
    public QuantCheckpointTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, true);
    private string F(string name) => Path.Combine(_dir, name);

    private static SequenceModel<float> Model(CellKind cell = CellKind.Lstm)
        => new(new ModelSpec { Vocab = 50, EmbeddingDim = 8, Cell = cell, Hidden = 12, Layers = 2, OutputSize = 1 }, new Rng(9));

    [Theory]
    [InlineData(WeightPrecision.BFloat16, CellKind.Lstm)]
    [InlineData(WeightPrecision.Int8, CellKind.Lstm)]
    [InlineData(WeightPrecision.Int8, CellKind.Gru)]
    [InlineData(WeightPrecision.BFloat16, CellKind.RnnTanh)]
    public void RoundTripsWithinTheFormat(WeightPrecision precision, CellKind cell)
    {
        using var m = Model(cell);
        Checkpoint.SaveQuantized(m, F("q.safetensors"), precision, new Dictionary<string, string> { ["note"] = "kept" });
        using var back = Checkpoint.Load<float>(F("q.safetensors"), out var meta);
        Assert.Equal(precision, Checkpoint.PrecisionOf(meta));
        Assert.Equal("kept", meta["note"]);
        using var file = SafeTensors.Load(F("q.safetensors"));
        for (int i = 0; i < m.NamedParameters.Count; i++)
        {
            var (name, p) = m.NamedParameters[i];
            var q = back.NamedParameters[i].Parameter.Value;
            if (p.Shape.Length != 2) { Assert.Equal(p.Value, q); Assert.Equal(SafeTensorsDType.F32, file.Info(name).DType); continue; }
            int rows = p.Shape[0], cols = p.Shape[1];
            Assert.Equal(precision == WeightPrecision.Int8 ? SafeTensorsDType.I8 : SafeTensorsDType.BF16, file.Info(name).DType);
            for (int r = 0; r < rows; r++)
            {
                double max = 0;
                for (int k = 0; k < cols; k++) max = Math.Max(max, Math.Abs(p.Value[r * cols + k]));
                for (int k = 0; k < cols; k++)
                {
                    double w = p.Value[r * cols + k], d = Math.Abs(q[r * cols + k] - w);
                    // bf16: exactly the rounded value; int8: within half a step of (float)(max/127), plus q·s's one rounding
                    if (precision == WeightPrecision.BFloat16) Assert.Equal(BFloat16.ToFloat(BFloat16.FromFloat((float)w)), q[r * cols + k]);
                    else Assert.True(d <= (float)max / 127f / 2 + Math.Abs(q[r * cols + k]) * Math.Pow(2, -24), $"{name}[{r}, {k}]: {w} -> {q[r * cols + k]}");
                }
            }
        }
        // The loaded model predicts at its precision; packing its weights again reproduces the file's (no second rounding).
        var pr = new Predictor<float>(back, Checkpoint.PrecisionOf(meta));
        var st = pr.NewState(1);
        Assert.True(float.IsFinite(pr.Step([3], st)[0]));
        if (precision == WeightPrecision.Int8)
        {
            var w = back.NamedParameters.First(np => np.Name.StartsWith("rnn.weight_hh", StringComparison.Ordinal));
            var qm = new QuantMatrix(w.Parameter.Shape[0], w.Parameter.Shape[1], int8: true);
            qm.Pack(w.Parameter.Value);
            var bytes = file.GetBytes(w.Name);
            for (int r = 0; r < qm.N; r++)
                for (int k = 0; k < qm.K; k++) Assert.Equal((sbyte)bytes[r * qm.K + k], qm.QuantisedInt8(r, k));
        }
    }

    [Fact]
    public void AnInt8EmbeddingStaysInt8UntilReadAndGivesTheEagerBits()
    {
        using var m = Model();
        Checkpoint.SaveQuantized(m, F("e.safetensors"), WeightPrecision.Int8);
        using var lazy = Checkpoint.Load<float>(F("e.safetensors"));
        using var eager = Checkpoint.Load<float>(F("e.safetensors"));
        var table = eager.Embedding!.Weight.Value; // read: filled now
        Assert.Null(eager.Embedding.Weight.PendingInt8);
        Assert.NotNull(lazy.Embedding!.Weight.PendingInt8);
        // The filled table is the scalar q·scale of the file.
        using (var file = SafeTensors.Load(F("e.safetensors")))
        {
            var q = file.GetBytes("embedding.weight");
            var scale = new float[m.Spec.Vocab];
            file.ReadFloat("embedding.weight" + Checkpoint.ScaleSuffix, scale);
            var want = new float[table.Length];
            Checkpoint.Dequantise(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, sbyte>(q), scale, want, m.Spec.Vocab, m.Spec.EmbeddingDim, vector: false);
            Assert.Equal(want, table);
        }
        // Lookups, streaming predictions and Forward on the lazy model: the same bits, and the table stays int8.
        int[] tokens = [3, 0, 49, 7, 3, 12, 48, 1];
        var a = new float[tokens.Length * m.Spec.EmbeddingDim]; var b = new float[a.Length];
        lazy.Embedding.Lookup(a, tokens); eager.Embedding.Lookup(b, tokens);
        Assert.Equal(b, a);
        float[] Predict(SequenceModel<float> model)
        {
            var pr = new Predictor<float>(model, WeightPrecision.Int8);
            var y = new float[2];
            pr.PredictTokens(y, tokens, default, pr.NewState(2), 4);
            return [.. y, .. model.Forward(tokens, default, 2, 4)];
        }
        Assert.Equal(Predict(eager), Predict(lazy));
        Assert.NotNull(lazy.Embedding.Weight.PendingInt8);
        Assert.Throws<ArgumentOutOfRangeException>(() => lazy.Embedding.Lookup(a.AsSpan(0, m.Spec.EmbeddingDim), [50]));
        // The first read of the values fills them (once, whichever thread reads first).
        var reads = new float[4][];
        Parallel.For(0, 4, i => reads[i] = lazy.Embedding.Weight.Value);
        Assert.Null(lazy.Embedding.Weight.PendingInt8);
        foreach (var r in reads) Assert.Equal(table, r);
    }

    [Fact]
    public void FloatCheckpointsLoadAtFloat32AndInt8IsAboutFourTimesSmaller()
    {
        using var m = new SequenceModel<float>(new ModelSpec { InputSize = 64, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1 }, new Rng(2));
        Checkpoint.Save(m, F("f.safetensors"));
        Checkpoint.SaveQuantized(m, F("b.safetensors"), WeightPrecision.BFloat16);
        Checkpoint.SaveQuantized(m, F("i.safetensors"), WeightPrecision.Int8);
        Assert.Equal(WeightPrecision.Float32, Checkpoint.PrecisionOf(Checkpoint.ReadMetadata(F("f.safetensors"))));
        double f = new FileInfo(F("f.safetensors")).Length, b = new FileInfo(F("b.safetensors")).Length, i = new FileInfo(F("i.safetensors")).Length;
        Assert.InRange(f / b, 1.9, 2.0);
        Assert.InRange(f / i, 3.6, 4.0);
    }

    // The int8 file's tensors, to rewrite with one change.
    private static List<NamedTensor> Tensors(string path, Func<string, NamedTensor?>? replace = null)
    {
        using var file = SafeTensors.Load(path);
        var list = new List<NamedTensor>();
        foreach (var t in file.Tensors)
        {
            if (replace?.Invoke(t.Name) is { } r) { if (r.Name != "-") list.Add(r); continue; }
            int[] shape = t.Shape.Select(d => (int)d).ToArray();
            list.Add(t.DType switch
            {
                SafeTensorsDType.I8 => NamedTensor.I8(t.Name, shape, file.GetBytes(t.Name).Select(v => (sbyte)v).ToArray()),
                _ => NamedTensor.F32(t.Name, shape, file.GetFloat(t.Name)),
            });
        }
        return list;
    }

    private const string Whh = "rnn.weight_hh_l0";

    [Fact]
    public void HostileInt8FilesAreRefusedWithClearErrors()
    {
        using var m = Model();
        string ok = F("ok.safetensors");
        Checkpoint.SaveQuantized(m, ok, WeightPrecision.Int8);
        var meta = new Dictionary<string, string>(Checkpoint.ReadMetadata(ok));
        int rows = 4 * 12;

        void Refused(string what, List<NamedTensor> tensors, Dictionary<string, string> md, params string[] words)
        {
            string p = F(what + ".safetensors");
            SafeTensors.Save(p, tensors, md);
            var ex = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(p));
            foreach (var w in words) Assert.Contains(w, ex.Message);
        }

        Refused("shape", Tensors(ok, n => n == Whh + ".scale" ? NamedTensor.F32(n, [rows + 1], new float[rows + 1]) : null), meta,
            Whh + ".scale", $"({rows})", $"({rows + 1})");
        Refused("nan", Tensors(ok, n => n == Whh + ".scale" ? NamedTensor.F32(n, [rows], Enumerable.Repeat(float.NaN, rows).ToArray()) : null), meta,
            Whh + ".scale", "NaN");
        Refused("negative", Tensors(ok, n => n == Whh + ".scale" ? NamedTensor.F32(n, [rows], Enumerable.Repeat(-1f, rows).ToArray()) : null), meta,
            "-1", "≥ 0");
        Refused("missing", Tensors(ok, n => n == Whh + ".scale" ? NamedTensor.I32("-", [], Array.Empty<int>()) : null), meta,
            Whh + ".scale", "missing");
        Refused("dtype", Tensors(ok, n => n == Whh + ".scale" ? NamedTensor.I32(n, [rows], new int[rows]) : null), meta,
            "F32", "I32");
        var noMeta = new Dictionary<string, string>(meta); noMeta.Remove(Checkpoint.PrecisionKey);
        Refused("nometa", Tensors(ok), noMeta, "I8", Checkpoint.PrecisionKey);
        var badMeta = new Dictionary<string, string>(meta) { [Checkpoint.PrecisionKey] = "int4" };
        Refused("badmeta", Tensors(ok), badMeta, Checkpoint.PrecisionKey, "int4");
        var extraScale = Tensors(ok); extraScale.Add(NamedTensor.F32("rnn.bias_ih_l0.scale", [1], new float[1]));
        Refused("extra", extraScale, meta, "rnn.bias_ih_l0.scale", "unexpected");

        // Truncated data: the file's end cut off.
        var bytes = File.ReadAllBytes(ok);
        File.WriteAllBytes(F("cut.safetensors"), bytes[..^7]);
        Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(F("cut.safetensors")));
        Assert.Throws<ArgumentException>(() => Checkpoint.PrecisionOf(badMeta));
    }
}
