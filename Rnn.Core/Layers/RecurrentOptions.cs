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
