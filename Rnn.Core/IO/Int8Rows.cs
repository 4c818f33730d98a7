namespace Rnn.IO;

/// <summary>
/// A float matrix (rows, cols) held as an int8 checkpoint stores it: q (rows, cols) and one scale per row, read as
/// q·scale with <see cref="Checkpoint.Dequantise"/>'s bits. An embedding table stays like this until its float values
/// are read (a quarter of the bytes to load and touch at start-up), and a lookup dequantises just its rows.
/// </summary>
internal sealed class Int8Rows
{
    private readonly sbyte[] _q;
    private readonly float[] _scale;
    public readonly int Rows, Cols;

    public Int8Rows(sbyte[] q, float[] scale, int cols)
    {
        Guard.Length(q.Length, scale.Length * cols, $"(rows={scale.Length}, cols={cols})");
        _q = q; _scale = scale; Rows = scale.Length; Cols = cols;
    }

    /// <summary>dst (cols) = row r.</summary>
    public void Row(int r, Span<float> dst) => Checkpoint.Dequantise(_q.AsSpan(r * Cols, Cols), _scale.AsSpan(r, 1), dst, 1, Cols);

    /// <summary>dst (rows, cols) = every row.</summary>
    public void All(Span<float> dst) => Checkpoint.Dequantise(_q, _scale, dst, Rows, Cols);
}
