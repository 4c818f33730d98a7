// Re-measures every figure README.md quotes (times, accuracies, losses, sizes, latencies) and writes them, with
// the date, the machine and the command behind each, to ONE results file; README.md quotes that file.
//   dotnet run tools/figures.cs -- --full [--imdb-data DIR] [--out docs/figures.json]   every figure (about an hour on 2 cores)
//   dotnet run tools/figures.cs -- --full --only adding,bench [...]                      some runs, merged into --out
//   dotnet run tools/figures.cs -- --quick [--aot-dir DIR]                              CI: binary size, one adding epoch,
//                                                                                        and the format of docs/figures.json
//   dotnet run tools/figures.cs -- --check FILE                                         the format of a results file
// Samples run from a copy of the Release build (so a rebuild during a run cannot change them), one thread each,
// as the README's commands do; their numbers come from each sample's --report JSON, the kernel timings from
// `Rnn.Bench workloads`. The full mode also rewrites the README's charts (docs/adding.svg, imdb.svg, charrnn.svg).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

var ci = CultureInfo.InvariantCulture;
string root = FindRoot();
string mode = args.Contains("--full") ? "full" : args.Contains("--quick") ? "quick" : args.Contains("--check") ? "check" : "";
string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
if (mode == "")
{
    Console.Error.WriteLine("usage: dotnet run tools/figures.cs -- --full [--imdb-data DIR] [--only a,b] [--out FILE] | --quick [--aot-dir DIR] | --check FILE");
    return 2;
}
if (mode == "check")
{
    string file = Arg("--check") ?? Path.Combine(root, "docs", "figures.json");
    var errors = Check(file, requireFull: true);
    foreach (var e in errors) Console.Error.WriteLine($"FAIL: {e}");
    if (errors.Count == 0) Console.WriteLine($"{file}: format OK");
    return errors.Count == 0 ? 0 : 1;
}

