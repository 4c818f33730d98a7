using System.Globalization;
using System.Text;
using Rnn.IO;

namespace Rnn.Samples.Common;

/// <summary>
/// Training curves as pictures, with no package: an SVG line chart of per-epoch metrics (labelled axes,
/// legend, configuration in the title), and a compact terminal chart made of Unicode block characters.
/// Loss-like series share the left axis; series whose name contains "acc" or "within" use a right axis in [0, 1].
/// </summary>
public static class Plot
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    /// <summary>Writes an SVG chart of the named series (x = epoch 1..n) atomically.</summary>
    public static void Svg(string path, string title, IReadOnlyList<(string Name, double[] Values)> series, string yLabel = "loss")
    {
        const int W = 760, H = 430, L = 70, R = 70, T = 50, Bm = 60;
        int n = series.Count == 0 ? 0 : series.Max(s => s.Values.Length);
        var left = series.Where(s => !IsRate(s.Name)).ToList();
        var right = series.Where(s => IsRate(s.Name)).ToList();
        var lv = left.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        double lmin = lv.Length > 0 ? Math.Min(0, lv.Min()) : 0, lmax = lv.Length > 0 ? lv.Max() : 1;
        if (lmax <= lmin) lmax = lmin + 1;
        double X(int i) => L + (n <= 1 ? 0 : (W - L - R) * (double)i / (n - 1));
        double YL(double v) => T + (H - T - Bm) * (1 - (v - lmin) / (lmax - lmin));
        double YR(double v) => T + (H - T - Bm) * (1 - v);
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.Append(ci, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.Append(ci, $"<text x=\"{W / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"13\">{Esc(title)}</text>\n");
        // axes and grid
        sb.Append(ci, $"<line x1=\"{L}\" y1=\"{H - Bm}\" x2=\"{W - R}\" y2=\"{H - Bm}\" stroke=\"black\"/>\n");
        sb.Append(ci, $"<line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - Bm}\" stroke=\"black\"/>\n");
        for (int k = 0; k <= 5; k++)
        {
            double v = lmin + (lmax - lmin) * k / 5; double y = YL(v);
            sb.Append(ci, $"<line x1=\"{L}\" y1=\"{y:F1}\" x2=\"{W - R}\" y2=\"{y:F1}\" stroke=\"#ddd\"/>");
            sb.Append(ci, $"<text x=\"{L - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{v.ToString("G3", ci)}</text>\n");
        }
        if (right.Count > 0)
        {
            sb.Append(ci, $"<line x1=\"{W - R}\" y1=\"{T}\" x2=\"{W - R}\" y2=\"{H - Bm}\" stroke=\"black\"/>\n");
            for (int k = 0; k <= 5; k++)
                sb.Append(ci, $"<text x=\"{W - R + 6}\" y=\"{YR(k / 5.0) + 4:F1}\">{(k / 5.0).ToString("G2", ci)}</text>\n");
            sb.Append(ci, $"<text transform=\"translate({W - 15},{(T + H - Bm) / 2}) rotate(90)\" text-anchor=\"middle\">accuracy</text>\n");
        }
        int ticks = Math.Min(n, 10);
        for (int k = 0; k < ticks; k++)
        {
            int i = ticks <= 1 ? 0 : (int)Math.Round((n - 1) * (double)k / (ticks - 1));
            sb.Append(ci, $"<text x=\"{X(i):F1}\" y=\"{H - Bm + 18}\" text-anchor=\"middle\">{i + 1}</text>\n");
        }
        sb.Append(ci, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 22}\" text-anchor=\"middle\">epoch</text>\n");
        sb.Append(ci, $"<text transform=\"translate(18,{(T + H - Bm) / 2}) rotate(-90)\" text-anchor=\"middle\">{Esc(yLabel)}</text>\n");
        for (int s = 0; s < series.Count; s++)
        {
            var (name, vals) = series[s];
            bool rate = IsRate(name);
            var pts = new StringBuilder();
            for (int i = 0; i < vals.Length; i++)
                if (double.IsFinite(vals[i])) pts.Append(ci, $"{X(i):F1},{(rate ? YR(vals[i]) : YL(vals[i])):F1} ");
            string color = Colors[s % Colors.Length];
            sb.Append(ci, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{(rate ? " stroke-dasharray=\"6,3\"" : "")} points=\"{pts.ToString().TrimEnd()}\"/>\n");
            // legend
            int ly = T + 8 + 18 * s;
            sb.Append(ci, $"<line x1=\"{W - R - 170}\" y1=\"{ly}\" x2=\"{W - R - 145}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{(rate ? " stroke-dasharray=\"6,3\"" : "")}/>");
            sb.Append(ci, $"<text x=\"{W - R - 140}\" y=\"{ly + 4}\">{Esc(name)}</text>\n");
        }
        sb.Append("</svg>\n");
        AtomicFile.WriteText(path, sb.ToString());
    }

    /// <summary>A one-line chart of a series with ▁▂▃▄▅▆▇█ (resampled to at most <paramref name="width"/> columns), with its range.</summary>
    public static string Terminal(string name, IReadOnlyList<double> values, int width = 60)
    {
        const string blocks = "▁▂▃▄▅▆▇█";
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return $"{name}: (no data)";
        int cols = Math.Min(width, v.Length);
        double lo = v.Min(), hi = v.Max();
        var sb = new StringBuilder();
        for (int c = 0; c < cols; c++)
        {
            int a = c * v.Length / cols, b = Math.Max(a + 1, (c + 1) * v.Length / cols);
            double m = 0; for (int i = a; i < b; i++) m += v[i]; m /= b - a;
            int k = hi > lo ? (int)Math.Round((m - lo) / (hi - lo) * (blocks.Length - 1)) : 0;
            sb.Append(blocks[k]);
        }
        var ci = CultureInfo.InvariantCulture;
        return $"{name} {sb}  first {v[0].ToString("G4", ci)}  last {v[^1].ToString("G4", ci)}  min {lo.ToString("G4", ci)}  max {hi.ToString("G4", ci)}";
    }

    /// <summary>Series of a report's epochs: each metric name except "epoch" and "seconds".</summary>
    public static List<(string Name, double[] Values)> SeriesOf(Report report, params string[] names)
    {
        var list = new List<(string, double[])>();
        foreach (var name in names)
        {
            var vals = report.Epochs.Select(e => e.FirstOrDefault(kv => kv.Key == name) is var kv && kv.Key != null ? kv.Value : double.NaN).ToArray();
            if (vals.Any(double.IsFinite)) list.Add((name, vals));
        }
        return list;
    }

    private static bool IsRate(string name) => name.Contains("acc", StringComparison.OrdinalIgnoreCase) || name.Contains("within", StringComparison.OrdinalIgnoreCase);

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
