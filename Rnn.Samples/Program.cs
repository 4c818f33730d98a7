using Rnn.Samples.Adding;
using Rnn.Samples.Addition;
using Rnn.Samples.CharRnn;
using Rnn.Samples.Classify;
using Rnn.Samples.Common;
using Rnn.Samples.Imdb;
using Rnn.Samples.Quantize;

namespace Rnn.Samples;

/// <summary>Dispatches to a sample by name.</summary>
public static class Program
{
    private static readonly (string Name, string Summary, Func<string[], int> Run)[] Samples =
    [
        ("adding", "Lasagne's adding task with a bidirectional vanilla RNN (the main job)", AddingSample.Run),
        ("imdb", "Keras's imdb_lstm.py sentiment LSTM, on generated or real reviews", ImdbSample.Run),
        ("classify", "classify review text with a model saved by `imdb --save`", ClassifySample.Run),
        ("quantize", "rewrite a checkpoint with bf16 or int8 weights (classify then predicts at that precision)", QuantizeSample.Run),
        ("addition", "Keras's addition_rnn: seq2seq LSTM encoder -> RepeatVector -> LSTM decoder adds numbers given as text", AdditionSample.Run),
        ("charrnn", "character language model on the engine's source: min-char-rnn (faithful) or char-rnn (lstm)", CharRnnSample.Run),
        ("info", "kernel path, threads, JIT or NativeAOT, .NET version, processors, OS", Info.Run),
    ];

    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            // asked for: stdout, exit 0; no sample given: a usage error on stderr, exit 2.
            var w = args.Length == 0 ? Console.Error : Console.Out;
            w.WriteLine("usage: Rnn.Samples <sample> [options]   (Rnn.Samples <sample> --help for its options)");
            w.WriteLine();
            foreach (var s in Samples) w.WriteLine($"  {s.Name,-10} {s.Summary}");
            w.WriteLine();
            w.WriteLine("Training samples (adding, imdb, addition, charrnn) share --epochs --lr --seed --threads --report --plot --save --quiet;");
            w.WriteLine("options take --name value or --name=value; Ctrl+C stops after the current batch and writes what ran.");
            return args.Length == 0 ? 2 : 0;
        }
        var sample = Samples.FirstOrDefault(s => s.Name == args[0]);
        if (sample.Name is null)
        {
            Console.Error.WriteLine($"unknown sample '{args[0]}'; expected one of: {string.Join(", ", Samples.Select(s => s.Name))}.");
            return 2;
        }
        try { return sample.Run(args[1..]); }
        catch (UsageException e) { Console.Error.WriteLine(e.Message); return 2; }
        catch (Exception e) when (IsBadInput(e)) { Console.Error.WriteLine($"{sample.Name}: {OneLine(e.Message)}"); return 3; }
    }

    // A user's bad file or data folder, not a bug: one line, no stack trace, exit code 3 (see README's options).
    private static bool IsBadInput(Exception e)
        => e is BadInputException or Rnn.IO.SafeTensorsException or InvalidDataException or IOException or UnauthorizedAccessException;

    private static string OneLine(string message)
    {
        string s = message.ReplaceLineEndings(" ");
        return s.Length <= 600 ? s : s[..600] + "…";
    }
}
