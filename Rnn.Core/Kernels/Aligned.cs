using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Rnn.Kernels;

/// <summary>
/// Pinned arrays used from a 64-byte boundary: a vector load then splits a cache line only where the data's own
/// offset does, whatever address the GC gave the array (the tape's arena, the quantised weights).
/// </summary>
internal static class Aligned
{
    public const int Bytes = 64;

    /// <summary>
    /// A pinned array with room for <paramref name="length"/> elements from <c>Offset</c>, the element index of its
    /// first 64-byte boundary (element sizes 1, 2, 4, 8: the GC aligns arrays' data to 8 bytes). Pinned, so the
    /// boundary stays where it is. <paramref name="zeroed"/> false leaves the contents uninitialised.
    /// </summary>
    public static (T[] Array, int Offset) Pinned<T>(int length, bool zeroed) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int size = Unsafe.SizeOf<T>();
        int pad = Bytes / size;   // the boundary is at most Bytes - size bytes in
        var a = zeroed ? GC.AllocateArray<T>(length + pad, pinned: true) : GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
        nint address;
        unsafe { address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a)); }
        return (a, (int)((Bytes - address % Bytes) % Bytes / size));
    }
}
