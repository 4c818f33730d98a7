// A separate app against the packed Rnn.Core: build, train a few steps, check the loss falls; then report the
// kernel path and, with --time, the time per training step of the imdb workload (Embedding(20000,128) ->
// LSTM(128) -> Dense(1), batch 32, 100 steps, Adam). CI runs it with `dotnet run` and as a NativeAOT binary.
using System.Diagnostics;
using Rnn.Init; using Rnn.Kernels; using Rnn.Layers; using Rnn.Losses; using Rnn.Models; using Rnn.Optimizers;
var rng = new Rng(1);
var rnn = new SimpleRnn<float>(2, 8, rng, new SimpleRnnOptions { ReturnSequences = false });
var fc = new Dense<float>(8, 1, rng);
var opt = new Adam<float>(rnn.Parameters.Concat(fc.Parameters), 1e-2);
float[] x = new float[4 * 5 * 2], y = [0.5f, -0.5f, 0.25f, -0.25f], h = new float[4 * 8], p = new float[4], dp = new float[4], dh = new float[4 * 8];
for (int i = 0; i < x.Length; i++) x[i] = MathF.Sin(i);
float first = 0, last = 0;
for (int step = 0; step < 50; step++)
{
    opt.ZeroGrad(); Array.Clear(dp); Array.Clear(dh);
    rnn.Forward(h, x, default, default, 4, 5); fc.Forward(p, h, 4);
    last = Mse.Forward<float>(p, y); if (step == 0) first = last;
    Mse.Backward<float>(dp, p, y, 1f); fc.Backward(dh, dp, 4); rnn.Backward(default, default, dh, 4, 5); opt.Step();
}
Console.WriteLine($"package consumer: loss {first} -> {last}");
Console.WriteLine($"kernel path: {Dispatch.KernelPath} ({(Dispatch.IsAot ? "NativeAOT" : "JIT")})");
if (last >= 0.5f * first) return 1;
if (!args.Contains("--time")) return 0;

// The imdb workload's training step: Engine.Threads = 1, 5 warm-up steps, then the median of 30.
const int B = 32, T = 100, V = 20000;
using var model = new SequenceModel<float>(new ModelSpec
{
    Vocab = V, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1, OutputActivation = Activation.Linear,
}, new Rng(2));
var adam = new Adam<float>(model.Parameters, 1e-3);
var tokens = new int[B * T]; var labels = new float[B];
var data = new Rng(3);
Rnn.Engine.Threads = 1;
for (int i = 0; i < tokens.Length; i++) tokens[i] = data.NextInt(1, V);
for (int i = 0; i < B; i++) labels[i] = i % 2;
var times = new List<double>();
for (int step = 0; step < 35; step++)
{
    long t0 = Stopwatch.GetTimestamp();
    adam.ZeroGrad();
    var logits = model.Forward(tokens, default, B, T);
    var dOut = model.OutputGrad[..B]; dOut.Clear();
    BinaryCrossEntropy.Backward<float>(dOut, logits, labels, 1f);
    model.Backward(dOut, default, B, T);
    adam.Step();
    if (step >= 5) times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
}
times.Sort();
Console.WriteLine($"imdb train step (B {B}, T {T}, LSTM(128), 1 thread): median {times[times.Count / 2]:F2} ms, min {times[0]:F2} ms over {times.Count} steps");
return 0;
