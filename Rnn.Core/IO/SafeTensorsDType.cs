namespace Rnn.IO;

/// <summary>
/// Element types of the safetensors format, in the reference implementation's order (which its writer
/// uses, descending, to lay out the byte buffer). All are recognised when reading, so a file can be
/// validated and listed whatever it holds; <see cref="SafeTensorsFile"/> converts F32, F64, F16 and BF16 to
/// floating point and I8..I64, U8..U64, BOOL to integers. Sub-byte types (F4, F6) are rejected.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "The safetensors format's own dtype names (F8_E5M2, ...), as files spell them.")]
public enum SafeTensorsDType
{
    /// <summary>Boolean, one byte.</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>8-bit float, 5-bit exponent (read as raw bytes only).</summary>
    F8_E5M2,
    /// <summary>8-bit float, 4-bit exponent (read as raw bytes only).</summary>
    F8_E4M3,
    /// <summary>8-bit exponent-only scale (read as raw bytes only).</summary>
    F8_E8M0,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>bfloat16: the top half of an IEEE single.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE single precision.</summary>
    F32,
    /// <summary>IEEE double precision.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
}

/// <summary>Sizes and names of <see cref="SafeTensorsDType"/>.</summary>
public static class SafeTensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8
            or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 or SafeTensorsDType.F8_E8M0 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The name used in the header, e.g. "F32".</summary>
    public static string Name(this SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.BOOL => "BOOL",
        SafeTensorsDType.U8 => "U8",
        SafeTensorsDType.I8 => "I8",
        SafeTensorsDType.F8_E5M2 => "F8_E5M2",
        SafeTensorsDType.F8_E4M3 => "F8_E4M3",
        SafeTensorsDType.F8_E8M0 => "F8_E8M0",
        SafeTensorsDType.I16 => "I16",
        SafeTensorsDType.U16 => "U16",
        SafeTensorsDType.F16 => "F16",
        SafeTensorsDType.BF16 => "BF16",
        SafeTensorsDType.I32 => "I32",
        SafeTensorsDType.U32 => "U32",
        SafeTensorsDType.F32 => "F32",
        SafeTensorsDType.F64 => "F64",
        SafeTensorsDType.I64 => "I64",
        SafeTensorsDType.U64 => "U64",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>Parses a header dtype name (exact and case-sensitive, as in the format); false when unknown.</summary>
    public static bool TryParse(string name, out SafeTensorsDType t)
    {
        for (t = SafeTensorsDType.BOOL; t <= SafeTensorsDType.U64; t++)
            if (name == t.Name()) return true;
        return false;
    }
}
