using System.Text.Json;
using static Rnn.Tests.SampleCli;

namespace Rnn.Tests;

/// <summary>The imdb sample's whole-review options: --packed, --bucket, --bidirectional, --clip.</summary>
[Collection("Console")]
public class ImdbPackedCliTests
{
    [Fact]
    public void PackedBucketedBidirectionalTrainingRunsAndReportsItsOptions()
    {
        string report = Path.Combine(Path.GetTempPath(), $"rnn-imdb-packed-{Environment.ProcessId}.json");
        try
        {
            string[] args = ["imdb", "--packed", "--bucket", "4", "--bidirectional", "--clip", "1", "--maxlen", "60", "--hidden", "8", "--embed", "8",
                "--epochs", "1", "--train-limit", "256", "--no-baseline", "--quiet", "--seed", "3", "--report", report];
            var (code, _, err) = Run(args);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(File.ReadAllText(report));
            var cfg = doc.RootElement.GetProperty("config");
            Assert.True(cfg.GetProperty("packed").GetBoolean());
            Assert.Equal(4, cfg.GetProperty("bucket").GetInt32());
            Assert.True(cfg.GetProperty("bidirectional").GetBoolean());
            var epoch = doc.RootElement.GetProperty("epochs")[0];
            double acc = epoch.GetProperty("test_acc").GetDouble();
            Assert.InRange(acc, 0.0, 1.0);
            // The same seed gives the same run.
            string first = File.ReadAllText(report);
            Assert.Equal(0, Run(args).Code);
            using var again = JsonDocument.Parse(File.ReadAllText(report));
            Assert.Equal(acc, again.RootElement.GetProperty("epochs")[0].GetProperty("test_acc").GetDouble());
        }
        finally { File.Delete(report); }
    }

    [Fact]
    public void BucketWithoutPackedIsAUsageError()
    {
        var (code, _, err) = Run("imdb", "--bucket", "4", "--epochs", "1");
        Assert.Equal(2, code);
        Assert.Contains("--bucket needs --packed", err);
    }
}
