// Writes Rnn.Bench/Data/imdb-train-lengths-400.txt: the lengths of the 25,000 real IMDB training reviews under
// Keras's tokenisation (imdb.load_data: start token + word ids, num_words 20000) cut at maxlen 400, in a seeded
// shuffled order. The imdb-packed workload (Rnn.Bench) and its PyTorch peer (tools/imdb-packed-peer.py) both take
// their batches from the head of this file, so they run the same batches; neither needs the dataset itself.
//   dotnet run tools/imdb-lengths.cs -- ../shared/data/imdb-raw [--maxlen 400] [--seed 1]
#:project ../Rnn.Core/Rnn.Core.csproj
using System.Globalization;
using System.Text;
using Rnn.Data;
using Rnn.Init;

string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
if (args.Length == 0 || args[0].StartsWith('-'))
{
    Console.Error.WriteLine("usage: dotnet run tools/imdb-lengths.cs -- IMDB_DIR [--maxlen 400] [--seed 1]");
    return 2;
}
string dir = args[0];
int maxlen = int.Parse(Arg("--maxlen") ?? "400", CultureInfo.InvariantCulture);
ulong seed = ulong.Parse(Arg("--seed") ?? "1", CultureInfo.InvariantCulture);
var train = ImdbReader.LoadSplit(dir, "train");
var tok = ImdbTokenizer.FromWordIndexFile(Path.Combine(dir, "imdb_word_index.json"), 20000);
var lens = new int[train.Length];
long sum = 0; int cut = 0;
for (int i = 0; i < train.Length; i++)
{
    int n = tok.Encode(train[i].Text).Length;
    if (n > maxlen) cut++;
    lens[i] = Math.Min(n, maxlen);
    sum += lens[i];
}
new Rng(seed).Shuffle<int>(lens);
double mean = sum / (double)lens.Length, pad = 1 - sum / ((double)lens.Length * maxlen);
var sb = new StringBuilder();
sb.Append(CultureInfo.InvariantCulture, $"# IMDB training reviews, Keras tokenisation (start token + ids, num_words 20000), cut at maxlen {maxlen}; shuffled with Rng({seed}).\n");
sb.Append(CultureInfo.InvariantCulture, $"# reviews {lens.Length}, mean length {mean:F2}, cut at {maxlen}: {cut}, padding at maxlen {maxlen}: {pad:P2}\n");
sb.Append(CultureInfo.InvariantCulture, $"# written by: dotnet run tools/imdb-lengths.cs -- IMDB_DIR --maxlen {maxlen} --seed {seed}\n");
for (int i = 0; i < lens.Length; i++) sb.Append(lens[i].ToString(CultureInfo.InvariantCulture)).Append(i % 32 == 31 ? '\n' : ' ');
string root = AppContext.GetData("EntryPointFileDirectoryPath") as string ?? Directory.GetCurrentDirectory();
string outPath = Path.GetFullPath(Path.Combine(root, "..", "Rnn.Bench", "Data", $"imdb-train-lengths-{maxlen}.txt"));
File.WriteAllText(outPath, sb.ToString());
Console.WriteLine($"{outPath}: {lens.Length} lengths, mean {mean:F2}, padding {pad:P2}");
return 0;
