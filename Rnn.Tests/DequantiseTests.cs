using Rnn.Init;
using Rnn.IO;

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

    [Fact]
    public void WrongLengthsNameTheArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Dequantise(new sbyte[6], new float[2], new float[5], 2, 3));
        Assert.Contains("dst", e.Message);
        e = Assert.Throws<ArgumentException>(() => Checkpoint.Dequantise(new sbyte[6], new float[3], new float[6], 2, 3));
        Assert.Contains("scale", e.Message);
    }
}
