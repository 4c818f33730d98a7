using BenchmarkDotNet.Attributes;
using Rnn.Init;
using Rnn.Models;

namespace Rnn.Bench;

/// <summary>
/// The embedding API's streaming step (Predictor.Step, one token at a time, batch 1) on the imdb model:
/// Embedding(20000,128) → LSTM(128) → Dense(1). [MemoryDiagnoser] shows it allocates nothing.
/// </summary>
[MemoryDiagnoser]
public class StreamingBench : IDisposable
{
    private SequenceModel<float> _model = null!;
    private Predictor<float> _predictor = null!;
    private StreamState<float> _state = null!;
    private readonly int[] _token = [17];

    /// <summary>Returns the model's pooled buffers.</summary>
    public void Dispose() { _model?.Dispose(); GC.SuppressFinalize(this); }

    /// <summary>Builds the model and a state.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Engine.Threads = 1;
        _model = new SequenceModel<float>(new ModelSpec { Vocab = 20000, EmbeddingDim = 128, Cell = CellKind.Lstm, Hidden = 128, OutputSize = 1 }, new Rng(1)) { Training = false };
        _predictor = new Predictor<float>(_model);
        _state = _predictor.NewState();
    }

    /// <summary>One streaming step.</summary>
    [Benchmark]
    public float Step()
    {
        _token[0] = (_token[0] * 31 + 7) % 20000;
        return _predictor.Step(_token, _state)[0];
    }
}
