namespace Rnn.Layers;

/// <summary>
/// How a streaming step stores the recurrent layers' weights (<see cref="RecurrentLayer{T}.NewStream"/>,
/// <c>Predictor</c>). Reduced precision reads fewer bytes per step (the step streams every weight once), at a bounded
/// cost in accuracy; it needs float layers. Biases, peepholes, the embedding and the head stay float32.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The number formats' own names (float32, int8), as the issue and peers spell them.")]
public enum WeightPrecision
{
    /// <summary>float32 weights: the step gives Forward's bits (the default).</summary>
    Float32,
    /// <summary>
    /// bfloat16 weights (round to nearest even, relative error ≤ 2^-8 per weight), widened to float32 in registers and
    /// accumulated in float32: half the bytes.
    /// </summary>
    BFloat16,
    /// <summary>
    /// int8 weights with one symmetric scale per output row (max|w|/127, error ≤ scale/2 per weight); each step
    /// quantises its inputs per batch row the same way (max|x|/127) and sums in int32: a quarter of the bytes.
    /// </summary>
    Int8,
}
