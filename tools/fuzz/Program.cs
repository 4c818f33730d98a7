using System.Diagnostics;
using System.Globalization;
using Rnn.Fuzz;
using Rnn.Init;

// The long fuzz run. The parent starts a worker process and restarts it after a crash; the worker runs seeded
// mutations of the seeds (and of the structural cases) through every route until the deadline, with a watchdog
// for hangs, and measures each run's allocation against 4x the input's size + 64 MB.
var ci = CultureInfo.InvariantCulture;
string Arg(string name, string def) { int i = Array.IndexOf(args, "--" + name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : def; }
double minutes = double.Parse(Arg("minutes", "10"), ci);
ulong seed = ulong.Parse(Arg("seed", "1"), ci);

if (!args.Contains("--worker"))
{
    var until = DateTime.UtcNow.AddMinutes(minutes);
    int crashes = 0, hangs = 0, workers = 0;
    var totals = new Dictionary<string, long>();
    string self = Environment.ProcessPath!, dll = typeof(HostileCorpus).Assembly.Location;
    while (DateTime.UtcNow < until)
    {
        workers++;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(dll);
        foreach (var a in new[] { "--worker", "--seed", (seed + (ulong)workers).ToString(ci), "--until", until.Ticks.ToString(ci) }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Console.Write(output);
        if (p.ExitCode == 4) hangs++;
        else if (p.ExitCode != 0) { crashes++; Console.WriteLine($"worker crashed: exit code {p.ExitCode}"); }
        foreach (var line in output.Split('\n'))
            if (line.StartsWith("count ", StringComparison.Ordinal))
            {
                var f = line.Split(' ');
                totals[f[1]] = totals.GetValueOrDefault(f[1]) + long.Parse(f[2], ci);
            }
            else if (line.StartsWith("max ", StringComparison.Ordinal))
            {
                var f = line.Split(' ');
                totals[f[1]] = Math.Max(totals.GetValueOrDefault(f[1]), long.Parse(f[2], ci));
            }
    }
    Console.WriteLine($"TOTAL workers {workers}, crashes {crashes}, hangs {hangs}");
    foreach (var (k, v) in totals.OrderBy(kv => kv.Key)) Console.WriteLine($"TOTAL {k} {v}");
    return crashes + hangs > 0 || totals.GetValueOrDefault("escaped") > 0 || totals.GetValueOrDefault("over_memory_bound") > 0 ? 1 : 0;
}

var deadline = new DateTime(long.Parse(Arg("until", DateTime.UtcNow.AddMinutes(minutes).Ticks.ToString(ci)), ci), DateTimeKind.Utc);
var seeds = HostileCorpus.Seeds();
var structural = HostileCorpus.Structural(seeds).ToList();
var pool = seeds.Select(s => s.Bytes).Concat(structural.Where(c => c.Bytes.Length < 1 << 20).Select(c => c.Bytes)).ToList();
var counts = new Dictionary<string, long>();
void Count(string k, long n = 1) => counts[k] = counts.GetValueOrDefault(k) + n;
long maxAlloc = 0, maxAllocPerMille = 0, maxCaseMs = 0;
string scratch = Path.Combine(Path.GetTempPath(), $"rnn-fuzz-{Environment.ProcessId}.safetensors");
string current = "";
long caseStart = Stopwatch.GetTimestamp();
var watchdog = new Thread(() =>
{
    while (true)
    {
        Thread.Sleep(1000);
        if (Stopwatch.GetElapsedTime(Volatile.Read(ref caseStart)).TotalSeconds > 30)
        {
            Console.WriteLine($"HANG over 30 s: {current}");
            Console.Out.Flush();
            Environment.Exit(4);
        }
    }
}) { IsBackground = true };
watchdog.Start();

void RunCase(string name, byte[] bytes)
{
    foreach (var route in HostileRoutes.Names)
    {
        current = $"{name} via {route} ({bytes.Length} bytes)";
        Volatile.Write(ref caseStart, Stopwatch.GetTimestamp());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (verdict, error) = HostileRoutes.Run(route, bytes, scratch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        maxCaseMs = Math.Max(maxCaseMs, (long)Stopwatch.GetElapsedTime(caseStart).TotalMilliseconds);
        long bound = 4L * bytes.Length + (64 << 20);
        maxAlloc = Math.Max(maxAlloc, allocated);
        maxAllocPerMille = Math.Max(maxAllocPerMille, allocated * 1000 / bound);
        Count("runs"); Count(route + "_" + verdict.ToString().ToLowerInvariant());
        if (verdict == HostileRoutes.Verdict.Escaped)
        {
            Count("escaped");
            Console.WriteLine($"ESCAPED {current}: {error!.GetType().Name}: {error.Message[..Math.Min(300, error.Message.Length)]}");
        }
        if (allocated > bound) { Count("over_memory_bound"); Console.WriteLine($"OVER BOUND {current}: allocated {allocated}, bound {bound}"); }
    }
}

try
{
    foreach (var c in structural) RunCase(c.Name, c.Bytes);
    var r = new Rng(seed);
    long i = 0;
    while (DateTime.UtcNow < deadline)
    {
        // Mostly the three valid seeds (deep paths: a mutation that keeps them loadable), else a structural case.
        var parent = r.NextDouble() < 0.6 ? seeds[(int)(r.NextUInt64() % (ulong)seeds.Count)].Bytes : pool[(int)(r.NextUInt64() % (ulong)pool.Count)];
        RunCase($"seed {seed} mutation {i++}", HostileCorpus.Mutate(parent, r));
        Count("inputs");
    }
}
finally { File.Delete(scratch); }
foreach (var (k, v) in counts.OrderBy(kv => kv.Key)) Console.WriteLine($"count {k} {v}");
Console.WriteLine($"max allocation_bytes {maxAlloc}");
Console.WriteLine($"max allocation_per_mille_of_bound {maxAllocPerMille}");
Console.WriteLine($"max case_ms {maxCaseMs}");
Console.WriteLine($"max peak_working_set_bytes {Process.GetCurrentProcess().PeakWorkingSet64}");
return 0;