var clock = Stopwatch.StartNew();
string work = Path.Combine(Path.GetTempPath(), $"rnn-figures-{Environment.ProcessId}");
Directory.CreateDirectory(work);
string outFile = Arg("--out") ?? (mode == "full" ? Path.Combine(root, "docs", "figures.json") : Path.Combine(root, "artifacts", "figures-quick.json"));
var only = Arg("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
bool Want(string name) => only == null || only.Contains(name);
// The real reviews: an aclImdb folder or train.tsv/test.tsv (README, "IMDB sentiment"); default: the team's copy.
string imdbData = Path.GetFullPath(Arg("--imdb-data") ?? Path.Combine(root, "..", "..", "shared", "data", "imdb-raw"));
if (mode == "full" && Want("imdb-real") && !Directory.Exists(imdbData))
{
    Console.Error.WriteLine($"figures: no IMDB reviews at {imdbData}; pass --imdb-data DIR (an aclImdb folder or train.tsv/test.tsv).");
    return 2;
}

string? aotExe = null;
JsonObject machine = new();
string commit = Git("rev-parse --short HEAD") + (Git("status --porcelain --untracked-files=no").Length > 0 ? "+changes" : "");
// The results so far (a partial --only run merges into them).
var runs = new JsonObject();
if (only != null && File.Exists(outFile) && JsonNode.Parse(File.ReadAllText(outFile)) is JsonObject old && old["runs"] is JsonObject oldRuns)
    foreach (var (k, v) in oldRuns.ToList()) { oldRuns.Remove(k); runs[k] = v; }

Step("== build (Release)");
Run("dotnet", $"build {Q(Path.Combine(root, "Rnn.sln"))} -c Release -nologo -v q", echo: false);
string samples = Path.Combine(work, "samples"), bench = Path.Combine(work, "bench");
CopyDir(Path.Combine(root, "Rnn.Samples", "bin", "Release", "net10.0"), samples);
CopyDir(Path.Combine(root, "Rnn.Bench", "bin", "Release", "net10.0"), bench);
string S(string a) => Run("dotnet", $"{Q(Path.Combine(samples, "Rnn.Samples.dll"))} {a}");

// The machine: CPU model, cores, OS, .NET, the JIT's kernel path, the load before the runs.
var info = S("info");
string Field(string text, string key) => text.Split('\n').FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?[key.Length..].Trim() ?? "";
machine = new JsonObject
{
    ["cpu"] = File.Exists("/proc/cpuinfo") ? Field(File.ReadAllText("/proc/cpuinfo"), "model name").TrimStart(':', ' ') : Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") ?? "unknown",
    ["cores"] = Environment.ProcessorCount,
    ["os"] = Field(info, "os"),
    ["dotnet"] = Field(info, ".NET"),
    ["jit_kernel_path"] = Field(info, "kernel path"),
    ["instruction_sets"] = Field(info, "instruction sets"),
    ["load_average_at_start"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "",
};

// NativeAOT: the README's publish command (the csproj's x86-64-v3 default), its size and kernel path.
if (Want("aot"))
{
    string aot = Arg("--aot-dir") ?? Path.Combine(work, "aot");
    string exe = Path.Combine(aot, OperatingSystem.IsWindows() ? "Rnn.Samples.exe" : "Rnn.Samples");
    string cmd = $"dotnet publish Rnn.Samples -c Release -r {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} -p:PublishAot=true -o out/aot";
    if (Arg("--aot-dir") == null)
    {
        Step("== NativeAOT publish");
        Run("dotnet", $"publish {Q(Path.Combine(root, "Rnn.Samples"))} -c Release -r {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} -p:PublishAot=true -nologo -v q -o {Q(aot)}", echo: false);
    }
    var aotInfo = Run(exe, "info", echo: false);
    runs["aot"] = new JsonObject
    {
        ["command"] = cmd, ["binary_bytes"] = new FileInfo(exe).Length,
        ["binary_mb"] = Math.Round(new FileInfo(exe).Length / 1e6, 2), ["kernel_path"] = Field(aotInfo, "kernel path"),
    };
    aotExe = exe; // classify's start-up latency (below) needs the imdb model of the full run
}

if (mode == "quick")
{
    Step("== adding, one short epoch");
    var r = Report("adding --epochs 1 --batches 20 --quiet", out double sec);
    runs["adding_smoke"] = new JsonObject
    {
        ["command"] = "adding --epochs 1 --batches 20", ["seconds"] = Round(sec, 1),
        ["validation_mse_epoch1"] = Round(Epoch(r, 1, "validation_cost"), 4),
    };
}
else
{
    if (Want("bench"))
    {
        foreach (int threads in new[] { 1, 2 })
        {
            Step($"== Rnn.Bench workloads, {threads} thread(s)");
            string lines = Run("dotnet", $"{Q(Path.Combine(bench, "Rnn.Bench.dll"))} workloads --threads {threads}", echo: false);
            var table = new JsonObject { ["command"] = $"dotnet run -c Release --project Rnn.Bench -- workloads --threads {threads}" };
            foreach (var line in lines.Split('\n').Where(l => l.StartsWith('{')))
            {
                using var j = JsonDocument.Parse(line);
                var e = j.RootElement;
                table[$"{e.GetProperty("workload").GetString()}.{e.GetProperty("phase").GetString()}_ms"] = Round(e.GetProperty("median_ms").GetDouble(), 2);
            }
            runs[$"bench_{threads}t"] = table;
        }
    }
    if (Want("adding-adam"))
    {
        Step("== adding, Adam lr 0.001 x0.9 per epoch, 50 epochs");
        var r = Report("adding --optimizer adam --lr 0.001 --lr-decay 0.9 --epochs 50 --quiet", out double sec);
        var costs = Range(r, 1, 50, "validation_cost");
        int firstBelow = Array.FindIndex(costs, c => c < 0.004) + 1;
        runs["adding_adam"] = new JsonObject
        {
            ["command"] = "adding --optimizer adam --lr 0.001 --lr-decay 0.9 --epochs 50", ["seconds"] = Round(sec, 0),
            ["first_epoch_below_0.004"] = firstBelow, ["validation_mse_at_that_epoch"] = firstBelow > 0 ? Round(costs[firstBelow - 1], 4) : null,
            ["max_validation_mse_epochs_40_50"] = Round(Range(r, 40, 50, "validation_cost").Max(), 4),
            ["validation_mse_epoch50"] = Round(costs[^1], 4), ["within_0.04_epoch50"] = Round(Epoch(r, 50, "within_0.04"), 2),
        };
    }
    if (Want("charrnn"))
    {
        Step("== charrnn faithful, 100,001 iterations");
        string svg = Path.Combine(root, "docs", "charrnn.svg");
        var r = Report($"charrnn --iterations 100001 --print-every 5000 --sample-length 0 --quiet --plot {Q(svg)}", out double sec);
        var cfg = r.RootElement.GetProperty("config");
        runs["charrnn"] = new JsonObject
        {
            ["command"] = "charrnn --iterations 100001 --print-every 5000 --plot docs/charrnn.svg", ["seconds"] = Round(sec, 0),
            ["characters"] = cfg.GetProperty("characters").GetInt32(), ["vocab"] = cfg.GetProperty("vocab").GetInt32(),
            ["initial_smooth_loss"] = Round(Summary(r, "initial_smooth_loss"), 1),
            ["smooth_loss_iter5000"] = Round(Point(r, "iteration", 5000, "smooth_loss"), 1),
            ["smooth_loss_iter100000"] = Round(Point(r, "iteration", 100000, "smooth_loss"), 1),
            ["final_smooth_loss"] = Round(Summary(r, "final_smooth_loss"), 2),
        };
    }
    if (Want("imdb-generated"))
    {
        Step("== imdb on generated data (the default run)");
        var r = Report("imdb --quiet", out double sec);
        runs["imdb_generated"] = new JsonObject
        {
            ["command"] = "imdb", ["seconds"] = Round(sec, 0),
            ["test_acc_by_epoch"] = new JsonArray(Range(r, 1, 4, "test_acc").Select(v => (JsonNode?)Round(v, 4)).ToArray()),
            ["bow_baseline_test_acc"] = Round(Summary(r, "bow_baseline_test_accuracy"), 4),
            ["train_seconds_epoch1"] = Round(Epoch(r, 1, "seconds"), 1),
        };
    }
    string model = Path.Combine(work, "imdb.safetensors");
    if (Want("imdb-real"))
    {
        Step($"== imdb on the real reviews ({imdbData})");
        string svg = Path.Combine(root, "docs", "imdb.svg");
        var r = Report($"imdb --data {Q(imdbData)} --save {Q(model)} --quiet --plot {Q(svg)}", out double sec);
        runs["imdb_real"] = new JsonObject
        {
            ["command"] = "imdb --data DIR --save imdb.safetensors --plot docs/imdb.svg", ["seconds"] = Round(sec, 0),
            ["test_acc_by_epoch"] = new JsonArray(Range(r, 1, 4, "test_acc").Select(v => (JsonNode?)Round(v, 4)).ToArray()),
            ["train_acc_by_epoch"] = new JsonArray(Range(r, 1, 4, "train_acc").Select(v => (JsonNode?)Round(v, 4)).ToArray()),
            ["best_test_acc"] = Round(Summary(r, "best_test_acc"), 4), ["best_epoch"] = (int)Summary(r, "best_epoch"),
            ["train_seconds_by_epoch"] = new JsonArray(Range(r, 1, 4, "seconds").Select(v => (JsonNode?)Round(v, 1)).ToArray()),
        };
    }
    if (Want("classify") && File.Exists(model) && aotExe != null)
    {
        Step("== classify (NativeAOT) on the real-review model: time from process start to the first prediction");
        const string review = "This movie was wonderful, the acting was great and I loved it.";
        var ms = new List<double>(); string prob = "";
        for (int k = 0; k < 11; k++)
        {
            var (o, e) = RunIo(aotExe, $"classify --model {Q(model)} --timing", review + "\n");
            prob = o.Split('\t')[0].Trim();
            var m = System.Text.RegularExpressions.Regex.Match(e, @"first prediction: ([0-9.]+) ms");
            if (k > 0 && m.Success) ms.Add(double.Parse(m.Groups[1].Value, ci)); // the first run warms the file cache
        }
        ms.Sort();
        runs["classify"] = new JsonObject
        {
            ["command"] = $"echo \"{review}\" | out/aot/Rnn.Samples classify --model imdb.safetensors --timing (10 warm runs)",
            ["p_positive"] = prob, ["first_prediction_ms_min"] = Round(ms[0], 1),
            ["first_prediction_ms_median"] = Round(ms[ms.Count / 2], 1), ["first_prediction_ms_max"] = Round(ms[^1], 1),
        };
    }
    if (Want("adding"))
    {
        Step("== adding, faithful, 200 epochs");
        string svg = Path.Combine(root, "docs", "adding.svg");
        var r = Report($"adding --epochs 200 --quiet --plot {Q(svg)}", out double sec);
        runs["adding"] = new JsonObject
        {
            ["command"] = "adding --epochs 200 --report adding.json --plot docs/adding.svg", ["seconds"] = Round(sec, 0),
            ["validation_mse_epoch10"] = Round(Epoch(r, 10, "validation_cost"), 4), ["validation_mse_epoch50"] = Round(Epoch(r, 50, "validation_cost"), 4),
            ["validation_mse_epoch100"] = Round(Epoch(r, 100, "validation_cost"), 4), ["validation_mse_epoch200"] = Round(Epoch(r, 200, "validation_cost"), 4),
            ["best_validation_mse_epochs_190_200"] = Round(Range(r, 190, 200, "validation_cost").Min(), 4),
            ["within_0.04_epoch200"] = Round(Epoch(r, 200, "within_0.04"), 2),
        };
    }
    if (Want("addition"))
    {
        Step("== addition, until 99% held-out exact match");
        var r = Report("addition --stop-at 0.99 --quiet", out double sec);
        var exact = r.RootElement.GetProperty("epochs").EnumerateArray().Select(e => e.TryGetProperty("val_exact_acc", out var v) ? v.GetDouble() : double.NaN).ToArray();
        int At(double x) => Array.FindIndex(exact, v => v >= x) + 1;
        int reached = (int)Summary(r, "reached_at_epoch");
        runs["addition"] = new JsonObject
        {
            ["command"] = "addition --stop-at 0.99", ["seconds"] = Round(sec, 0),
            ["first_epoch_exact_0.5"] = At(0.5), ["first_epoch_exact_0.9"] = At(0.9), ["first_epoch_exact_0.97"] = At(0.97),
            ["reached_0.99_at_epoch"] = reached,
            ["exact_at_end"] = Round(exact[^1], 4),
            ["char_acc_at_end"] = Round(Epoch(r, exact.Length, "val_char_acc"), 4),
            ["train_seconds_epoch1"] = Round(Epoch(r, 1, "seconds"), 1),
        };
    }
}

Save();
Console.WriteLine($"wrote {outFile} in {clock.Elapsed.TotalSeconds:F0} s");
try { Directory.Delete(work, recursive: true); } catch (IOException) { }

var problems = Check(outFile, requireFull: mode == "full" && only == null);
if (mode == "quick")
{
    // CI's cheap checks: the binary's size limit, and the committed full results file's presence and format.
    long size = runs["aot"]?["binary_bytes"]?.GetValue<long>() ?? 0;
    if (size is <= 0 or > 8 * 1024 * 1024) problems.Add($"the NativeAOT binary is {size} bytes; expected 1..8 MiB");
    problems.AddRange(Check(Path.Combine(root, "docs", "figures.json"), requireFull: true));
}
foreach (var p in problems) Console.Error.WriteLine($"FAIL: {p}");
return problems.Count == 0 ? 0 : 1;

// Written after every run, so a long run that is stopped keeps what it measured (--only can finish it).
void Save()
{
    machine["load_average_at_end"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "";
    var doc = new JsonObject
    {
        ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", ci),
        ["mode"] = mode,
        ["commit"] = commit, // at the start
        ["machine"] = machine.DeepClone(),
        ["seconds"] = Round(clock.Elapsed.TotalSeconds, 0),
        ["note"] = "seed 1, 1 thread; a machine shared with other jobs makes wall times pessimistic. Generated by tools/figures.cs.",
        ["runs"] = runs.DeepClone(),
    };
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
    File.WriteAllText(outFile, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

// ---- helpers ----

JsonDocument Report(string sampleArgs, out double seconds)
{
    string file = Path.Combine(work, $"report-{Guid.NewGuid():N}.json");
    var sw = Stopwatch.StartNew();
    S($"{sampleArgs} --report {Q(file)}");
    seconds = sw.Elapsed.TotalSeconds;
    return JsonDocument.Parse(File.ReadAllText(file));
}

static double Epoch(JsonDocument r, int epoch, string key) => Point(r, "epoch", epoch, key);

static double Point(JsonDocument r, string xKey, int x, string key)
{
    foreach (var e in r.RootElement.GetProperty("epochs").EnumerateArray())
        if (e.TryGetProperty(xKey, out var xv) && (int)xv.GetDouble() == x && e.TryGetProperty(key, out var v)) return v.GetDouble();
    throw new InvalidOperationException($"the report has no {key} at {xKey} {x}");
}

static double[] Range(JsonDocument r, int from, int to, string key)
    => Enumerable.Range(from, to - from + 1).Select(e => Epoch(r, e, key)).ToArray();

static double Summary(JsonDocument r, string key) => r.RootElement.GetProperty("summary").GetProperty(key).GetDouble();

static double Round(double v, int digits) => Math.Round(v, digits);

static string Q(string s) => "\"" + s + "\"";

void Step(string title) { if (runs.Count > 0) Save(); Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {title}"); }

static string Run(string exe, string arguments, bool echo = false)
{
    var (o, e) = RunIo(exe, arguments, null);
    if (echo) Console.Write(o);
    return o;
}

static (string Out, string Err) RunIo(string exe, string arguments, string? stdin)
{
    var psi = new ProcessStartInfo(exe, arguments)
    {
        RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin != null, UseShellExecute = false,
    };
    using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
    var err = p.StandardError.ReadToEndAsync();
    if (stdin != null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
    string o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"`{exe} {arguments}` exited with {p.ExitCode}:\n{o}\n{err.Result}");
    return (o, err.Result);
}

string Git(string a)
{
    try { return RunIo("git", $"-C {Q(root)} {a}", null).Out.Trim(); } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return "unknown"; }
}

static void CopyDir(string from, string to)
{
    if (!Directory.Exists(from)) throw new DirectoryNotFoundException($"no build output at {from}");
    foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
    {
        string dest = Path.Combine(to, Path.GetRelativePath(from, f));
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        File.Copy(f, dest, overwrite: true);
    }
}

static string FindRoot()
{
    for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d != null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Rnn.sln"))) return d.FullName;
    throw new DirectoryNotFoundException("run from inside the repository (no Rnn.sln above the current folder)");
}

// The results file's format: date, machine, runs with a command each; a full one has every run the README quotes.
static List<string> Check(string file, bool requireFull)
{
    var errors = new List<string>();
    if (!File.Exists(file)) { errors.Add($"{file} is missing"); return errors; }
    JsonNode? root;
    try { root = JsonNode.Parse(File.ReadAllText(file)); } catch (JsonException e) { errors.Add($"{file}: not JSON ({e.Message})"); return errors; }
    if (root is not JsonObject o) { errors.Add($"{file}: not a JSON object"); return errors; }
    if (!DateTime.TryParse((string?)o["date"], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _)) errors.Add($"{file}: no ISO date");
    if (o["machine"]?["cpu"] is null || o["machine"]?["cores"] is null) errors.Add($"{file}: no machine.cpu / machine.cores");
    if (o["runs"] is not JsonObject runs) { errors.Add($"{file}: no runs"); return errors; }
    foreach (var (name, run) in runs)
        if (run?["command"] is null) errors.Add($"{file}: run {name} has no command");
    if (requireFull)
    {
        if ((string?)o["mode"] != "full") errors.Add($"{file}: mode is {(string?)o["mode"]}, expected full");
        foreach (var name in new[] { "aot", "adding", "adding_adam", "imdb_generated", "imdb_real", "classify", "charrnn", "addition", "bench_1t", "bench_2t" })
            if (runs[name] is null) errors.Add($"{file}: run {name} is missing");
        if (runs["aot"]?["binary_bytes"] is null) errors.Add($"{file}: aot.binary_bytes is missing");
    }
    return errors;
}
