using System.Numerics;

namespace Rnn.Layers;

/// <summary>
/// What SimpleRnn, Lstm and Gru share: the sizes, the options every recurrent layer has, and the PyTorch-named
/// parameters weight_ih (G·H, I), weight_hh (G·H, H), bias_ih (G·H), optionally bias_hh (G·H) and h0 (H), where G
/// is the layer's number of gate blocks (1; LSTM i, f, g, o; GRU r, z, n), registered in that order.
/// </summary>
public abstract class RecurrentLayer<T> : Layer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentOptions _common;

    /// <summary>Input features I.</summary>
    public int InputSize { get; }
    /// <summary>Hidden units H.</summary>
    public int HiddenSize { get; }

    /// <summary>(G·H, I): the gate blocks in the layer's order.</summary>
    public Parameter<T> WeightIh { get; }
    /// <summary>(G·H, H).</summary>
    public Parameter<T> WeightHh { get; }
    /// <summary>(G·H).</summary>
    public Parameter<T> BiasIh { get; }
    /// <summary>(G·H), only with <see cref="RecurrentOptions.TwoBiases"/>.</summary>
    public Parameter<T>? BiasHh { get; }
    /// <summary>(H), only with <see cref="InitialState.Learned"/>.</summary>
    public Parameter<T>? H0 { get; }

    /// <summary>Checks the sizes and the shared options and registers the parameters above, zero-filled.</summary>
    private protected RecurrentLayer(int inputSize, int hiddenSize, int gates, RecurrentOptions options, string suffix)
    {
        Guard.AtLeast(inputSize, 1);
        Guard.AtLeast(hiddenSize, 1);
        if (options.GradientSteps == 0 || options.GradientSteps < -1)
            throw new ArgumentException($"options.GradientSteps: expected -1 or >= 1, got {options.GradientSteps}.", nameof(options));
        _common = options;
        InputSize = inputSize; HiddenSize = hiddenSize;
        int G = gates * hiddenSize;
        WeightIh = Add(new Parameter<T>("weight_ih" + suffix, [G, inputSize]));
        WeightHh = Add(new Parameter<T>("weight_hh" + suffix, [G, hiddenSize]));
        BiasIh = Add(new Parameter<T>("bias_ih" + suffix, [G]));
        if (options.TwoBiases) BiasHh = Add(new Parameter<T>("bias_hh" + suffix, [G]));
        if (options.InitialState == InitialState.Learned) H0 = Add(new Parameter<T>("h0" + suffix, [hiddenSize]));
    }

    /// <summary>True when the layer scans time from the last step to the first.</summary>
    public bool Backwards => _common.Backwards;
    /// <summary>True when the output holds every step's h, false for the final one only.</summary>
    public bool ReturnSequences => _common.ReturnSequences;

    /// <summary>Output elements per sequence: seq·H with ReturnSequences, else H.</summary>
    public int OutputLength(int seqLen) => _common.ReturnSequences ? seqLen * HiddenSize : HiddenSize;

    /// <summary>
    /// Rows per time-loop participant from which the input projection x·W_ihᵀ runs per step, into the gates the
    /// step's GEMM and cell then use while they are in cache, instead of as one GEMM over all steps first (whose
    /// (S·B, G·H) output goes out to memory and comes back a step at a time), while the packed W_ihᵀ is at most
    /// <see cref="StepInputMaxBytes"/> (it then stays in cache beside W_hh). Both give the same bits.
    /// </summary>
    internal static int StepInputMinRows = 32;
    internal static int StepInputMaxBytes = 256 << 10;

    private bool _tapeSpent;

    /// <summary>Forward calls this when it records a new tape: one Backward may use it.</summary>
    private protected void TapeRecorded() => _tapeSpent = false;

    /// <summary>
    /// Backward calls this once its arguments are checked, before it writes its gradients over the tape (each step's
    /// over what only that step read): a second Backward on the same Forward is refused instead of reading them.
    /// </summary>
    private protected void ConsumeTape()
    {
        if (_tapeSpent)
            throw new InvalidOperationException("Backward: the last Forward's tape was already used by a Backward (which writes its gradients over it); run Forward again first.");
        _tapeSpent = true;
    }

    /// <summary>Whether a forward over <paramref name="batch"/> rows projects the input per step (see <see cref="StepInputMinRows"/>).</summary>
    private protected bool InputPerStep(int batch, int gateRows) =>
        typeof(T) == typeof(float) && batch / Kernels.WorkerPool.RowChunks(batch) >= StepInputMinRows
        && (long)gateRows * InputSize * sizeof(float) <= StepInputMaxBytes;
}
