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

    private static string Format(string source, string? tensor, string message)
        => tensor is null ? $"{source}: {message}" : $"{source}: tensor '{tensor}': {message}";
}
