using System.Runtime.InteropServices;

namespace Rnn.IO;

/// <summary>
/// Refuses what is not a regular file before it is opened: opening a FIFO with no writer blocks forever, and a
/// device (/dev/zero, /dev/urandom) never ends. .NET exposes no file type, so this asks the runtime's own native
/// shim (System.Native, present in every .NET and NativeAOT app on Unix); where that is unavailable, the check is skipped.
/// </summary>
internal static partial class RegularFile
{
    // System.Native's FileStatus starts with two ints: Flags, then Mode (its S_IF* constants are the POSIX ones).
    private const int ModeOffset = 4, IfMt = 0xF000, IfReg = 0x8000, IfDir = 0x4000, IfChr = 0x2000, IfBlk = 0x6000, IfFifo = 0x1000, IfSock = 0xC000;

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Stat(string path, Span<byte> status);

    /// <summary>Throws <see cref="SafeTensorsException"/> naming the file when it exists and is not a regular file.</summary>
    public static void Check(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        Span<byte> status = stackalloc byte[512]; // larger than any version's FileStatus
        int rc;
        try { rc = Stat(path, status); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return; }
        if (rc != 0) return; // missing or unreadable: the open that follows reports it
        int type = BitConverter.ToInt32(status[ModeOffset..]) & IfMt;
        if (type == IfReg) return;
        string what = type switch
        {
            IfDir => "a directory",
            IfFifo => "a FIFO (named pipe)",
            IfChr => "a character device",
            IfBlk => "a block device",
            IfSock => "a socket",
            _ => $"a special file (type 0x{type:x})",
        };
        throw new SafeTensorsException(path, null, $"expected a regular file, got {what}.");
    }
}
