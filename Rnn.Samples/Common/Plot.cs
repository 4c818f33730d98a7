using System.Globalization;
using System.Text;
using Rnn.IO;

namespace Rnn.Samples.Common;

/// <summary>
/// Training curves as pictures, with no package: an SVG line chart of per-epoch metrics (labelled axes,
/// legend, configuration in the title), and a compact terminal chart made of Unicode block characters.
/// Loss-like series share the left axis; series whose name contains "acc" or "within" use a right axis in [0, 1].
/// Ticks are 1, 2 or 5 × 10^k on every axis; the left axis turns logarithmic when its positive values span more
/// than a decade (or when asked); the legend goes where no curve runs, below the chart if no corner is free.
/// </summary>
public static class Plot
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    /// <summary>A rectangle in SVG user units (y down).</summary>
    public readonly record struct Box(double X, double Y, double W, double H)
    {
        /// <summary>True when the segment (x0, y0)-(x1, y1) has a point inside or on the box.</summary>
        public bool Hits(double x0, double y0, double x1, double y1)
        {
            // Liang-Barsky clipping: the segment meets the box iff some parameter range in [0, 1] survives.
            double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
            return Clip(-dx, x0 - X, ref t0, ref t1) && Clip(dx, X + W - x0, ref t0, ref t1)
                && Clip(-dy, y0 - Y, ref t0, ref t1) && Clip(dy, Y + H - y0, ref t0, ref t1);
        }

        private static bool Clip(double p, double q, ref double t0, ref double t1)
        {
            if (p == 0) return q >= 0;
            double r = q / p;
            if (p < 0) { if (r > t1) return false; if (r > t0) t0 = r; }
            else { if (r < t0) return false; if (r < t1) t1 = r; }
            return true;
        }
    }

    /// <summary>
    /// Writes an SVG chart of the named series atomically. <paramref name="x"/> gives each point's x value
    /// (default 1..n); <paramref name="logY"/> forces the left axis logarithmic (true) or linear (false),
    /// null decides by the data (positive values spanning more than a factor of 10).
    /// </summary>
    public static void Svg(string path, string title, IReadOnlyList<(string Name, double[] Values)> series, string yLabel = "loss",
        bool? logY = null, string xLabel = "epoch", double[]? x = null)
        => AtomicFile.WriteText(path, SvgText(title, series, yLabel, logY, xLabel, x));

    /// <summary>The SVG document of <see cref="Svg"/>.</summary>
    public static string SvgText(string title, IReadOnlyList<(string Name, double[] Values)> series, string yLabel = "loss",
        bool? logY = null, string xLabel = "epoch", double[]? x = null)
    {
        const int W = 760, L = 80, R = 70, T = 50, PlotH = 320;
        int n = series.Count == 0 ? 0 : series.Max(s => s.Values.Length);
        x ??= Enumerable.Range(1, Math.Max(n, 1)).Select(i => (double)i).ToArray();
        var left = series.Where(s => !IsRate(s.Name)).ToList();
        var lv = left.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        bool log = logY ?? (lv.Length > 0 && lv.Min() > 0 && lv.Max() / lv.Min() > 10);
        if (log && (lv.Length == 0 || lv.Min() <= 0)) log = false; // a log axis cannot show zero or negatives
        double dmin = lv.Length > 0 ? lv.Min() : 0, dmax = lv.Length > 0 ? lv.Max() : 1;
        if (!log) dmin = Math.Min(0, dmin); // a linear loss axis starts at zero
        var yTicks = log ? LogTicks(dmin, dmax) : LinearTicks(dmin, dmax);
        double ylo = yTicks[0], yhi = yTicks[^1];
        double xlo = x.Length > 0 ? x.Min() : 0, xhi = x.Length > 0 ? x.Max() : 1;
        if (xhi <= xlo) xhi = xlo + 1; // one point: an axis one epoch wide
        var xTicks = LinearTicks(xlo, xhi, maxTicks: 10, wholeSteps: true).Where(t => t >= xlo - 1e-9 && t <= xhi + 1e-9).ToList();
        // An x axis from its first nice tick at or below the first point (epoch 1 -> 0) to the last point.
        double xa = LinearTicks(xlo, xhi, maxTicks: 10, wholeSteps: true)[0];
        if (xTicks.Count == 0 || xTicks[0] > xa) xTicks.Insert(0, xa);
        int x0 = L, x1 = W - R, y0 = T, y1 = T + PlotH;
        double X(double v) => x0 + (x1 - x0) * (v - xa) / (xhi - xa);
        double YL(double v) => log ? y1 - (y1 - y0) * (Math.Log10(v) - Math.Log10(ylo)) / (Math.Log10(yhi) - Math.Log10(ylo))
                                   : y1 - (y1 - y0) * (v - ylo) / (yhi - ylo);
        double YR(double v) => y1 - (y1 - y0) * v;

        // The curves first, so the legend can be placed clear of them.
        var lines = new List<(string Name, string Color, bool Rate, List<(double X, double Y)> Pts)>();
        for (int s = 0; s < series.Count; s++)
        {
            var (name, vals) = series[s];
            bool rate = IsRate(name);
            var pts = new List<(double, double)>();
            for (int i = 0; i < vals.Length && i < x.Length; i++)
                if (double.IsFinite(vals[i]) && (!log || rate || vals[i] > 0)) pts.Add((X(x[i]), rate ? YR(vals[i]) : YL(vals[i])));
            lines.Add((name, Colors[s % Colors.Length], rate, pts));
        }
        double legendW = 44 + 7.2 * (series.Count == 0 ? 0 : series.Max(s => s.Name.Length)), legendH = 8 + 18 * series.Count;
        var legend = PlaceLegend(lines.Select(l => l.Pts).ToList(), legendW, legendH, x0, y0, x1, y1, out bool below);
        int H = y1 + 60 + (below ? (int)legendH + 10 : 0);

        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(ci, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.Append(ci, $"<text class=\"title\" x=\"{W / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"13\">{Esc(title)}</text>\n");
        foreach (double v in yTicks)
        {
            double y = YL(v);
            sb.Append(ci, $"<line x1=\"{x0}\" y1=\"{y:F1}\" x2=\"{x1}\" y2=\"{y:F1}\" stroke=\"#ddd\"/>");
            sb.Append(ci, $"<text class=\"ytick\" x=\"{x0 - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{Label(v)}</text>\n");
        }
        foreach (double v in xTicks)
        {
            double xp = X(v);
            sb.Append(ci, $"<line x1=\"{xp:F1}\" y1=\"{y1}\" x2=\"{xp:F1}\" y2=\"{y1 + 5}\" stroke=\"black\"/>");
            sb.Append(ci, $"<text class=\"xtick\" x=\"{xp:F1}\" y=\"{y1 + 18}\" text-anchor=\"middle\">{Label(v)}</text>\n");
        }
        sb.Append(ci, $"<line x1=\"{x0}\" y1=\"{y1}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"black\"/>\n");
        sb.Append(ci, $"<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>\n");
        if (lines.Any(l => l.Rate))
        {
            sb.Append(ci, $"<line x1=\"{x1}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"black\"/>\n");
            for (int k = 0; k <= 5; k++)
                sb.Append(ci, $"<text class=\"rtick\" x=\"{x1 + 6}\" y=\"{YR(k / 5.0) + 4:F1}\">{Label(k / 5.0)}</text>\n");
            sb.Append(ci, $"<text transform=\"translate({W - 15},{(y0 + y1) / 2}) rotate(90)\" text-anchor=\"middle\">accuracy (dashed)</text>\n");
        }
        sb.Append(ci, $"<text x=\"{(x0 + x1) / 2}\" y=\"{y1 + 40}\" text-anchor=\"middle\">{Esc(xLabel)}</text>\n");
        sb.Append(ci, $"<text transform=\"translate(18,{(y0 + y1) / 2}) rotate(-90)\" text-anchor=\"middle\">{Esc(yLabel + (log ? " (log scale)" : ""))}</text>\n");
        foreach (var (name, color, rate, pts) in lines)
        {
            string points = string.Join(' ', pts.Select(p => string.Create(ci, $"{p.X:F1},{p.Y:F1}")));
            sb.Append(ci, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{(rate ? " stroke-dasharray=\"6,3\"" : "")} points=\"{points}\"/>\n");
        }
        sb.Append(ci, $"<rect class=\"legend\" x=\"{legend.X:F1}\" y=\"{legend.Y:F1}\" width=\"{legend.W:F1}\" height=\"{legend.H:F1}\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n");
        for (int s = 0; s < lines.Count; s++)
        {
            var (name, color, rate, _) = lines[s];
            double ly = legend.Y + 13 + 18 * s;
            sb.Append(ci, $"<line x1=\"{legend.X + 8:F1}\" y1=\"{ly:F1}\" x2=\"{legend.X + 33:F1}\" y2=\"{ly:F1}\" stroke=\"{color}\" stroke-width=\"2\"{(rate ? " stroke-dasharray=\"6,3\"" : "")}/>");
            sb.Append(ci, $"<text x=\"{legend.X + 38:F1}\" y=\"{ly + 4:F1}\">{Esc(name)}</text>\n");
        }
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>
    /// The first legend position, among the plot's corners and edge midpoints, that no curve segment touches
    /// (with a margin); when every one is crossed, a box below the x-axis label (<paramref name="below"/> true).
    /// </summary>
    public static Box PlaceLegend(IReadOnlyList<List<(double X, double Y)>> curves, double w, double h,
        double x0, double y0, double x1, double y1, out bool below)
    {
        const double pad = 8, margin = 4;
        double[] xs = [x1 - pad - w, x0 + pad, (x0 + x1 - w) / 2];
        double[] ys = [y0 + pad, y1 - pad - h, (y0 + y1 - h) / 2];
        foreach (var (cx, cy) in new[] { (0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (2, 1), (0, 2), (1, 2) })
        {
            var box = new Box(xs[cx], ys[cy], w, h);
            if (!Crossed(curves, new Box(box.X - margin, box.Y - margin, w + 2 * margin, h + 2 * margin))) { below = false; return box; }
        }
        below = true;
        return new Box(x0, y1 + 52, w, h);
    }

    /// <summary>True when any segment (or lone point) of any curve touches <paramref name="box"/>.</summary>
    public static bool Crossed(IReadOnlyList<List<(double X, double Y)>> curves, Box box)
    {
        foreach (var pts in curves)
        {
            if (pts.Count == 1 && box.Hits(pts[0].X, pts[0].Y, pts[0].X, pts[0].Y)) return true;
            for (int i = 1; i < pts.Count; i++)
                if (box.Hits(pts[i - 1].X, pts[i - 1].Y, pts[i].X, pts[i].Y)) return true;
        }
        return false;
    }

    /// <summary>
    /// Ticks of step 1, 2 or 5 × 10^k covering [lo, hi] with at most <paramref name="maxTicks"/> intervals; the first
    /// and last ticks enclose the data. <paramref name="wholeSteps"/> keeps the step at 1 or more (epochs).
    /// </summary>
    public static double[] LinearTicks(double lo, double hi, int maxTicks = 6, bool wholeSteps = false)
    {
        if (!(hi > lo)) { hi = lo + (lo == 0 ? 1 : Math.Abs(lo)); }
        double step = NiceStep((hi - lo) / maxTicks);
        if (wholeSteps) step = Math.Max(1, step);
        double a = Math.Floor(lo / step + 1e-9) * step, b = Math.Ceiling(hi / step - 1e-9) * step;
        int count = (int)Math.Round((b - a) / step);
        var t = new double[count + 1];
        for (int k = 0; k <= count; k++) t[k] = Round(a + k * step, step);
        return t;
    }

    /// <summary>
    /// Ticks of a log axis over [lo, hi] (both positive): every power of ten, with 2 and 5 × 10^k between them
    /// when the range spans at most three decades; the first and last ticks enclose the data.
    /// </summary>
    public static double[] LogTicks(double lo, double hi)
    {
        if (!(lo > 0)) throw new ArgumentOutOfRangeException(nameof(lo), lo, "LogTicks: expected lo > 0.");
        if (!(hi > lo)) hi = lo * 10;
        int k0 = (int)Math.Floor(Math.Log10(lo) + 1e-9), k1 = (int)Math.Ceiling(Math.Log10(hi) - 1e-9);
        bool fine = k1 - k0 <= 3;
        var all = new List<double>();
        for (int k = k0; k <= k1; k++)
            foreach (int m in fine ? [1, 2, 5] : new[] { 1 })
                all.Add(Round(m * Math.Pow(10, k), Math.Pow(10, k)));
        // Keep the ticks between the last one at or below lo and the first one at or above hi.
        int first = all.FindLastIndex(v => v <= lo * (1 + 1e-9)), last = all.FindIndex(v => v >= hi * (1 - 1e-9));
        return all.GetRange(Math.Max(first, 0), (last < 0 ? all.Count - 1 : last) - Math.Max(first, 0) + 1).ToArray();
    }

    /// <summary>True when <paramref name="v"/> is 1, 2 or 5 times a power of ten (or zero).</summary>
    public static bool IsNice(double v)
    {
        if (v == 0) return true;
        double a = Math.Abs(v), p = Math.Pow(10, Math.Floor(Math.Log10(a) + 1e-9)), m = a / p;
        return Math.Abs(m - 1) < 1e-6 || Math.Abs(m - 2) < 1e-6 || Math.Abs(m - 5) < 1e-6;
    }

    private static double NiceStep(double raw)
    {
        double p = Math.Pow(10, Math.Floor(Math.Log10(raw))), m = raw / p;
        return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    }

    // Removes float noise (0.30000000000000004) at the step's precision.
    private static double Round(double v, double step)
        => Math.Round(v, Math.Clamp(-(int)Math.Floor(Math.Log10(step)) + 1, 0, 15));

    private static string Label(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

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

    /// <summary>The x values of a report's points: its "epoch" or "iteration" entries, or null when it has neither.</summary>
    public static (string Label, double[] Values)? XOf(Report report)
    {
        foreach (var key in new[] { "epoch", "iteration" })
            if (report.Epochs.Count > 0 && report.Epochs.All(e => e.Any(kv => kv.Key == key)))
                return (key, report.Epochs.Select(e => e.First(kv => kv.Key == key).Value).ToArray());
        return null;
    }

    private static bool IsRate(string name) => name.Contains("acc", StringComparison.OrdinalIgnoreCase) || name.Contains("within", StringComparison.OrdinalIgnoreCase);

    private static string Esc(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
