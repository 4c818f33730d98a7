using Rnn.Init;

namespace Rnn.Layers;

/// <summary>Where a recurrent layer's state at t = −1 comes from.</summary>
public enum InitialState
{
    /// <summary>Zeros.</summary>
    Zero,
    /// <summary>Passed by the caller to Forward, shape (batch, H); Backward can return its gradient.</summary>
    Given,
    /// <summary>A trainable vector <c>h0</c> of shape (H), broadcast over the batch (Lasagne's learn_init).</summary>
    Learned,
}

/// <summary>What a layer outputs at the padded (mask 0) steps of a sequence, with ReturnSequences.</summary>
public enum PaddedOutput
{
    /// <summary>The carried state, as Lasagne and Keras do (the default).</summary>
    Carry,
    /// <summary>Zeros, as PyTorch's packed sequences do; the gradient arriving there is ignored.</summary>
    Zero,
}

/// <summary>The options every recurrent layer shares.</summary>
public abstract record RecurrentOptions
{
    /// <summary>Return every step, (batch, seq, H); otherwise only the last scanned step, (batch, H).</summary>
    public bool ReturnSequences { get; init; } = true;
    /// <summary>Scan from the last step to the first (the output stays aligned with the input's time axis).</summary>
    public bool Backwards { get; init; }
    /// <summary>Where the state at t = −1 comes from: zeros, given to Forward, or learned vectors.</summary>
    public InitialState InitialState { get; init; } = InitialState.Zero;
    /// <summary>Keeps PyTorch's second bias <c>bias_hh</c> (Lasagne and Keras 2 have one bias).</summary>
    public bool TwoBiases { get; init; }
    /// <summary>
    /// Truncated BPTT, Theano's truncate_gradient / Lasagne's gradient_steps: the reverse pass runs over the last k
    /// scanned steps only. −1 (default) = full BPTT.
    /// </summary>
    public int GradientSteps { get; init; } = -1;
    /// <summary>Output at padded steps: the carried state (default) or zeros (<see cref="PaddedOutput"/>).</summary>
    public PaddedOutput PaddedOutput { get; init; } = PaddedOutput.Carry;
}

/// <summary>The options the gated layers (<see cref="Lstm{T}"/>, <see cref="Gru{T}"/>) add.</summary>
public abstract record GatedRecurrentOptions : RecurrentOptions
{
    /// <summary>Weight initialisation (Keras: glorot / orthogonal / zero; PyTorch: U(±1/√H) everywhere).</summary>
    public InitScheme Init { get; init; } = InitScheme.Keras;
    /// <summary>
    /// Dropout rate on the inputs, in [0, 1): one inverted-dropout mask (batch, I) per sequence, reused at every
    /// step (Gal and Ghahramani), shared by the gates (Keras draws one per gate). Only while Training.
    /// </summary>
    public double Dropout { get; init; }
    /// <summary>Dropout rate on h_{t−1} where it enters the recurrent GEMM; one (batch, H) mask per sequence, as <see cref="Dropout"/>.</summary>
    public double RecurrentDropout { get; init; }
}
