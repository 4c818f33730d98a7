using System.Text;

namespace Rnn.IO;

/// <summary>Atomic file replacement: write a temporary file in the same folder, flush to disk, rename over the target.</summary>
public static class AtomicFile
{
    /// <summary>Writes bytes atomically.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        string full = Path.GetFullPath(path);
        string tmp = TempPath(full);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw Named(path, e); // the message names the target, not the temporary file
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>
    /// Streams content atomically: <paramref name="write"/> fills a temporary file in the target's folder,
    /// which is flushed to disk and renamed over <paramref name="path"/>. If <paramref name="write"/> throws,
    /// the temporary file is deleted and the old file (if any) is left untouched. The stream is owned here.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string tmp = TempPath(full);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw Named(path, e); // the message names the target, not the temporary file
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Writes text (UTF-8) atomically.</summary>
    public static void WriteText(string path, string text) => Write(path, Encoding.UTF8.GetBytes(text));

    private static Exception Named(string path, Exception e) => e is UnauthorizedAccessException
        ? new UnauthorizedAccessException($"{path}: cannot write: {e.Message}", e)
        : new IOException($"{path}: cannot write: {e.Message}", e);

    // Same folder, so the rename cannot cross file systems; pid + random so concurrent writers never share a temp file.
    private static string TempPath(string full)
    {
        string dir = Path.GetDirectoryName(full)!;
        if (Directory.Exists(full)) throw new IOException($"{full}: cannot write: expected a file path, got a directory.");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
    }

    private static void TryDelete(string tmp)
    {
        try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
