using System.Diagnostics;
using Rnn.Fuzz;
using Rnn.Init;
using Rnn.IO;
using Rnn.Layers;
using Rnn.Models;

namespace Rnn.Tests;

/// <summary>
/// Hostile files (issue 17): every corruption of a real checkpoint, through every load route, is refused with
/// <see cref="SafeTensorsException"/> naming the file, before any allocation larger than the file allows. The
/// corpus is tools/fuzz/HostileCorpus.cs; tools/fuzz runs the same routes for minutes.
/// </summary>
[Collection("Kernels")] // allocation is measured per thread: keep other tests' pool traffic out of the way
public class HostileFileTests
{
    private static readonly List<(string Kind, byte[] Bytes)> Seeds = HostileCorpus.Seeds();

    [Fact]
    public void SeedsLoadThroughTheirRoutes()
    {
        string scratch = Path.GetTempFileName();
        try
        {
            Assert.Equal(HostileRoutes.Verdict.Accepted, HostileRoutes.Run("checkpoint", Seeds[0].Bytes, scratch).Verdict);
            Assert.Equal(HostileRoutes.Verdict.Accepted, HostileRoutes.Run("pytorch", Seeds[1].Bytes, scratch).Verdict);
            Assert.Equal(HostileRoutes.Verdict.Accepted, HostileRoutes.Run("keras", Seeds[2].Bytes, scratch).Verdict);
            foreach (var (_, b) in Seeds) Assert.Equal(HostileRoutes.Verdict.Accepted, HostileRoutes.Run("safetensors", b, scratch).Verdict);
        }
        finally { File.Delete(scratch); }
    }

