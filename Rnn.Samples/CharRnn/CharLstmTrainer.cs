namespace Rnn.Samples.CharRnn;

/// <summary>char-rnn's LSTM mode (waiting for the Lstm layer).</summary>
public static class CharLstmTrainer
{
    /// <summary>Entry point.</summary>
    public static int Run(CharRnnOptions o, CharData data) => throw new Common.UsageException("charrnn: --mode lstm needs the Lstm layer.");
}
