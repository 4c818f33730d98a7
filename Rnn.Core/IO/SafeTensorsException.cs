namespace Rnn.IO;

/// <summary>
/// A safetensors file (or the request made of it) is invalid. The message names the file, the tensor or
/// header field at fault, and what was expected versus what was found.
/// </summary>
public sealed class SafeTensorsException : FormatException
{
    /// <summary>The file (or the name given to an in-memory buffer) being read.</summary>
    public string File { get; }
    /// <summary>The tensor at fault, or null when the problem is in the file layout or header as a whole.</summary>
    public string? Tensor { get; }

    /// <summary>Creates the exception; the message is prefixed with the source and the tensor.</summary>
    public SafeTensorsException(string source, string? tensor, string message, Exception? inner = null)
        : base(Format(source, tensor, message), inner)
    {
        File = source;
        Tensor = tensor;
    }

    /// <summary>The most characters a message keeps: text echoed from a hostile file (a 5 MB dtype or name) is cut.</summary>
    public const int MaxMessageLength = 2000;

    private static string Format(string source, string? tensor, string message)
    {
        string s = tensor is null ? $"{Cut(source, 400)}: {message}" : $"{Cut(source, 400)}: tensor '{Cut(tensor, 200)}': {message}";
        return Cut(s, MaxMessageLength);
    }

    // Keeps the head of s and says how much was cut.
    internal static string Cut(string s, int max)
        => s.Length <= max ? s : string.Concat(s.AsSpan(0, max), $"… ({s.Length} characters in all)");
}