    [Fact]
    public void StructuralCorruptionsAndRandomMutationsStayInTheFamilyAndTheMemoryBound()
    {
        string scratch = Path.GetTempFileName();
        var r = new Rng(17);
        var cases = HostileCorpus.Structural(Seeds).ToList();
        for (int i = 0; i < 600; i++)
        {
            var (kind, seed) = Seeds[i % Seeds.Count];
            cases.Add(new($"mutation {i} of {kind}", HostileCorpus.Mutate(seed, r)));
        }
        var escaped = new List<string>();
        int refused = 0, accepted = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var c in cases)
                foreach (var route in HostileRoutes.Names)
                {
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    var (verdict, error) = HostileRoutes.Run(route, c.Bytes, scratch);
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    long bound = 4L * c.Bytes.Length + (64 << 20);
                    if (verdict == HostileRoutes.Verdict.Escaped) escaped.Add($"{c.Name} via {route}: {error!.GetType().Name}: {error.Message[..Math.Min(200, error.Message.Length)]}");
                    else if (allocated > bound) escaped.Add($"{c.Name} via {route}: allocated {allocated} bytes, bound {bound}");
                    else if (verdict == HostileRoutes.Verdict.Refused)
                    {
                        refused++;
                        Assert.True(error!.Message.Length <= SafeTensorsException.MaxMessageLength + 100, $"{c.Name} via {route}: a {error.Message.Length}-character message");
                        if (error is SafeTensorsException st)
                            Assert.True(st.Message.StartsWith(route == "checkpoint" ? scratch : "fuzz.safetensors", StringComparison.Ordinal), st.Message[..Math.Min(200, st.Message.Length)]);
                    }
                    else accepted++;
                }
        }
        finally { File.Delete(scratch); }
        Assert.True(escaped.Count == 0, $"{escaped.Count} of {cases.Count * HostileRoutes.Names.Length} runs escaped the family or the memory bound:\n" + string.Join("\n", escaped.Take(20)));
        Assert.True(refused > cases.Count, $"refused {refused}, accepted {accepted}: the mutations should mostly break the files");
        Assert.True(clock.Elapsed.TotalSeconds < 60, $"took {clock.Elapsed.TotalSeconds:F1} s");
    }

    // The issue's recipes, one by one: each message names the file and the metadata key or the tensor.
    [Theory]
    [InlineData("rnn.layers", "64", "rnn.layers")]
    [InlineData("rnn.hidden", "2048", "rnn.hidden")]
    [InlineData("rnn.vocab", "40000000", "rnn.vocab")]
    [InlineData("rnn.hidden", "2147483647", "rnn.hidden")]
    [InlineData("rnn.hidden", "1073741824", "rnn.hidden")]
    [InlineData("rnn.hidden", "536870912", "rnn.hidden")]
    [InlineData("rnn.vocab", "2147483647", "rnn.vocab")]
    [InlineData("rnn.embedding_dim", "2147483647", "rnn.embedding_dim")]
    [InlineData("rnn.output_size", "2147483647", "rnn.output_size")]
    [InlineData("rnn.layers", "0", "rnn.per_step")]
    [InlineData("rnn.layers", "65", "rnn.layers")]
    [InlineData("rnn.hidden", "-3", "rnn.hidden")]
    [InlineData("rnn.cell", "2", "rnn.cell")]
    [InlineData("rnn.init", "", "rnn.init")]
    public void HostileMetadataIsRefusedBeforeAllocatingNamingTheFileAndKey(string key, string value, string named)
    {
        var (header, data) = HostileCorpus.Split(Seeds[0].Bytes);
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, HostileCorpus.WithMetadata(header, data, key, value));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(path));
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "allocated before refusing");
            Assert.StartsWith(path + ":", e.Message);
            Assert.Contains($"'{named}'", e.Message);
            Assert.Contains("expected", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheLayersAndHiddenOfTheIssueNameTheArchitectureAndTheFileSize()
    {
        var (header, data) = HostileCorpus.Split(Seeds[0].Bytes);
        var (h2, _) = HostileCorpus.Split(HostileCorpus.WithMetadata(header, data, "rnn.layers", "64"));
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, HostileCorpus.WithMetadata(h2, data, "rnn.hidden", "200"));
            var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(path));
            Assert.Contains("rnn.layers=64", e.Message);
            Assert.Contains($"{data.Length} data bytes", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("fc.weight", "[30000000,0]")]
    [InlineData("fc.weight", "[1099511627776,0]")]
    [InlineData("embedding.weight", "[50,0]")]
    [InlineData("rnn.weight_ih_l0", "[4294967296,0]")]
    [InlineData("rnn.weight_hh_l0", "[15,0]")]
    public void PyTorchZeroByteTensorsDeclaringHugeShapesAreRefusedNamingTheTensor(string name, string shape)
    {
        var bytes = HostileCorpus.ZeroByteTensor(Seeds[1].Bytes, name, shape);
        using var f = SafeTensors.Deserialize(bytes, "zero.safetensors");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SafeTensorsException>(() => PyTorchImport.BuildModel<float>(f));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "allocated before refusing");
        Assert.StartsWith("zero.safetensors: tensor '", e.Message);
        Assert.Contains("expected", e.Message);
    }

    [Fact]
    public void AHugeEchoedStringIsCut()
    {
        var (header, data) = HostileCorpus.Split(Seeds[0].Bytes);
        var bytes = HostileCorpus.Join(header.Replace("\"F32\"", "\"" + new string('Q', 5_000_000) + "\""), data);
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Deserialize(bytes, "big.safetensors"));
        Assert.True(e.Message.Length <= SafeTensorsException.MaxMessageLength + 60, $"{e.Message.Length} characters");
        Assert.Contains("characters in all", e.Message);
    }

    [Fact]
    public async Task AFifoOrADeviceIsRefusedBeforeItIsOpened()
    {
        if (!OperatingSystem.IsLinux()) return;
        var e = Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>("/dev/null"));
        Assert.Contains("character device", e.Message);
        string dir = Path.Combine(Path.GetTempPath(), "rnn-fifo-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string fifo = Path.Combine(dir, "model.safetensors");
        try
        {
            using (var p = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!) p.WaitForExit();
            Assert.True(File.Exists(fifo));
            var task = Task.Run(() => Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(fifo)));
            var e2 = await task.WaitAsync(TimeSpan.FromSeconds(20)); // a TimeoutException means Load blocked on the FIFO
            Assert.Contains("FIFO", e2.Message);
            Assert.Contains("directory", Assert.Throws<SafeTensorsException>(() => Checkpoint.Load<float>(dir)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void SpecsTooLargeForAnArrayNameTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new ModelSpec { InputSize = 1, Hidden = 1 << 29 }.Validate());
        Assert.Equal("Hidden", e.ParamName);
        Assert.Contains("2147483591", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ModelSpec { Vocab = int.MaxValue, EmbeddingDim = 2, Hidden = 2 }.Validate());
        Assert.Equal("Vocab", e.ParamName);
    }

    [Fact]
    public void ParameterShapesMatchTheModelForEveryCellAndOption()
    {
        foreach (var cell in Enum.GetValues<CellKind>())
            foreach (var init in Enum.GetValues<InitScheme>())
                foreach (bool bi in new[] { false, true })
                    foreach (int layers in new[] { 0, 1, 3 })
                        foreach (int vocab in new[] { 0, 11 })
                        {
                            var spec = new ModelSpec { InputSize = 3, Vocab = vocab, EmbeddingDim = 4, Cell = cell, Hidden = 5, Layers = layers, Bidirectional = bi, Init = init, OutputSize = 2, PerStep = layers == 0 };
                            using var m = new SequenceModel<float>(spec, null);
                            var expected = m.NamedParameters.Select(p => (p.Name, string.Join(",", p.Parameter.Shape))).ToList();
                            var actual = spec.ParameterShapes().Select(p => (p.Name, string.Join(",", p.Shape))).ToList();
                            Assert.Equal(expected, actual);
                        }
    }
}
