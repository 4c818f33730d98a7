using System.Buffers.Binary;
using System.Text;
using Rnn.IO;

namespace Rnn.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rnn-st-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    // ---- round trips ----

    private static readonly float[] OddFloats =
    [
        0f, -0f, 1f, -1.5f, float.Epsilon, -float.Epsilon, BitConverter.Int32BitsToSingle(0x007FFFFF), // subnormals
        float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity,
        BitConverter.Int32BitsToSingle(0x7FC00001), BitConverter.Int32BitsToSingle(0x7F800001),      // quiet / signalling NaN payloads
        BitConverter.Int32BitsToSingle(unchecked((int)0xFFC12345)), 3.14159274f, 1e-38f,
    ];

    private static readonly double[] OddDoubles =
    [
        0d, -0d, 1d, -1.5d, double.Epsilon, BitConverter.Int64BitsToDouble(0x000FFFFFFFFFFFFF),
        double.MaxValue, double.MinValue, double.PositiveInfinity, double.NegativeInfinity,
        BitConverter.Int64BitsToDouble(0x7FF8000000000001), BitConverter.Int64BitsToDouble(0x7FF0000000000001),
        BitConverter.Int64BitsToDouble(unchecked((long)0xFFF8DEADBEEF1234)), Math.PI, 1e-308,
    ];

    [Fact]
    public void F32_round_trip_is_bit_exact()
    {
        string p = PathOf("f32.safetensors");
        SafeTensors.Save(p, [NamedTensor.F32("w", [4, 4], OddFloats)]);
        using var f = SafeTensors.Load(p);
        var info = f.Info("w");
        Assert.Equal(SafeTensorsDType.F32, info.DType);
        Assert.Equal([4L, 4L], info.Shape);
        Assert.Equal(OddFloats.Select(BitConverter.SingleToInt32Bits), f.GetFloat("w").Select(BitConverter.SingleToInt32Bits));
        // Widening to double is exact for every non-NaN value.
        var d = f.GetDouble("w");
        for (int i = 0; i < d.Length; i++)
            if (!float.IsNaN(OddFloats[i])) Assert.Equal(BitConverter.DoubleToInt64Bits(OddFloats[i]), BitConverter.DoubleToInt64Bits(d[i]));
    }

    [Fact]
    public void F64_round_trip_is_bit_exact()
    {
        string p = PathOf("f64.safetensors");
        SafeTensors.Save(p, [NamedTensor.F64("w", [3, 5], OddDoubles)]);
        using var f = SafeTensors.Load(p);
        Assert.Equal(SafeTensorsDType.F64, f.Info("w").DType);
        Assert.Equal(OddDoubles.Select(BitConverter.DoubleToInt64Bits), f.GetDouble("w").Select(BitConverter.DoubleToInt64Bits));
        // Narrowing rounds to nearest, as a cast does.
        Assert.Equal(OddDoubles.Select(x => BitConverter.SingleToInt32Bits((float)x)).Where((_, i) => !double.IsNaN(OddDoubles[i])),
                     f.GetFloat("w").Select(BitConverter.SingleToInt32Bits).Where((_, i) => !double.IsNaN(OddDoubles[i])));
    }

    [Fact]
    public void Mixed_dtypes_scalars_empty_tensors_and_metadata_round_trip()
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt", ["quote\"back\\slash"] = "tab\tnew\nline\u0001", ["ünï"] = "日本語 🙂", ["empty"] = "",
        };
        string p = PathOf("mixed.safetensors");
        SafeTensors.Save(p,
        [
            NamedTensor.F32("b.scalar", [], new[] { 2.5f }),
            NamedTensor.F32("a.empty", [0, 3], Array.Empty<float>()),
            NamedTensor.I64("tokens", [2, 3], new long[] { 1, -2, long.MaxValue, long.MinValue, 0, 5 }),
            NamedTensor.I32("ids", [3], new[] { int.MinValue, 0, int.MaxValue }),
            NamedTensor.F64("z", [2], new[] { 1.0, -2.0 }),
        ], meta);
        using var f = SafeTensors.Load(p);
        Assert.True(f.HasMetadata);
        Assert.Equal(meta.OrderBy(kv => kv.Key), f.Metadata.OrderBy(kv => kv.Key));
        // The reference writer's layout: descending dtype (I64, F64, F32, I32), then by name.
        Assert.Equal(["tokens", "z", "a.empty", "b.scalar", "ids"], f.Names);
        Assert.Equal([2.5f], f.GetFloat("b.scalar"));
        Assert.Empty(f.Info("b.scalar").Shape);
        Assert.Equal(0, f.Info("a.empty").ElementCount);
        Assert.Empty(f.GetFloat("a.empty"));
        Assert.Equal([1L, -2, long.MaxValue, long.MinValue, 0, 5], f.GetInt64("tokens"));
        Assert.Equal([int.MinValue, 0, int.MaxValue], f.GetInt32("ids"));
        Assert.Equal([1.0, -2.0], f.GetDouble("z"));
        var e = Assert.Throws<SafeTensorsException>(() => f.GetInt32("tokens"));
        Assert.Contains("tensor 'tokens'", e.Message);
        Assert.Contains("outside the range of int", e.Message);
    }

    [Fact]
    public void Unsupported_reads_name_the_tensor_and_dtype()
    {
        using var f = SafeTensors.Deserialize(SafeTensors.Serialize([NamedTensor.I64("ids", [2], new long[] { 1, 2 })]), "ids.st");
        var e = Assert.Throws<SafeTensorsException>(() => f.GetFloat("ids"));
        Assert.Contains("ids.st: tensor 'ids'", e.Message);
        Assert.Contains("unsupported dtype I64", e.Message);
        e = Assert.Throws<SafeTensorsException>(() => f.GetFloat("nope"));
        Assert.Contains("tensor 'nope'", e.Message);
        Assert.Contains("no such tensor", e.Message);
    }

    [Fact]
    public void F16_and_BF16_are_widened_exactly()
    {
        // {"h":F16 [2] = 1.0, -2.0 ; "b":BF16 [2] = 1.0, -0.5}, laid out by hand.
        string json = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        byte[] data = [0x80, 0x3F, 0x00, 0xBF, 0x00, 0x3C, 0x00, 0xC0];
        using var f = SafeTensors.Deserialize(Image(json, data));
        Assert.Equal([1f, -0.5f], f.GetFloat("b"));
        Assert.Equal([1.0, -2.0], f.GetDouble("h"));
    }

    // ---- bytes the reference writer produces ----

    private static byte[] Image(string paddedJson, byte[] data)
    {
        byte[] h = Encoding.UTF8.GetBytes(paddedJson);
        var o = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(o, (ulong)h.Length);
        h.CopyTo(o, 8);
        data.CopyTo(o, 8 + h.Length);
        return o;
    }

    private static byte[] Le(params float[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void Matches_reference_writer_bytes_single_tensor_with_padding()
    {
        // safetensors' own test "serialization_forced_alignment": {"attn0": F32 (1,1,2,3) = 0..5}. The 65-byte
        // JSON is padded with 7 spaces to 72, so the data starts 8-aligned.
        byte[] expected =
        [
            72, 0, 0, 0, 0, 0, 0, 0,
            .. "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       "u8,
            .. Le(0, 1, 2, 3, 4, 5),
        ];
        byte[] actual = SafeTensors.Serialize([NamedTensor.F32("attn0", [1, 1, 2, 3], new float[] { 0, 1, 2, 3, 4, 5 })]);
        Assert.Equal(expected, actual);
        using var f = SafeTensors.Deserialize(expected);
        Assert.Equal([0f, 1, 2, 3, 4, 5], f.GetFloat("attn0"));
        Assert.False(f.HasMetadata);
    }

    [Fact]
    public void Matches_reference_writer_bytes_metadata_only()
    {
        // safetensors' own test "empty" with metadata {"framework": "pt"}: 35 bytes of JSON + 5 spaces.
        byte[] expected = [40, 0, 0, 0, 0, 0, 0, 0, .. "{\"__metadata__\":{\"framework\":\"pt\"}}     "u8];
        Assert.Equal(expected, SafeTensors.Serialize([], new Dictionary<string, string> { ["framework"] = "pt" }));
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, .. "{}      "u8], SafeTensors.Serialize([]));
    }

    [Fact]
    public void Matches_python_save_file_for_a_small_state_dict()
    {
        // What safetensors.torch.save_file({"weight": (2,2) float32, "bias": (2,) float32, "step": () float64},
        // metadata={"format": "pt"}) writes: metadata first, F64 before F32 (descending dtype), then by name,
        // compact JSON, padded with spaces to a multiple of 8; data in the same order.
        string json =
            "{\"__metadata__\":{\"format\":\"pt\"}," +
            "\"step\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}," +
            "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}," +
            "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}";
        Assert.Equal(206, json.Length);
        string padded = json + "  "; // 208 = 26 * 8
        byte[] data = [.. BitConverter.GetBytes(7.0), .. Le(0.5f, -0.5f), .. Le(1, 2, 3, 4)];
        byte[] expected = Image(padded, data);
        Assert.Equal(208UL, BinaryPrimitives.ReadUInt64LittleEndian(expected));

        string p = PathOf("model.safetensors");
        SafeTensors.Save(p,
        [
            NamedTensor.F32("weight", [2, 2], new float[] { 1, 2, 3, 4 }),
            NamedTensor.F32("bias", [2], new[] { 0.5f, -0.5f }),
            NamedTensor.F64("step", [], new[] { 7.0 }),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(expected, File.ReadAllBytes(p));
    }

    // ---- parameters ----

    private static Parameter<T>[] Params<T>(int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        Parameter<T>[] ps = [new("weight_ih_l0", [4, 3]), new("weight_hh_l0", [4, 4]), new("bias_ih_l0", [4])];
        int k = seed;
        foreach (var p in ps) for (int i = 0; i < p.Length; i++) p.Value[i] = T.CreateChecked(Math.Sin(k++) * 3);
        return ps;
    }

    [Fact]
    public void Parameters_save_and_load_in_place_float_and_double()
    {
        string p = PathOf("params.safetensors");
        var src = Params<float>(1);
        SafeTensors.SaveParameters(p, src, new Dictionary<string, string> { ["model"] = "test" });
        var dst = Params<float>(100);
        SafeTensors.LoadInto(p, dst);
        for (int i = 0; i < src.Length; i++) Assert.Equal(src[i].Value, dst[i].Value);

        string pd = PathOf("params64.safetensors");
        var srcD = Params<double>(1);
        SafeTensors.SaveParameters(pd, srcD);
        var dstD = Params<double>(7);
        SafeTensors.LoadInto(pd, dstD);
        for (int i = 0; i < srcD.Length; i++) Assert.Equal(srcD[i].Value, dstD[i].Value);

        // A float checkpoint loads into a double model (exact widening).
        SafeTensors.LoadInto(p, dstD);
        for (int i = 0; i < src.Length; i++) Assert.Equal(src[i].Value.Select(x => (double)x), dstD[i].Value);
    }

    [Fact]
    public void LoadInto_rejects_missing_misshapen_and_unexpected_tensors_before_writing()
    {
        string p = PathOf("params.safetensors");
        SafeTensors.SaveParameters(p, Params<float>(1));

        var missing = Params<float>(5).Append(new Parameter<float>("fc.weight", [1, 8])).ToArray();
        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.LoadInto(p, missing));
        Assert.Contains("tensor 'fc.weight'", e.Message);
        Assert.Contains("missing: expected a tensor of shape (1, 8)", e.Message);
        Assert.Equal("fc.weight", e.Tensor);

        Parameter<float>[] misshapen = [new("weight_ih_l0", [3, 4]), new("weight_hh_l0", [4, 4]), new("bias_ih_l0", [4])];
        e = Assert.Throws<SafeTensorsException>(() => SafeTensors.LoadInto(p, misshapen));
        Assert.Contains("tensor 'weight_ih_l0'", e.Message);
        Assert.Contains("expected shape (3, 4), got (4, 3)", e.Message);
        Assert.All(misshapen, q => Assert.All(q.Value, v => Assert.Equal(0f, v))); // nothing written

        var fewer = Params<float>(5).Take(2).ToArray();
        var before = fewer.Select(q => q.Value.ToArray()).ToArray();
        e = Assert.Throws<SafeTensorsException>(() => SafeTensors.LoadInto(p, fewer));
        Assert.Contains("tensor 'bias_ih_l0'", e.Message);
        Assert.Contains("unexpected tensor of shape (4)", e.Message);
        for (int i = 0; i < fewer.Length; i++) Assert.Equal(before[i], fewer[i].Value);

        SafeTensors.LoadInto(p, fewer, allowUnexpected: true);
        Assert.Equal(Params<float>(1)[0].Value, fewer[0].Value);
    }

    // ---- atomic saves ----

    [Fact]
    public void A_failed_save_leaves_the_old_file_intact()
    {
        string p = PathOf("ckpt.safetensors");
        SafeTensors.Save(p, [NamedTensor.F32("w", [2], new[] { 1f, 2f })]);
        byte[] good = File.ReadAllBytes(p);

        // 1. A tensor whose data does not match its shape.
        var e = Assert.Throws<ArgumentException>(() => SafeTensors.Save(p,
            [NamedTensor.F32("w", [2], new[] { 9f, 9f }), NamedTensor.F32("v", [2, 3], new float[5])]));
        Assert.Contains("'v': shape (2, 3) needs 6 elements, got 5", e.Message);

        // 2. A tensor source that fails after yielding a tensor.
        static IEnumerable<NamedTensor> Failing()
        {
            yield return NamedTensor.F32("w", [2], new[] { 9f, 9f });
            throw new InvalidOperationException("source failed");
        }
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Save(p, Failing()));

        // 3. A write that fails midway through the stream (what a full disk looks like to the writer).
        Assert.Throws<IOException>(() => AtomicFile.Write(p, s => { s.Write(new byte[1000]); throw new IOException("disk full"); }));

        Assert.Equal(good, File.ReadAllBytes(p));
        using (var f = SafeTensors.Load(p)) Assert.Equal([1f, 2f], f.GetFloat("w"));
        Assert.Equal(["ckpt.safetensors"], Directory.GetFiles(_dir).Select(Path.GetFileName)); // no temp file left

        // A successful save replaces it.
        SafeTensors.Save(p, [NamedTensor.F32("w", [2], new[] { 3f, 4f })]);
        using (var f = SafeTensors.Load(p)) Assert.Equal([3f, 4f], f.GetFloat("w"));
    }

    [Fact]
    public void Save_rejects_bad_names()
    {
        Assert.Contains("duplicate name 'w'", Assert.Throws<ArgumentException>(() => SafeTensors.Serialize(
            [NamedTensor.F32("w", [1], new[] { 1f }), NamedTensor.F64("w", [1], new[] { 1.0 })])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(() => SafeTensors.Serialize(
            [NamedTensor.F32("__metadata__", [1], new[] { 1f })])).Message);
        Assert.Contains("non-negative", Assert.Throws<ArgumentException>(() => SafeTensors.Serialize(
            [NamedTensor.F32("w", [-1], new[] { 1f })])).Message);
    }

    // ---- corrupt files ----

    private const string A8 = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private static byte[] Raw(ulong n, byte[] rest)
    {
        var o = new byte[8 + rest.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(o, n);
        rest.CopyTo(o, 8);
        return o;
    }

    /// <summary>(case, file bytes, substrings the message must contain).</summary>
    public static TheoryData<string, byte[], string[]> Corrupt => new()
    {
        { "shorter than 8 bytes", [1, 0, 0, 0, 0], ["expected at least 8 bytes", "got a 5-byte file"] },
        { "header longer than 100 MB", Raw(100_000_001, "{}"u8.ToArray()), ["header length 100000001 exceeds the 100000000-byte limit"] },
        { "header length u64 max", Raw(ulong.MaxValue, "{}"u8.ToArray()), ["header length 18446744073709551615 exceeds"] },
        { "header longer than the file", Raw(64, "{}      "u8.ToArray()), ["header length 64 runs past the end of the file: expected at most 8"] },
        { "empty header", Raw(0, []), ["expected the header to start with '{', got an empty header"] },
        { "header not an object", Image("[1,2]   ", []), ["expected the header to start with '{', got byte 0x5b"] },
        { "invalid UTF-8", Image("{\"a\":{}}", []).Select((b, i) => i == 10 ? (byte)0xFF : b).ToArray(), ["not valid UTF-8", "header byte 2"] },
        { "truncated JSON", Image("{\"a\":{\"dtype\":\"F32\"", []), ["tensor 'a'", "not valid JSON"] },
        { "content after the object", Image("{} x", []), ["not valid JSON"] },
        { "lone surrogate in a name", Image("{\"\\ud800\":{}}", []), ["not valid JSON"] },
        { "entry not an object", Image("{\"a\":5}", []), ["tensor 'a'", "expected an object with dtype, shape and data_offsets, got the number 5"] },
        { "missing dtype", Image("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "missing field 'dtype'"] },
        { "missing shape", Image("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "missing field 'shape'"] },
        { "missing data_offsets", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]), ["tensor 'a'", "missing field 'data_offsets'"] },
        { "unknown dtype", Image("{\"a\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "unknown or unsupported dtype 'F17'", "F32, F64"] },
        { "dtype not a string", Image("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "dtype: expected a string, got the number 4"] },
        { "negative dimension", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "shape[0]: expected a non-negative integer, got -2 (negative)"] },
        { "fractional dimension", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2.5],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "shape[1]: expected a non-negative integer, got 2.5"] },
        { "dimension a string", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "shape[0]: expected a non-negative integer, got the string \"2\""] },
        { "three offsets", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", new byte[8]), ["tensor 'a'", "data_offsets: expected 2 integers [begin, end], got 3"] },
        { "shape x dtype != range", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "shape (3) of F32 needs 12 bytes, but data_offsets [0, 8] span 8"] },
        { "shape overflows", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,8]}}", new byte[8]), ["tensor 'a'", "more elements than fit in 64 bits"] },
        { "huge shape, offsets consistent but past the buffer", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776],\"data_offsets\":[0,4398046511104]}}", new byte[8]), ["tensor 'a'", "run past the end of the data buffer: expected end <= 8"] },
        { "end before begin", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", new byte[8]), ["tensor 'a'", "data_offsets [8, 0]: expected begin <= end"] },
        { "overlapping ranges", Image("{" + A8 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]), ["tensor 'b'", "overlap tensor 'a' [0, 8]: expected begin 8"] },
        { "hole in the buffer", Image("{" + A8 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", new byte[20]), ["tensor 'b'", "leave bytes 8..12 of the data buffer uncovered"] },
        { "trailing bytes", Image("{" + A8 + "}", new byte[12]), ["cover 8 bytes of the data buffer, but it holds 12"] },
        { "duplicate tensor name", Image("{" + A8 + "," + A8 + "}", new byte[8]), ["tensor 'a'", "duplicate key 'a'"] },
        { "metadata value not a string", Image("{\"__metadata__\":{\"epoch\":3}}", []), ["__metadata__['epoch']: expected a string value, got the number 3"] },
        { "metadata not an object", Image("{\"__metadata__\":[\"x\"]}", []), ["__metadata__: expected an object of string values, got an array"] },
        { "duplicate metadata key", Image("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", []), ["__metadata__: duplicate key 'k'"] },
    };

    [Theory]
    [MemberData(nameof(Corrupt))]
    public void Corrupt_files_are_rejected_with_a_precise_message(string name, byte[] bytes, string[] expected)
    {
        string p = PathOf("corrupt.safetensors");
        File.WriteAllBytes(p, bytes);
        var e = Assert.Throws<SafeTensorsException>(() => { using var f = SafeTensors.Load(p); });
        Assert.StartsWith(p + ": ", e.Message);
        foreach (string s in expected) Assert.True(e.Message.Contains(s, StringComparison.Ordinal), $"{name}: '{e.Message}' lacks '{s}'");
        if (expected[0].StartsWith("tensor '", StringComparison.Ordinal)) Assert.Equal(expected[0][8..^1], e.Tensor);
        // The in-memory reader agrees.
        var m = Assert.Throws<SafeTensorsException>(() => SafeTensors.Deserialize(bytes, "mem"));
        Assert.Equal(e.Message[(p.Length + 2)..], m.Message["mem: ".Length..]);
    }

    [Fact]
    public void Valid_quirks_the_reference_accepts_are_accepted()
    {
        // Unknown entry fields are ignored, "__metadata__": null means none, offsets may come in any order.
        string json = "{\"__metadata__\":null,\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8],\"extra\":{\"x\":[1]}}," +
                      "\"a\":{\"data_offsets\":[0,4],\"shape\":[1],\"dtype\":\"F32\"}}";
        using var f = SafeTensors.Deserialize(Image(json, Le(1, 2)));
        Assert.False(f.HasMetadata);
        Assert.Equal(["a", "b"], f.Names);
        Assert.Equal([2f], f.GetFloat("b"));
    }
}
