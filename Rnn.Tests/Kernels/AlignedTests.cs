using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Rnn.Kernels;
using Xunit;

namespace Rnn.Tests.Kernels;

/// <summary>The pinned arrays behind the tape and the quantised weights: the offset is a 64-byte boundary, the room after it at least the length asked, and a compacting GC moves neither.</summary>
public class AlignedTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 7, 63, 64, 65, 1000, 100_000 }; // 100_000 elements of 4 or 8 bytes sit on the LOH

    private static long Address<T>(T[] a, int offset) where T : unmanaged
        => (long)Unsafe.ByteOffset(ref Unsafe.NullRef<T>(), ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), offset));

    // Allocates, checks the boundary and the room, and returns a check to run again after a compacting GC.
    private static Action Check<T>(int length, bool zeroed) where T : unmanaged
    {
        var (a, offset) = Aligned.Pinned<T>(length, zeroed);
        Assert.InRange(offset, 0, Aligned.Bytes / Unsafe.SizeOf<T>() - 1);
        Assert.True(a.Length - offset >= length, $"{typeof(T).Name}[{length}]: {a.Length - offset} elements after offset {offset}");
        long at = Address(a, offset);
        Assert.Equal(0, at % Aligned.Bytes);
        if (zeroed) Assert.All(a, v => Assert.Equal(default, v));
        return () => Assert.Equal(at, Address(a, offset)); // pinned: the boundary stays
    }

    [Theory, MemberData(nameof(Lengths))]
    public void OffsetIsASixtyFourByteBoundaryWithRoomForTheLength(int length)
    {
        var again = new List<Action>();
        foreach (bool zeroed in new[] { true, false })
        {
            again.Add(Check<sbyte>(length, zeroed));
            again.Add(Check<ushort>(length, zeroed));
            again.Add(Check<float>(length, zeroed));
            again.Add(Check<double>(length, zeroed));
        }
        var junk = new List<byte[]>();
        for (int i = 0; i < 2000; i++) junk.Add(new byte[1000]);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        foreach (var check in again) check();
        GC.KeepAlive(junk);
    }

    [Fact]
    public void NegativeLengthIsRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Aligned.Pinned<float>(-1, zeroed: false));
        Assert.Equal("length", e.ParamName);
    }
}
