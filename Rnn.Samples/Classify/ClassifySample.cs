using System.Diagnostics;
using System.Globalization;
using Rnn.Data;
using Rnn.IO;
using Rnn.Models;
using Rnn.Samples.Common;
using Rnn.Samples.Imdb;

namespace Rnn.Samples.Classify;

/// <summary>
/// The `classify` sample: loads a model saved by `imdb --save` (architecture, weights, vocabulary and maxlen all in
/// the one safetensors file) and prints the positive-sentiment probability of each review: one per line of stdin,
/// or one per file given. Built to run as a NativeAOT binary.
/// </summary>
public static class ClassifySample
{
    /// <summary>Entry point; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var clock = Stopwatch.StartNew();
        var cli = new Cli("classify",
            "Reads reviews (one per line on stdin, or one per FILE argument via --file) and prints P(positive)\n" +
            "with a model written by `imdb --save`.")
            .Option("model", "FILE", "checkpoint written by `imdb --save`")
            .Option("file", "FILE", "classify this file's whole text as one review (repeat the sample for several)")
            .Option("threads", "N", "kernel threads", "1")
            .Option("eval", "DIR", "instead: print the accuracy on DIR's labelled test split (aclImdb, or test.tsv[.gz]) at the model's precision")
            .Option("batch", "N", "reviews classified at once by --eval", "100")
            .Flag("timing", "print the time from process start to the first prediction on stderr")
            .Flag("quiet", "print only the probabilities");
        if (!cli.Parse(args)) return 0;
        Engine.Threads = cli.Int("threads", 1, Environment.ProcessorCount * 4);
        string model = cli.InputPath("model") ?? throw new UsageException("classify: --model FILE is required.");
        string? file = cli.InputPath("file");
        bool quiet = cli.Has("quiet");
        string? evalDir = cli.InputPath("eval", folder: true);
        int evalBatch = cli.Int("batch", 1, 100_000);
        if (evalDir != null && file != null) throw new UsageException("classify: --eval and --file exclude each other; give one.");

        // A bad model file (not a regular file, corrupt, truncated, hostile metadata) throws SafeTensorsException
        // naming it, before anything large is allocated; Program turns it into one line and exit code 3.
        using var net = Checkpoint.Load<float>(model, out var meta);
        if (!meta.TryGetValue("imdb.vocab", out var vocabText) || !meta.TryGetValue("imdb.maxlen", out var maxlenText))
            throw new BadInputException($"{model}: no imdb.vocab / imdb.maxlen metadata; expected a checkpoint written by `imdb --save`.");
        // The bound of imdb's --maxlen: a hostile 30,000,000 would make every review cost seconds.
        if (!int.TryParse(maxlenText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int maxlen) || maxlen < 1 || maxlen > ImdbSample.MaxMaxLen)
            throw new BadInputException($"{model}: metadata 'imdb.maxlen': expected an integer in 1..{ImdbSample.MaxMaxLen}, got '{Cut(maxlenText)}'.");
        if (net.Embedding == null || net.Spec.OutputSize != 1)
            throw new BadInputException($"{model}: not a token classifier (expected token input and one output).");
        KerasTokenizer tokenizer;
        try { tokenizer = KerasTokenizer.FromRankedWords(vocabText.Split('\n'), net.Spec.Vocab); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        { throw new BadInputException($"{model}: metadata 'imdb.vocab': {Cut(e.Message, 300)}", e); }
        if (meta.TryGetValue("imdb.source", out var source) && source.StartsWith("generated", StringComparison.Ordinal))
            Console.Error.WriteLine($"note: {model} was trained on generated data, whose vocabulary is synthetic (good0, bad1, w123, ...): English text scores about 0.5; train with `imdb --data DIR` for real reviews.");
        // A quantised checkpoint (`quantize`) predicts at its precision; Checkpoint.Load has checked the key.
        var predictor = new Predictor<float>(net, Checkpoint.PrecisionOf(meta));
        if (evalDir != null)
        {
            Console.WriteLine(ClassifyEval.Describe(ClassifyEval.Run(predictor, tokenizer, maxlen, evalDir, evalBatch), predictor.Precision, evalDir));
            return 0;
        }
        var state = predictor.NewState();
        var tokens = new int[maxlen];
        var prob = new float[1];
        bool first = true;

        float Classify(string text)
        {
            var ids = tokenizer.Encode(text);
            // Keras pad_sequences defaults, as in training: keep the last maxlen ids, pad in front with 0.
            Array.Clear(tokens);
            int n = Math.Min(ids.Length, maxlen);
            Array.Copy(ids, ids.Length - n, tokens, maxlen - n, n);
            predictor.PredictTokens(prob, tokens, default, state, maxlen);
            float p = net.Spec.OutputActivation == Rnn.Kernels.Activation.Sigmoid ? prob[0] : 1f / (1f + MathF.Exp(-prob[0]));
            if (first && cli.Has("timing"))
            {
                double sinceStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
                Console.Error.WriteLine($"first prediction: {sinceStart:F1} ms after process start ({clock.Elapsed.TotalMilliseconds:F1} ms in Main)");
            }
            first = false;
            return p;
        }

        string Show(string text) => text.Length <= 70 ? text : text[..67] + "...";
        if (file != null)
        {
            float p = Classify(File.ReadAllText(file));
            Console.WriteLine(quiet ? p.ToString("F4", CultureInfo.InvariantCulture) : $"{p.ToString("F4", CultureInfo.InvariantCulture)}\t{file}");
            return 0;
        }
        string? line;
        while ((line = Console.In.ReadLine()) != null)
        {
            if (line.Length == 0) continue;
            float p = Classify(line);
            Console.WriteLine(quiet ? p.ToString("F4", CultureInfo.InvariantCulture) : $"{p.ToString("F4", CultureInfo.InvariantCulture)}\t{Show(line)}");
        }
        return 0;
    }

    private static string Cut(string s, int max = 40) => s.Length <= max ? s : s[..max] + "...";
}
