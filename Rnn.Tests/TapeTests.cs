using System.Runtime.CompilerServices;
using Rnn.Tape;
using Xunit;

namespace Rnn.Tests;

public class TapeTests
{
    private static long Address<T>(Span<T> s) where T : unmanaged => (long)Unsafe.ByteOffset(ref Unsafe.NullRef<T>(), ref s[0]);

    [Fact]
    public void SlotsStartAtTheArenasSixtyFourByteBoundaryAndKeepTheirValues()
    {
        foreach (int lead in new[] { 1, 3, 16, 100_000 }) // small arrays move with the GC unless pinned; large ones sit on the LOH
        {
            using var tape = new Tape<float>();
            Assert.True(tape.Begin(2, 3));
            var a = tape.Add("a", 3, lead);
            var b = tape.Add("b", 2, 16);
            tape.Commit();
            Assert.Equal(0, Address(tape[a]) % 64);
            Assert.Equal((lead * 3 * sizeof(float)) % 64, Address(tape[b]) % 64);
            for (int i = 0; i < tape[b].Length; i++) tape[b][i] = i;
            var junk = new List<byte[]>();
            for (int i = 0; i < 2000; i++) junk.Add(new byte[1000]);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            Assert.Equal(0, Address(tape[a]) % 64);
            for (int i = 0; i < tape[b].Length; i++) Assert.Equal(i, tape[b][i]);
            GC.KeepAlive(junk);
        }
    }

    [Fact]
    public void ASmallerLayoutReusesTheArenaAndALargerOneGetsANewAlignedOne()
    {
        using var tape = new Tape<double>();
        tape.Begin(1, 1); var s = tape.Add("s", 1, 10); tape.Commit();
        long first = Address(tape[s]);
        Assert.Equal(0, first % 64);
        Assert.False(tape.Begin(1, 1)); // same shape: the slots stay
        tape.Begin(1, 2); s = tape.Add("s", 2, 4); tape.Commit();
        Assert.Equal(first, Address(tape[s])); // 8 elements fit in the arena of 10
        tape.Begin(1, 3); s = tape.Add("s", 3, 50); tape.Commit();
        Assert.NotEqual(first, Address(tape[s]));
        Assert.Equal(0, Address(tape[s]) % 64);
        Assert.Equal(150, tape[s].Length);
    }
}
