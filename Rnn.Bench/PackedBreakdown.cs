using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Rnn.Kernels;
using Rnn.Layers;
using Rnn.Losses;

namespace Rnn.Bench;

/// <summary>
/// `Rnn.Bench shapes --packed`: the imdb-packed train step (the workload's 16 batches of real IMDB lengths at maxlen
/// 400) phase by phase in place, then the packed LSTM's parts timed alone on the same batches' alive-row counts
/// (each step's GEMM at its own M), and the per-step GEMM (M, 512, 128) against M.
/// </summary>
public static class PackedBreakdown
{
    private const int B = Workloads.ImdbLongSetup.B, S = Workloads.ImdbLongSetup.S, H = Workloads.ImdbLongSetup.H, E = Workloads.ImdbLongSetup.E;
    private const int G = 4 * H, Gs = G + 16; // Gs: the layer's gate-row stride

    /// <summary>Prints the breakdown; returns the exit code.</summary>
    public static int Run()
    {
        var lengths = Workloads.LongLengths();
        InSitu(lengths);
        Parts(lengths);
        StepGemms();
        return 0;
    }

    private static void InSitu(int[][] lengths)
    {
        // The workload's own layers, Adam, batches and buffers.
        using var w = new Workloads.ImdbLongSetup(lengths);
        var (emb, lstm, fc, parameters, adam, batches) = (w.Emb, w.Lstm, w.Fc, w.Parameters, w.Adam, w.Batches);
        var (e, de, h, dh, logit, dlogit) = (w.Embedded, w.DEmbedded, w.Last, w.DLast, w.Logit, w.DLogit);
        string[] names = ["zero grads", "embedding gather", "LSTM forward (packed)", "head + loss fwd/bwd", "clear dx (B·S·E)", "LSTM backward (packed)", "embedding scatter", "Adam step"];
        var t = new List<double>[names.Length];
        for (int i = 0; i < t.Length; i++) t[i] = [];
        var ts = new double[names.Length + 1];
        for (int it = 0; it < 12 * lengths.Length; it++)
        {
            int k = it % lengths.Length;
            ts[0] = Now();
            foreach (var p in parameters) p.ZeroGrad();
            ts[1] = Now();
            emb.Forward(e, batches[k].Tokens, B, S);
            ts[2] = Now();
            lstm.ForwardPacked(h, e, lengths[k], B, S);
            ts[3] = Now();
            fc.Forward(logit, h, B);
            BinaryCrossEntropy.Forward<float>(logit, batches[k].Labels);
            BinaryCrossEntropy.Backward<float>(dlogit, logit, batches[k].Labels, 1f);
            fc.Backward(dh, dlogit, B);
            ts[4] = Now();
            de.AsSpan().Clear();
            ts[5] = Now();
            lstm.Backward(de, dh, B, S);
            ts[6] = Now();
            emb.Backward(de, B, S);
            ts[7] = Now();
            adam.Step();
            ts[8] = Now();
            if (it < 2 * lengths.Length) continue;
            for (int i = 0; i < names.Length; i++) t[i].Add(ts[i + 1] - ts[i]);
        }
        // Mean over the batches (they differ in length), of each phase's median per batch position.
        double[] mean = new double[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            for (int k = 0; k < lengths.Length; k++)
            {
                var l = t[i].Where((_, j) => j % lengths.Length == k).OrderBy(x => x).ToList();
                mean[i] += l[l.Count / 2] / lengths.Length;
            }
        }
        double total = mean.Sum();
        long tokens = lengths.Sum(l => (long)l.Sum());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"imdb-packed train_step in place, {lengths.Length} batches of {B}, {tokens / (double)lengths.Length:F0} real tokens a batch of {B * S} ({100.0 * tokens / lengths.Length / (B * S):F1}%); thread CPU time, phase medians, mean over batches (sum {total * 1e3:F3} ms):"));
        for (int i = 0; i < names.Length; i++) Line(names[i], mean[i], total);
    }

    /// <summary>The packed LSTM's parts timed alone over the same batches (per batch, mean), rows sorted and compacted as the scan does.</summary>
    private static void Parts(int[][] lengths)
    {
        var rnd = new Random(3);
        float[] R(int n, float scale = 1f) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = ((float)rnd.NextDouble() - 0.5f) * scale; return a; }
        int maxRows = lengths.Max(l => l.Sum());
        var x = R(B * S * E); var xs = R(maxRows * E);
        var gates = R(maxRows * Gs); var dgs = R(maxRows * Gs);
        for (int i = 0; i < gates.Length; i++) gates[i] = 0.5f + 0.4f * gates[i];
        var hh = R((maxRows + B) * H); var cc = R((maxRows + B) * H); var tc = R(maxRows * H); var hd = new float[maxRows * H];
        var wih = R(G * E); var whh = R(G * H); var bias = R(G);
        var dwih = new float[G * E]; var dwhh = new float[G * H]; var dbias = new float[B * G];
        var dh = R(B * H, 0.1f); var next = new float[B * H]; var dc = R(B * H, 0.1f); var dx = new float[B * S * E];
        var pf = new float[Gemm.PackedBLength<float>(G, H)]; var pb = new float[Gemm.PackedBLength<float>(H, G)];
        Gemm.PackB<float>(pf, whh, true, G, H); Gemm.PackB<float>(pb, whh, false, H, G);
        // Each batch's sort: perm, len, alive, off, as SortByLength (lengths sorted descending, stable).
        var plan = lengths.Select(l =>
        {
            var perm = Enumerable.Range(0, B).OrderByDescending(b => l[b]).ToArray();
            var len = perm.Select(b => l[b]).ToArray();
            var alive = new int[S + 1]; var off = new int[S + 1];
            for (int s = 0; s < S; s++) { alive[s] = len.Count(L => L > s); off[s + 1] = off[s] + alive[s]; }
            return (perm, len, alive, off, rows: off[S]);
        }).ToArray();
        long tokens = plan.Sum(p => (long)p.rows);
        int nb = plan.Length;
        double Per(Action<int> f, double flops) => MinTime(() => { for (int k = 0; k < nb; k++) f(k); }, flops * nb) / nb;
        double avgRows = tokens / (double)nb;
        var parts = new List<(string Name, double Sec, double Flops)>
        {
            ("to packed order (copy x rows)", Per(k => { var p = plan[k]; RecurrentInit.ToPackedOrder<float>(xs, x, default, p.perm, p.len, p.off, S, E, false); }, avgRows * E), 0),
            ("input GEMM (rows, 4H, I)", Per(k => Gemm.Multiply<float>(gates, xs.AsSpan(0, plan[k].rows * E), wih, false, true, 1f, 0f, plan[k].rows, G, E, ldc: Gs), 2.0 * avgRows * G * E), 2.0 * avgRows * G * E),
            ("fwd step GEMMs (alive, 4H, H)", Per(k =>
            {
                var p = plan[k];
                for (int s = 1; s < S && p.alive[s] > 0; s++)
                    Gemm.MultiplyPacked<float>(gates.AsSpan(p.off[s] * Gs), hh.AsSpan((B + p.off[s - 1]) * H, p.alive[s] * H), pf, false, 1f, 1f, p.alive[s], G, H, ldc: Gs);
            }, 2.0 * avgRows * G * H), 2.0 * (avgRows - B) * G * H),
            ("fwd cell steps", Per(k =>
            {
                var p = plan[k];
                for (int s = 0; s < S && p.alive[s] > 0; s++)
                {
                    int n = p.alive[s], o = s == 0 ? 0 : B + p.off[s - 1];
                    LstmCell.Forward<float>(hh.AsSpan((B + p.off[s]) * H, n * H), cc.AsSpan((B + p.off[s]) * H, n * H), tc.AsSpan(p.off[s] * H, n * H),
                        gates.AsSpan(p.off[s] * Gs, n * Gs), hh.AsSpan(o * H, n * H), cc.AsSpan(o * H, n * H), bias, default, n, H, Gs);
                }
            }, 20.0 * avgRows * H), 0),
            ("bwd cell steps", Per(k =>
            {
                var p = plan[k];
                for (int s = S - 1; s >= 0; s--)
                {
                    int n = p.alive[s]; if (n == 0) continue;
                    int o = s == 0 ? 0 : B + p.off[s - 1];
                    LstmCell.Backward<float>(dgs.AsSpan(p.off[s] * Gs, n * Gs), next.AsSpan(0, n * H), dc.AsSpan(0, n * H), dbias.AsSpan(0, n * G), dh.AsSpan(0, n * H),
                        gates.AsSpan(p.off[s] * Gs, n * Gs), cc.AsSpan(o * H, n * H), tc.AsSpan(p.off[s] * H, n * H), default, n, H, Gs);
                }
            }, 20.0 * avgRows * H), 0),
            ("bwd step GEMMs dG·W_hh (alive, H, 4H)", Per(k =>
            {
                var p = plan[k];
                for (int s = S - 1; s >= 1; s--)
                {
                    int n = p.alive[s]; if (n == 0) continue;
                    Gemm.MultiplyPacked<float>(next.AsSpan(0, n * H), dgs.AsSpan(p.off[s] * Gs), pb, false, 1f, 1f, n, H, G, lda: Gs);
                }
            }, 2.0 * avgRows * G * H), 2.0 * (avgRows - B) * G * H),
            ("copy h alive rows to hd", Per(k => hh.AsSpan(0, plan[k].rows * H).CopyTo(hd), avgRows * H), 0),
            ("dW_hh, dW_ih = dGᵀ·[h | x] (rows)", Per(k => Gemm.MultiplyShared<float>(dwhh, hd.AsSpan(0, plan[k].rows * H), H, dwih, xs.AsSpan(0, plan[k].rows * E), E,
                dgs.AsSpan(0, plan[k].rows * Gs), true, 1f, 1f, G, plan[k].rows, Gs), 2.0 * avgRows * G * (H + E)), 2.0 * avgRows * G * (H + E)),
            ("bias sums (B, 4H)", Per(k => Vec.AddColumnSums<float>(bias, dbias, B, G), B * G), 0),
            ("dx GEMM dG·W_ih (rows, I, 4H)", Per(k => Gemm.Multiply<float>(xs, dgs.AsSpan(0, plan[k].rows * Gs), wih, false, false, 1f, 0f, plan[k].rows, E, G, Gs), 2.0 * avgRows * G * E), 2.0 * avgRows * G * E),
            ("dx from packed order (add)", Per(k => { var p = plan[k]; RecurrentInit.AddFromPackedOrder<float>(dx, xs, default, p.perm, p.len, p.off, 0, S, E, false); }, avgRows * E), 0),
        };
        double sum = parts.Sum(p => p.Sec);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"packed LSTM parts timed alone, per batch (thread CPU time, mean over {nb}; sum {sum * 1e3:F3} ms):"));
        foreach (var (name, sec, flops) in parts)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-40} {sec * 1e3,9:F3} ms {100 * sec / sum,6:F1}%{(flops > 0 ? $" {flops / sec / 1e9,7:F1} GFLOP/s" : "")}"));
        int rows0 = plan[0].rows;
        foreach (var (label, policy) in new (string, GemmPolicy)[] { ("default", GemmPolicy.Default), ("A packed", GemmPolicy.Default with { DirectATransposed = false }),
            ("B in place", GemmPolicy.Default with { DirectBMaxRows512 = 1024 }), ("A packed, B in place", GemmPolicy.Default with { DirectATransposed = false, DirectBMaxRows512 = 1024 }) })
        {
            double sec = MinTime(() => Gemm.MultiplySharedWith<float>(policy, dwhh, hd.AsSpan(0, rows0 * H), H, dwih, xs.AsSpan(0, rows0 * E), E,
                dgs.AsSpan(0, rows0 * Gs), true, 1f, 1f, G, rows0, Gs), 2.0 * rows0 * G * (H + E));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  dW batch 0 ({rows0} rows), {label,-22} {sec * 1e3,8:F3} ms {2.0 * rows0 * G * (H + E) / sec / 1e9,6:F1} GFLOP/s"));
        }
        double rec = parts.Where(p => p.Name.Contains("step GEMMs", StringComparison.Ordinal)).Sum(p => p.Sec);
        double recFlops = parts.Where(p => p.Name.Contains("step GEMMs", StringComparison.Ordinal)).Sum(p => p.Flops);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  recurrent step GEMMs fwd + bwd: {rec * 1e3:F3} ms, {recFlops / rec / 1e9:F1} GFLOP/s"));
    }

    /// <summary>The per-step products at each M: forward (M, 4H, H) over W_hhᵀ packed, backward (M, H, 4H) over W_hh packed.</summary>
    private static void StepGemms()
    {
        var rnd = new Random(4);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)rnd.NextDouble() - 0.5f; return a; }
        var whh = R(G * H); var hIn = R(B * H); var g = R(B * Gs); var dIn = R(B * Gs); var dOut = R(B * H);
        var pf = new float[Gemm.PackedBLength<float>(G, H)]; var pb = new float[Gemm.PackedBLength<float>(H, G)];
        Gemm.PackB<float>(pf, whh, true, G, H); Gemm.PackB<float>(pb, whh, false, H, G);
        // One cell step of 32 rows with everything in L1: the cells' own arithmetic, without the tape's cache misses.
        var gates = R(B * Gs); var cp = R(B * H); var tc = R(B * H); var dh = R(B * H); var dc = R(B * H); var nx = new float[B * H]; var db = new float[B * G];
        for (int i = 0; i < gates.Length; i++) gates[i] = 0.5f + 0.4f * gates[i];
        var dgs = new float[B * Gs]; var hh = new float[B * H]; var cc = new float[B * H]; var bias = R(G);
        double cb = MinTime(() => LstmCell.Backward<float>(dgs, nx, dc, db, dh, gates, cp, tc, default, B, H, Gs), 20.0 * B * H);
        double cf = MinTime(() => { gates.AsSpan().CopyTo(dgs); LstmCell.Forward<float>(hh, cc, tc, dgs, cp, cp, bias, default, B, H, Gs); }, 20.0 * B * H);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cell step of {B} rows in L1: backward {cb * 1e6:F2} us, forward (with a copy of the gates) {cf * 1e6:F2} us"));
        Console.WriteLine("per-step GEMMs alone by M (fwd: (M, 512, 128) over W_hhT packed, ldc 528; bwd: (M, 128, 512), lda 528): us, GFLOP/s");
        foreach (int m in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 20, 24, 25, 28, 32 })
        {
            double fl = 2.0 * m * G * H;
            double f = MinTime(() => Gemm.MultiplyPacked<float>(g, hIn.AsSpan(0, m * H), pf, false, 1f, 1f, m, G, H, ldc: Gs), fl);
            double b = MinTime(() => Gemm.MultiplyPacked<float>(dOut.AsSpan(0, m * H), dIn, pb, false, 1f, 1f, m, H, G, lda: Gs), fl);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  M={m,2}: fwd {f * 1e6,7:F2} us {fl / f / 1e9,6:F1}   bwd {b * 1e6,7:F2} us {fl / b / 1e9,6:F1}"));
        }
    }

    // The machine is shared: every figure is this thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID)), or
    // wall time where that clock is missing, so that time the thread spends descheduled does not count.
    [StructLayout(LayoutKind.Sequential)] private struct TimeSpec { public long Sec, Nsec; }
    [DllImport("libc", EntryPoint = "clock_gettime")] private static extern int ClockGetTime(int clock, out TimeSpec ts);
    private static readonly bool s_cpu = OperatingSystem.IsLinux() && Probe();
    private static bool Probe() { try { return ClockGetTime(3, out _) == 0; } catch (Exception) { return false; } }
    private static double Now() => s_cpu && ClockGetTime(3, out var ts) == 0 ? ts.Sec + ts.Nsec * 1e-9 : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>Shapes.MinTime on <see cref="Now"/>: the least time of 15 runs of f.</summary>
    private static double MinTime(Action f, double flopsHint)
    {
        int inner = (int)Math.Max(1, Math.Min(10000, 2e7 / Math.Max(flopsHint, 1)));
        for (int i = 0; i < inner; i++) f();
        double best = double.MaxValue;
        for (int rep = 0; rep < 15; rep++)
        {
            double t0 = Now();
            for (int i = 0; i < inner; i++) f();
            best = Math.Min(best, (Now() - t0) / inner);
        }
        return best;
    }

    private static void Line(string what, double s, double total) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-34} {s * 1e3,9:F3} ms {100 * s / total,6:F1}%"));
}
