// Ten lines against the packed Rnn.Core: build, train a few steps, check the loss falls.
using Rnn.Init; using Rnn.Layers; using Rnn.Losses; using Rnn.Optimizers;
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
return last < 0.5f * first ? 0 : 1;
