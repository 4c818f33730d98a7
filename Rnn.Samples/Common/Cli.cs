using System.Globalization;

namespace Rnn.Samples.Common;

/// <summary>A bad command line: the message is shown and the process exits with code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>A bad input file or data folder (missing, unreadable, corrupt, truncated): one line naming it, exit code 3.</summary>
public sealed class BadInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One option parser for every sample, so names and forms are the same everywhere: <c>--name value</c>
/// or <c>--name=value</c>, flags without a value. Unknown options and bad values throw <see cref="UsageException"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Each accessor is named for the value type it parses (Int, ULong, Double).")]
public sealed class Cli
{
    private readonly record struct Spec(string Name, string Meta, string Help, string? Default, bool Flag);
    private readonly List<Spec> _specs = new();
    private readonly Dictionary<string, string?> _values = new();
    private readonly string _sample, _summary;

    /// <summary>Creates a parser for one sample.</summary>
    public Cli(string sample, string summary) { _sample = sample; _summary = summary; }

    /// <summary>Declares an option with a value.</summary>
    public Cli Option(string name, string meta, string help, string? @default = null)
    { _specs.Add(new(name, meta, help, @default, false)); return this; }

    /// <summary>Declares a flag.</summary>
    public Cli Flag(string name, string help) { _specs.Add(new(name, "", help, null, true)); return this; }

    /// <summary>
    /// Declares the options every training sample shares, with the same names, forms and meanings:
    /// --epochs --lr --seed --threads --report --plot --save --quiet. Read them with <see cref="TrainOptions.Read"/>.
    /// A null <paramref name="lr"/> means the default depends on other options (<paramref name="lrHelp"/> says which).
    /// </summary>
    public Cli Common(int epochs, double? lr, string saveHelp, ulong seed = 1, string epochsHelp = "training epochs", string lrHelp = "learning rate")
        => Option("epochs", "N", epochsHelp, epochs.ToString(CultureInfo.InvariantCulture))
          .Option("lr", "X", lrHelp, lr?.ToString("R", CultureInfo.InvariantCulture))
          .Option("seed", "N", "random seed; the same seed reproduces the run", seed.ToString(CultureInfo.InvariantCulture))
          .Option("threads", "N", "kernel threads", "1")
          .Option("report", "FILE", "write a JSON record of the configuration and per-epoch metrics (rewritten after each epoch)")
          .Option("plot", "FILE.svg", "write an SVG chart of the per-epoch metrics")
          .Flag("plot-log", "log-scale loss axis in the chart (automatic when the losses span more than a decade)")
          .Option("save", "FILE", saveHelp)
          .Flag("quiet", "no progress line");

    /// <summary>Help text.</summary>
    public string Help()
    {
        var w = new StringWriter();
        w.WriteLine($"usage: Rnn.Samples {_sample} [options]");
        w.WriteLine();
        w.WriteLine(_summary);
        w.WriteLine();
        w.WriteLine("options:");
        foreach (var s in _specs)
        {
            string left = s.Flag ? $"--{s.Name}" : $"--{s.Name} {s.Meta}";
            string def = s.Default is null ? "" : $" (default {s.Default})";
            w.WriteLine($"  {left,-22} {s.Help}{def}");
        }
        w.WriteLine($"  {"--help",-22} show this help");
        return w.ToString();
    }

    /// <summary>Parses args; returns false when --help was asked (help already printed).</summary>
    public bool Parse(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a is "--help" or "-h") { Console.Out.Write(Help()); return false; }
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"{_sample}: unexpected argument '{a}'. See --help.");
            string name = a[2..]; string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            var spec = _specs.FirstOrDefault(s => s.Name == name);
            if (spec.Name is null) throw new UsageException($"{_sample}: unknown option '--{name}'. See --help.");
            if (spec.Flag)
            {
                if (value != null) throw new UsageException($"{_sample}: --{name} takes no value, got '{value}'.");
                _values[name] = "true";
                continue;
            }
            if (value == null)
            {
                if (i + 1 >= args.Length) throw new UsageException($"{_sample}: --{name} expects a value ({spec.Meta}), got nothing.");
                value = args[++i];
                if (value.StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"{_sample}: --{name} expects a value ({spec.Meta}), got the option '{value}'.");
            }
            _values[name] = value;
        }
        return true;
    }

    /// <summary>True when the option or flag was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The string value, or the default.</summary>
    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : _specs.First(s => s.Name == name).Default;

    /// <summary>An integer in [min, max].</summary>
    public int Int(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        string? v = Get(name);
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int r) || r < min || r > max)
            throw new UsageException($"{_sample}: --{name} expects an integer in [{min}, {max}], got '{v}'.");
        return r;
    }

    /// <summary>A non-negative 64-bit integer.</summary>
    public ulong ULong(string name)
    {
        string? v = Get(name);
        if (!ulong.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong r))
            throw new UsageException($"{_sample}: --{name} expects a non-negative integer, got '{v}'.");
        return r;
    }

    /// <summary>A finite number in [min, max].</summary>
    public double Double(string name, double min = double.MinValue, double max = double.MaxValue)
    {
        string? v = Get(name);
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) || !double.IsFinite(r) || r < min || r > max)
            throw new UsageException($"{_sample}: --{name} expects a number in [{min}, {max}], got '{v}'.");
        return r;
    }

    /// <summary>
    /// An output file path, or null when the option was not given. It is checked as writable now, so a long run
    /// does not fail at the end: not a directory, its folder exists, and a probe file can be created (and is
    /// removed) beside it, where the atomic write puts its temporary file.
    /// </summary>
    public string? OutputPath(string name)
    {
        string? v = Get(name);
        if (v is null) return null;
        if (v.Length == 0 || v.EndsWith('/') || v.EndsWith(Path.DirectorySeparatorChar))
            throw new UsageException($"{_sample}: --{name} expects a file path, got '{v}'.");
        string full;
        try { full = Path.GetFullPath(v); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        { throw new UsageException($"{_sample}: --{name}: '{v}' is not a valid path ({e.Message})."); }
        if (Directory.Exists(full))
            throw new UsageException($"{_sample}: --{name}: '{v}' is a directory; expected a file path.");
        string? dir = Path.GetDirectoryName(full);
        if (dir != null && !Directory.Exists(dir))
            throw new UsageException($"{_sample}: --{name}: the folder '{dir}' does not exist.");
        string probe = Path.Combine(dir ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.probe");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{_sample}: --{name}: cannot write '{v}': a probe file in '{dir}' was refused ({e.Message}).");
        }
        return v;
    }

    /// <summary>An input path that must exist (a file, or a folder when <paramref name="folder"/>), or null when not given.</summary>
    public string? InputPath(string name, bool folder = false)
    {
        string? v = Get(name);
        if (v is null) return null;
        if (folder ? !Directory.Exists(v) : !File.Exists(v))
            throw new UsageException($"{_sample}: --{name}: {(folder ? "folder" : "file")} '{v}' not found.");
        return v;
    }

    /// <summary>One of a fixed set of words.</summary>
    public string Choice(string name, params string[] choices)
    {
        string? v = Get(name);
        if (v is null || !choices.Contains(v))
            throw new UsageException($"{_sample}: --{name} expects one of {string.Join(", ", choices)}, got '{v}'.");
        return v;
    }
}
