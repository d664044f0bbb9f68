using System.Buffers.Binary;
using System.Text;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class SafetensorsFileTests
{
    private static float[] RandomValues(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 8 - 4);
        return values;
    }

    [Fact]
    public void RoundTripsF32F16Bf16AndMetadata()
    {
        string dir = TestPaths.NewTempDir("st-roundtrip");
        var a = RandomValues(2 * 3 * 4, 1);
        var b = RandomValues(17, 2);
        var c = RandomValues(5 * 7, 3);
        string path = Path.Combine(dir, "t.safetensors");
        SafetensorsWriter.Write(path,
        [
            SafetensorsTensor.From("a", Tensor.From(a, 2, 3, 4), WeightDType.F32),
            SafetensorsTensor.From("b.half", Tensor.From(b, 17), WeightDType.F16),
            SafetensorsTensor.From("c.bf16", Tensor.From(c, 5, 7), WeightDType.BF16),
            SafetensorsTensor.From("empty", Tensor.Zeros(0, 3), WeightDType.F32),
        ], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "x" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b.half", "c.bf16", "empty"], file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("x", file.Metadata["note"]);
        Assert.Equal(0, file.DataStart % 8);

        var loadedA = file.Load("a");
        Assert.Equal([2, 3, 4], loadedA.Shape);
        Assert.Equal(WeightDType.F32, file.Info("a").DType);
        WeightAssert.ExactlyEqual("a (F32)", a, loadedA.Data);

        // F16: the stored value is the round-to-nearest-even fp16 of the input, read back exactly.
        WeightAssert.ExactlyEqual("b (F16)", b.Select(v => (float)(Half)v).ToArray(), file.Load("b.half").Data);

        // BF16: round to nearest even on the low 16 bits, i.e. the fp32 with those bits cleared after rounding.
        var expectedC = c.Select(v =>
        {
            uint bits = BitConverter.SingleToUInt32Bits(v);
            bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;
            return BitConverter.UInt32BitsToSingle(bits);
        }).ToArray();
        WeightAssert.ExactlyEqual("c (BF16)", expectedC, file.Load("c.bf16").Data);
        Assert.Equal([0, 3], file.Load("empty").Shape);

        var half = new Half[17];
        file.LoadHalf("b.half", half);
        WeightAssert.ExactlyEqual("b (F16 via LoadHalf)", b.Select(v => (float)(Half)v).ToArray(), half.Select(h => (float)h).ToArray());
    }

    [Fact]
    public void Fp16LdmFileHoldsTheSameValuesAsTheFp32DiffusersFile()
    {
        // The golden fp16 LDM file and fp32 diffusers file were written independently by torch; every weight is
        // exactly representable in fp16, so the F16 -> F32 conversion must reproduce the F32 values bit for bit.
        using var fp32 = SafetensorsFile.Open(Path.Combine(TestPaths.TinySdDiffusers, "unet", "diffusion_pytorch_model.safetensors"));
        using var fp16 = SafetensorsFile.Open(TestPaths.TinySdLdm);
        Assert.Equal(686, fp32.Names.Count);
        Assert.Equal(WeightDType.F16, fp16.Info("model.diffusion_model.input_blocks.0.0.weight").DType);
        foreach (var (ldm, diffusers) in new[]
                 {
                     ("model.diffusion_model.input_blocks.0.0.weight", "conv_in.weight"),
                     ("model.diffusion_model.time_embed.0.weight", "time_embedding.linear_1.weight"),
                     ("model.diffusion_model.out.2.bias", "conv_out.bias"),
                 })
        {
            var expected = fp32.Load(diffusers);
            var actual = fp16.Load(ldm);
            Assert.Equal(expected.Shape, actual.Shape);
            WeightAssert.ExactlyEqual($"{ldm} vs {diffusers}", expected.Data, actual.Data);
            Assert.Contains(expected.Data, v => v != 0);
        }
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        string path = Path.Combine(TestPaths.NewTempDir("st-missing"), "nope.safetensors");
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void FileShorterThanTheLengthFieldIsTruncated()
    {
        string dir = TestPaths.NewTempDir("st-short");
        string path = Path.Combine(dir, "short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheFileIsTruncated()
    {
        string dir = TestPaths.NewTempDir("st-hdrlen");
        string path = RawSafetensors.Write(dir, "h.safetensors", "{}", [], declaredHeaderLength: 1000);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("header length 1000", e.Message);
    }

    [Fact]
    public void DataSectionCutShortIsReportedForTheTensor()
    {
        // A valid file with its last bytes chopped off: the tensor's end offset lies past the data section.
        string dir = TestPaths.NewTempDir("st-cut");
        string path = Path.Combine(dir, "cut.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.From("w", Tensor.From(RandomValues(64, 4), 8, 8), WeightDType.F32)]);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], ", "not valid JSON")]
    [InlineData("[1, 2]", "not an object")]
    [InlineData("{\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", "missing string 'dtype'")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", "missing array 'shape'")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", "'data_offsets' must be an array")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", "shape entry 0")]
    [InlineData("{\"__metadata__\": {\"a\": 1}}", "__metadata__ entry 'a'")]
    public void BadHeaderIsRejected(string header, string expected)
    {
        string dir = TestPaths.NewTempDir("st-bad");
        string path = RawSafetensors.Write(dir, "bad.safetensors", header, new byte[8]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void UnknownDtypeNamesTheTensorAndType()
    {
        string dir = TestPaths.NewTempDir("st-dtype");
        string path = RawSafetensors.Write(dir, "d.safetensors", "{\"w.weight\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", new byte[8]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w.weight'", e.Message);
        Assert.Contains("unknown dtype 'F64'", e.Message);
    }

    [Theory]
    [InlineData("[0, 16]", "out of range")]       // end past the 8-byte data section
    [InlineData("[8, 4]", "begin > end")]
    [InlineData("[0, 4]", "needs 8 bytes")]        // shape [2] F32 is 8 bytes, offsets hold 4
    public void OffsetsAreCheckedAgainstShapeAndFileSize(string offsets, string expected)
    {
        string dir = TestPaths.NewTempDir("st-offsets");
        string path = RawSafetensors.Write(dir, "o.safetensors", $"{{\"w\": {{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": {offsets}}}}}", new byte[8]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    /// <summary>A safetensors file whose header is <paramref name="header"/> byte for byte (so it may hold invalid UTF-8).</summary>
    private static string WriteRawHeader(string dir, string fileName, byte[] header, int dataBytes)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        string path = Path.Combine(dir, fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Utf8WithByte(string before, byte value, string after) =>
        [.. Encoding.UTF8.GetBytes(before), value, .. Encoding.UTF8.GetBytes(after)];

    public static TheoryData<string, byte[]> InvalidUtf8Headers => new()
    {
        // a tensor name, a dtype, a metadata value, and a UTF-8 sequence cut short at the end of a name
        { "name", Utf8WithByte("{\"w", 0xFF, "\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}") },
        { "dtype", Utf8WithByte("{\"w\": {\"dtype\": \"F3", 0xC0, "\", \"shape\": [2], \"data_offsets\": [0, 8]}}") },
        { "metadata", Utf8WithByte("{\"__metadata__\": {\"format\": \"p", 0x80, "t\"}}") },
        { "cut sequence", Utf8WithByte("{\"w", 0xE2, "\": 1}") },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8Headers))]
    public void InvalidUtf8InTheHeaderIsRejectedNamingTheFile(string where, byte[] header)
    {
        string dir = TestPaths.NewTempDir("st-utf8");
        string path = WriteRawHeader(dir, "u.safetensors", header, 8);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.True(e.Message.Contains("not valid UTF-8"), $"invalid byte in the {where}: {e.Message}");
        Assert.Contains($"byte {Array.FindIndex(header, b => b >= 0x80)} ", e.Message);
    }

    [Theory]
    [InlineData("{\"w\\ud800\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}")]        // half a surrogate pair in a name
    [InlineData("{\"w\": {\"dtype\": \"F\\udc0032\", \"shape\": [2], \"data_offsets\": [0, 8]}}")]        // and in a dtype
    public void AnEscapedHalfSurrogateIsRejectedNamingTheFile(string header)
    {
        string dir = TestPaths.NewTempDir("st-surrogate");
        string path = RawSafetensors.Write(dir, "s.safetensors", header, new byte[8]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("invalid \\u escape", e.Message);
    }

    [Theory]
    [InlineData("[0, 8]", "[4, 12]", "overlap")]                     // b starts inside a
    [InlineData("[0, 8]", "[0, 8]", "share the same bytes")]         // b aliases a
    [InlineData("[4, 12]", "[0, 8]", "overlap")]                     // the same, listed the other way round
    public void OverlappingOrAliasedDataOffsetsAreRejectedNamingBothTensors(string a, string b, string expected)
    {
        string dir = TestPaths.NewTempDir("st-overlap");
        string path = RawSafetensors.Write(dir, "o.safetensors",
            $"{{\"a\": {{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": {a}}}, \"b\": {{\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": {b}}}}}", new byte[12]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ALongTensorCoveringALaterOneIsAnOverlapToo()
    {
        // sorted by begin: big [0, 16], small [4, 8], tail [8, 12]; small and tail overlap big, not each other
        string dir = TestPaths.NewTempDir("st-cover");
        string path = RawSafetensors.Write(dir, "c.safetensors",
            "{\"big\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}, \"tail\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}, "
            + "\"small\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", new byte[16]);
        var e = Assert.Throws<WeightException>(() => SafetensorsFile.Open(path));
        Assert.Contains("'big'", e.Message);
        Assert.Contains("'small'", e.Message);
    }

    [Fact]
    public void EmptyTensorsMayShareAnOffsetAndAdjacentRangesAreFine()
    {
        string dir = TestPaths.NewTempDir("st-adjacent");
        string path = RawSafetensors.Write(dir, "a.safetensors",
            "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"e1\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 8]}, "
            + "\"e2\": {\"dtype\": \"F16\", \"shape\": [0, 4], \"data_offsets\": [8, 8]}, \"b\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [8, 12]}}", new byte[12]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "e1", "e2", "b"], file.Names);
    }

    [Fact]
    public void I64TensorIsNotAFloatTensor()
    {
        string dir = TestPaths.NewTempDir("st-i64");
        string path = RawSafetensors.Write(dir, "i.safetensors", "{\"position_ids\": {\"dtype\": \"I64\", \"shape\": [1, 2], \"data_offsets\": [0, 16]}}", new byte[16]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(WeightDType.I64, file.Info("position_ids").DType);
        var e = Assert.Throws<WeightException>(() => file.Load("position_ids"));
        Assert.Contains(path, e.Message);
        Assert.Contains("'position_ids'", e.Message);
        Assert.Contains("not a float tensor", e.Message);
    }

    [Fact]
    public void UnknownTensorNameAndUseAfterDispose()
    {
        string dir = TestPaths.NewTempDir("st-name");
        string path = Path.Combine(dir, "n.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.From("w", Tensor.From([1f, 2f], 2), WeightDType.F32)]);
        var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<WeightException>(() => file.Load("v"));
        Assert.Contains("'v' not found", e.Message);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.Load("w"));
    }
}
