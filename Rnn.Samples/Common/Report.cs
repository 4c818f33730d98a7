
using System.Text.Json;
using Rnn.IO;

namespace Rnn.Samples.Common;

/// <summary>
/// The --report JSON: the configuration and, per epoch, its metrics and seconds. Written with
/// <see cref="Utf8JsonWriter"/> (no reflection, AOT-safe), atomically (temp file, then rename),
/// after every epoch so an interrupted run still leaves a valid record.
/// </summary>
public sealed class Report
{
    private readonly string _sample;
    private readonly List<(string Key, object Value)> _config = new();
    private readonly List<List<(string Key, double Value)>> _epochs = new();
    private readonly List<(string Key, object Value)> _summary = new();

    /// <summary>Creates a report for a sample.</summary>
    public Report(string sample) { _sample = sample; }

    /// <summary>Adds a configuration entry (string, number or bool).</summary>
    public Report Config(string key, object value) { _config.Add((key, value)); return this; }

    /// <summary>Adds one epoch's metrics.</summary>
    public void Epoch(params (string Key, double Value)[] metrics) => _epochs.Add(metrics.ToList());

    /// <summary>Adds a summary entry.</summary>
    public void Summary(string key, object value) => _summary.Add((key, value));

    /// <summary>The metrics of every epoch so far.</summary>
    public IReadOnlyList<List<(string Key, double Value)>> Epochs => _epochs;

    /// <summary>Writes the JSON file atomically.</summary>
    public void Save(string path)
    {
        var buf = new MemoryStream();
        using (var w = new Utf8JsonWriter(buf, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("sample", _sample);
            w.WriteString("engine", "rnn");
            w.WriteString("runtime", System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "jit" : "aot");
            w.WriteStartObject("config");
            foreach (var (k, v) in _config) WriteValue(w, k, v);
            w.WriteEndObject();
            w.WriteStartArray("epochs");
            foreach (var e in _epochs)
            {
                w.WriteStartObject();
                foreach (var (k, v) in e) WriteValue(w, k, v);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("summary");
            foreach (var (k, v) in _summary) WriteValue(w, k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        AtomicFile.Write(path, buf.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, string k, object v)
    {
        switch (v)
        {
            case bool b: w.WriteBoolean(k, b); break;
            case int i: w.WriteNumber(k, i); break;
            case long l: w.WriteNumber(k, l); break;
            case ulong u: w.WriteNumber(k, u); break;
            case double d when double.IsFinite(d): w.WriteNumber(k, d); break;
            case double d: w.WriteString(k, d.ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
            case float f: w.WriteNumber(k, f); break;
            default: w.WriteString(k, Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)); break;
        }
    }
}

