using System.Globalization;
using Rnn.Kernels;
using Rnn.Layers;

namespace Rnn.Models;

/// <summary>
/// A <see cref="Model{T}"/>'s architecture as checkpoint metadata (format 2): "rnn.format" = "2", "rnn.input_size",
/// "rnn.layer_count", and per layer i "rnn.layer.{i}.kind", "rnn.layer.{i}.name" and its fields
/// ("rnn.layer.{i}.hidden", ...). Enum values are names; an unknown one is rejected naming its key.
/// </summary>
internal static class ModelMetadata
{
    public static Dictionary<string, string> ToMetadata(int inputSize, IReadOnlyList<LayerSpec> layers)
    {
        var ci = CultureInfo.InvariantCulture;
        var m = new Dictionary<string, string>
        {
            ["rnn.format"] = "2",
            ["rnn.input_size"] = inputSize.ToString(ci),
            ["rnn.layer_count"] = layers.Count.ToString(ci),
        };
        for (int i = 0; i < layers.Count; i++)
        {
            string p = $"rnn.layer.{i}.";
            m[p + "kind"] = layers[i].Kind;
            m[p + "name"] = layers[i].Name;
            foreach (var (k, v) in layers[i].Fields()) m[p + k] = v;
        }
        return m;
    }

    public static (int InputSize, LayerSpec[] Layers) FromMetadata(IReadOnlyDictionary<string, string> m, Func<string, string, Exception> fail)
    {
        static string Q(string v) => "'" + Rnn.IO.SafeTensorsException.Cut(v, 80) + "'";
        string S(string k) => m.TryGetValue(k, out var v) ? v : throw fail(k, "expected the key, not found.");
        int I(string k) => int.TryParse(S(k), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw fail(k, $"expected an integer, got {Q(S(k))}.");
        double D(string k) => double.TryParse(S(k), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw fail(k, $"expected a number, got {Q(S(k))}.");
        bool B(string k) => S(k) switch { "true" => true, "false" => false, var v => throw fail(k, $"expected true or false, got {Q(v)}.") };
        TEnum E<TEnum>(string k) where TEnum : struct, Enum
        {
            string t = S(k); // a name only: Enum.TryParse also takes "2"
            return t.Length > 0 && char.IsLetter(t[0]) && Enum.TryParse<TEnum>(t, out var v) && Enum.IsDefined(v) ? v
                : throw fail(k, $"expected one of {string.Join(", ", Enum.GetNames<TEnum>())}, got {Q(t)}.");
        }
        if (S("rnn.format") != "2") throw fail("rnn.format", $"expected 2, got {Q(S("rnn.format"))}.");
        int input = I("rnn.input_size"), count = I("rnn.layer_count");
        if (count < 1 || count > 1024) throw fail("rnn.layer_count", $"expected 1..1024, got {count}.");
        var layers = new LayerSpec[count];
        for (int i = 0; i < count; i++)
        {
            string p = $"rnn.layer.{i}.";
            string name = S(p + "name");
            LayerSpec s = S(p + "kind") switch
            {
                "embedding" => new EmbeddingSpec(name, I(p + "vocab"), I(p + "dim"), B(p + "mask_zero")),
                "recurrent" => new RecurrentSpec(name, E<CellKind>(p + "cell"), I(p + "hidden"))
                {
                    Layers = I(p + "layers"), Bidirectional = B(p + "bidirectional"), DropoutBetween = D(p + "dropout_between"),
                    InputDropout = D(p + "input_dropout"), RecurrentDropout = D(p + "recurrent_dropout"),
                    Init = ModelSpec.ParseInit(S(p + "init"), p + "init", fail), ReturnSequences = B(p + "return_sequences"),
                    InitialState = E<InitialState>(p + "initial_state"),
                    GradClipping = m.ContainsKey(p + "grad_clipping") ? D(p + "grad_clipping") : 0, // absent before grad clipping existed
                    Stateful = m.ContainsKey(p + "stateful") && B(p + "stateful"),                    // absent before stateful layers existed
                },
                "dropout" => new DropoutSpec(name, D(p + "rate")),
                "dense" => new DenseSpec(name, I(p + "units"), ModelSpec.ParseActivation(S(p + "activation"), p + "activation", fail)),
                "repeat_vector" => new RepeatVectorSpec(name, I(p + "times")),
                var k => throw fail(p + "kind", $"expected embedding, recurrent, dropout, dense or repeat_vector, got {Q(k)}."),
            };
            try { s.Validate($"layer {i} ({name})"); }
            catch (ArgumentException e) { throw fail(p + FieldKey(e.ParamName), e.Message); }
            layers[i] = s;
        }
        return (input, layers);
    }

    // "DropoutBetween" → "dropout_between".
    private static string FieldKey(string? field)
    {
        if (string.IsNullOrEmpty(field)) return "?";
        var b = new System.Text.StringBuilder();
        for (int i = 0; i < field.Length; i++)
        {
            if (char.IsUpper(field[i]) && i > 0) b.Append('_');
            b.Append(char.ToLowerInvariant(field[i]));
        }
        return b.ToString();
    }

    /// <summary>
    /// Every parameter's name and shape in <see cref="Model{T}.NamedParameters"/> order, in long arithmetic without
    /// building anything; the structure (embedding first, unique names, recurrent layers on sequences) is checked too.
    /// </summary>
    public static List<(string Name, long[] Shape)> ParameterShapes(int inputSize, IReadOnlyList<LayerSpec> layers, Func<string, string, Exception> fail)
    {
        var r = new List<(string, long[])>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool tokens = layers[0] is EmbeddingSpec, seq = true;
        if (tokens ? inputSize != 0 : inputSize < 1)
            throw fail("rnn.input_size", tokens ? $"expected 0 with an embedding first, got {inputSize}." : $"expected >= 1, got {inputSize}.");
        long width = inputSize;
        for (int i = 0; i < layers.Count; i++)
        {
            var s = layers[i];
            string key = $"rnn.layer.{i}.";
            if (s.Name.Length == 0 || s.Name.Contains('.', StringComparison.Ordinal) || !names.Add(s.Name))
                throw fail(key + "name", $"expected a unique non-empty name without '.', got '{Rnn.IO.SafeTensorsException.Cut(s.Name, 80)}'.");
            string n = s.Name + ".";
            switch (s)
            {
                case EmbeddingSpec e:
                    if (i > 0) throw fail(key + "kind", "expected embedding only as the first layer.");
                    r.Add((n + "weight", [e.Vocab, e.Dim]));
                    width = e.Dim;
                    break;
                case RecurrentSpec rs:
                    if (!seq) throw fail(key + "kind", "expected a sequence input for a recurrent layer, got one vector per sequence.");
                    long g = (long)rs.Gates * rs.Hidden;
                    for (int k = 0; k < rs.Layers; k++)
                    {
                        foreach (string dir in rs.Bidirectional ? new[] { "", "_reverse" } : [""])
                        {
                            string sfx = $"_l{k}{dir}";
                            r.Add((n + "weight_ih" + sfx, [g, width]));
                            r.Add((n + "weight_hh" + sfx, [g, rs.Hidden]));
                            r.Add((n + "bias_ih" + sfx, [g]));
                            if (rs.TwoBiases) r.Add((n + "bias_hh" + sfx, [g]));
                            if (rs.InitialState == InitialState.Learned)
                            {
                                r.Add((n + "h0" + sfx, [rs.Hidden]));
                                if (rs.Cell == CellKind.Lstm) r.Add((n + "c0" + sfx, [rs.Hidden]));
                            }
                        }
                        width = rs.OutputSize;
                    }
                    seq = rs.ReturnSequences;
                    break;
                case DenseSpec d:
                    r.Add((n + "weight", [d.Units, width]));
                    r.Add((n + "bias", [d.Units]));
                    width = d.Units;
                    break;
                case RepeatVectorSpec:
                    if (seq) throw fail(key + "kind", "expected one vector per sequence before a RepeatVector, got a sequence.");
                    seq = true;
                    break;
            }
        }
        foreach (var (name, shape) in r)
        {
            Int128 c = 1;
            foreach (long d in shape) c *= d;
            if (c > Array.MaxLength) throw fail("rnn.layer_count", $"expected every parameter to fit in one array, got {name} with {c} elements.");
        }
        return r;
    }
}
