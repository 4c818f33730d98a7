using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

/// <summary>Loading an int8 checkpoint: the Vector256 dequantisation against its scalar reference, and its argument checks.</summary>
public class DequantiseTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 15)]
    [InlineData(4, 16)]
    [InlineData(5, 37)]
    [InlineData(20, 128)]
    public void VectorPathGivesTheScalarBits(int rows, int cols)
    {
        var rng = new Rng((ulong)(rows * 1000 + cols));
        var q = new sbyte[rows * cols];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)(rng.NextInt(255) - 127);
        q[0] = -128; // the format never writes it, but a file may hold it
        var scale = new float[rows];
        for (int r = 0; r < rows; r++) scale[r] = (float)(rng.NextDouble() * 0.1);
        if (rows > 2) scale[1] = 0; // an all-zero row's scale
        var fast = new float[rows * cols];
        var slow = new float[rows * cols];
        Checkpoint.Dequantise(q, scale, fast, rows, cols);
        Checkpoint.Dequantise(q, scale, slow, rows, cols, vector: false);
        for (int i = 0; i < q.Length; i++)
        {
            Assert.Equal(q[i] * scale[i / cols], slow[i]);
            Assert.Equal(BitConverter.SingleToInt32Bits(slow[i]), BitConverter.SingleToInt32Bits(fast[i]));
        }
    }

    /// <summary>Load reads I8 tensors in chunks of whole rows (512 rows of 128 here): three chunks, the last one short.</summary>
    [Fact]
    public void LoadGivesQTimesScaleAcrossReadChunks()
    {
        string path = Path.Combine(Path.GetTempPath(), "rnn-dequant-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            var spec = new ModelSpec { Vocab = 1100, EmbeddingDim = 128, Cell = CellKind.Gru, Hidden = 8, OutputSize = 1 };
            using (var model = new SequenceModel<float>(spec, new Rng(3))) Checkpoint.SaveQuantized(model, path, WeightPrecision.Int8);
            using var loaded = Checkpoint.Load<float>(path);
            using var file = SafeTensors.Load(path);
            int checkedI8 = 0;
            foreach (var (name, p) in loaded.NamedParameters)
            {
                if (file.Info(name).DType != Rnn.IO.SafeTensorsDType.I8) continue;
                checkedI8++;
                var q = file.GetBytes(name);
                var scale = new float[p.Shape[0]];
                file.ReadFloat(name + ".scale", scale);
                int cols = p.Shape[1];
                for (int i = 0; i < q.Length; i++) Assert.Equal((sbyte)q[i] * scale[i / cols], p.Value[i]);
            }
            Assert.True(checkedI8 >= 3, $"{checkedI8} I8 tensors"); // the embedding, W_ih, W_hh (and the head's matrix)
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WrongLengthsNameTheArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Dequantise(new sbyte[6], new float[2], new float[5], 2, 3));
        Assert.Contains("dst", e.Message);
        e = Assert.Throws<ArgumentException>(() => Checkpoint.Dequantise(new sbyte[6], new float[3], new float[6], 2, 3));
        Assert.Contains("scale", e.Message);
    }
}
