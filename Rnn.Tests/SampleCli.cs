namespace Rnn.Tests;

/// <summary>Runs the samples' Program.Main in-process with the console captured (tests in the "Console" collection).</summary>
internal static class SampleCli
{
    /// <summary>Runs Program.Main; returns (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => RunWithInput(null, args);

    /// <summary>As <see cref="Run"/>, with <paramref name="stdin"/> as the console's input when not null.</summary>
    public static (int Code, string Out, string Err) RunWithInput(string? stdin, params string[] args)
    {
        var (oldOut, oldErr, oldIn) = (Console.Out, Console.Error, Console.In);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o); Console.SetError(e);
        if (stdin != null) Console.SetIn(new StringReader(stdin));
        try { return (Rnn.Samples.Program.Main(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); Console.SetIn(oldIn); }
    }
}
