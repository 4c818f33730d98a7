using System.Globalization;
using System.Xml.Linq;
using Rnn.Samples.Common;

namespace Rnn.Tests;

/// <summary>
/// The SVG charts' geometry, read back from the SVG text (no browser): tick labels are 1, 2 or 5 × 10^k steps,
/// a loss spanning more than a decade gets a log axis, and the legend box touches no curve.
/// </summary>
public class PlotTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    // Curves shaped like the three documented runs: adding (200 epochs, falling 0.17 -> 0.004, rate rising),
    // imdb (4 epochs, losses crossing, accuracies near the top), charrnn lstm (10 epochs, two close losses).
    public static TheoryData<string> Shapes => ["adding", "imdb", "charrnn", "flat", "single"];

    private static (string Name, double[] Values)[] Series(string shape) => shape switch
    {
        "adding" =>
        [
            ("validation_cost", Enumerable.Range(1, 200).Select(e => 0.004 + 0.17 * Math.Exp(-e / 12.0) + 0.002 * Math.Sin(e)).ToArray()),
            ("train_loss_ema", Enumerable.Range(1, 200).Select(e => 0.005 + 0.16 * Math.Exp(-e / 10.0)).ToArray()),
            ("within_0.04", Enumerable.Range(1, 200).Select(e => Math.Min(0.6, e / 150.0)).ToArray()),
        ],
        "imdb" =>
        [
            ("train_loss", [0.47, 0.31, 0.22, 0.15]), ("test_loss", [0.36, 0.37, 0.42, 0.47]),
            ("train_acc", [0.78, 0.87, 0.92, 0.95]), ("test_acc", [0.846, 0.843, 0.837, 0.841]),
        ],
        "charrnn" =>
        [
            ("train_loss", [2.4, 1.6, 1.35, 1.22, 1.15, 1.1, 1.06, 1.03, 1.01, 0.99]),
            ("validation_loss", [1.9, 1.55, 1.4, 1.32, 1.28, 1.25, 1.23, 1.22, 1.21, 1.2]),
        ],
        "flat" => [("loss", [0.5, 0.5, 0.5])],
        _ => [("loss", [0.3])],
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TicksAreNiceAndTheLegendTouchesNoCurve(string shape)
    {
        var doc = XDocument.Parse(Plot.SvgText($"{shape} chart", Series(shape)));
        foreach (var cls in new[] { "ytick", "xtick", "rtick" })
        {
            var ticks = Texts(doc, cls).Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
            if (cls != "rtick") Assert.True(ticks.Length >= 2, $"{shape}: {cls} has {ticks.Length} labels");
            Assert.All(ticks, v => Assert.True(Plot.IsNice(v) || IsMultipleOfNiceStep(ticks, v), $"{shape}: {cls} label {v} is not 1, 2 or 5 x 10^k or a multiple of such a step"));
        }
        var legend = doc.Descendants(Svg + "rect").Single(r => (string?)r.Attribute("class") == "legend");
        var box = new Plot.Box(D(legend, "x"), D(legend, "y"), D(legend, "width"), D(legend, "height"));
        var curves = doc.Descendants(Svg + "polyline").Select(p => ((string)p.Attribute("points")!)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(xy => xy.Split(',')).Select(a => (double.Parse(a[0], CultureInfo.InvariantCulture), double.Parse(a[1], CultureInfo.InvariantCulture))).ToList()).ToList();
        Assert.Equal(Series(shape).Length, curves.Count);
        Assert.False(Plot.Crossed(curves, box), $"{shape}: the legend box {box} touches a curve");
    }

    [Fact]
    public void LossesSpanningMoreThanADecadeGetALogAxisOthersStayLinear()
    {
        var adding = XDocument.Parse(Plot.SvgText("adding", Series("adding")));
        var yt = Texts(adding, "ytick").Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        Assert.Contains(adding.Descendants(Svg + "text"), t => t.Value.EndsWith("(log scale)", StringComparison.Ordinal));
        // 0.002 .. 0.2: 1, 2, 5 per decade, enclosing the data.
        Assert.Equal([0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2], yt);

        var imdb = XDocument.Parse(Plot.SvgText("imdb", Series("imdb")));
        Assert.DoesNotContain(imdb.Descendants(Svg + "text"), t => t.Value.EndsWith("(log scale)", StringComparison.Ordinal));
        Assert.Equal([0, 0.1, 0.2, 0.3, 0.4, 0.5], Texts(imdb, "ytick").Select(t => double.Parse(t, CultureInfo.InvariantCulture)));
        // --plot-log forces it.
        var forced = XDocument.Parse(Plot.SvgText("imdb", Series("imdb"), logY: true));
        Assert.Equal([0.1, 0.2, 0.5], Texts(forced, "ytick").Select(t => double.Parse(t, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void EpochTicksAreRoundNumbers()
    {
        Assert.Equal([0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200], Plot.LinearTicks(1, 200, maxTicks: 10, wholeSteps: true));
        Assert.Equal([1, 2, 3, 4], Plot.LinearTicks(1, 4, maxTicks: 10, wholeSteps: true));
        Assert.Equal([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50], Plot.LinearTicks(1, 50, maxTicks: 10, wholeSteps: true));
        Assert.Equal([0, 0.02, 0.04, 0.06, 0.08], Plot.LinearTicks(0, 0.0797));
        Assert.Equal([0.001, 0.01, 0.1, 1, 10], Plot.LogTicks(0.004, 8)); // more than three decades: powers of ten only
        var x = XDocument.Parse(Plot.SvgText("adding", Series("adding")));
        Assert.Equal(["0", "20", "40", "60", "80", "100", "120", "140", "160", "180", "200"], Texts(x, "xtick"));
    }

    [Fact]
    public void ALegendWithNoFreeCornerGoesBelowTheChart()
    {
        // Zigzags over the whole plot area: every candidate position is crossed.
        var zig = Enumerable.Range(0, 60).Select(i => i % 2 == 0 ? 0.01 : 1.0).ToArray();
        var doc = XDocument.Parse(Plot.SvgText("zigzag", [("a", zig), ("b", zig.Select(v => 1.01 - v).ToArray())], logY: false));
        var legend = doc.Descendants(Svg + "rect").Single(r => (string?)r.Attribute("class") == "legend");
        double axisY = doc.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "xtick").Select(t => D(t, "y")).Max(); // labels sit under the axis
        Assert.True(D(legend, "y") > axisY, "the legend should sit below the x axis");
        Assert.True(D(doc.Root!, "height") >= D(legend, "y") + D(legend, "height"), "the SVG should grow to hold it");
    }

    private static IEnumerable<string> Texts(XDocument doc, string cls)
        => doc.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == cls).Select(t => t.Value);

    private static double D(XElement e, string attr) => double.Parse((string)e.Attribute(attr)!, CultureInfo.InvariantCulture);

    // Linear ticks 0.3, 0.6 ... are multiples of a nice step (0.1 x 3): the step between labels must be nice.
    private static bool IsMultipleOfNiceStep(double[] ticks, double v)
    {
        if (ticks.Length < 2) return false;
        double step = ticks[1] - ticks[0];
        return Plot.IsNice(Math.Round(step, 12)) && Math.Abs(v / step - Math.Round(v / step)) < 1e-6;
    }
}
