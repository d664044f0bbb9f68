using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class PackedWeightsTests
{
    private static string Pack(string source, string tag, string? tokenizerDir = null)
    {
        string path = Path.Combine(TestPaths.NewTempDir(tag), "tiny.iipw");
        using var checkpoint = StableDiffusionCheckpoint.Open(source);
        PackedWeightsWriter.Write(checkpoint, path, tokenizerDir);
        return path;
    }

    private static void AssertSameModel(StableDiffusionCheckpoint expected, StableDiffusionCheckpoint actual)
    {
        Assert.Equal(ConfigDescriptions.Describe(expected.Unet), ConfigDescriptions.Describe(actual.Unet));
        Assert.Equal(ConfigDescriptions.Describe(expected.Vae), ConfigDescriptions.Describe(actual.Vae));
        Assert.Equal(ConfigDescriptions.Describe(expected.TextEncoder), ConfigDescriptions.Describe(actual.TextEncoder));
        Assert.Equal(ConfigDescriptions.Describe(expected.Scheduler), ConfigDescriptions.Describe(actual.Scheduler));
        foreach (var part in ModelParts.All)
        {
            Assert.Equal(expected.Weights(part).Names, actual.Weights(part).Names);
            foreach (var name in expected.Weights(part).Names)
            {
                var e = expected.Weights(part).Load(name);
                var a = actual.Weights(part).Load(name);
                Assert.Equal(e.Shape, a.Shape);
                Assert.Equal(WeightDType.F16, actual.Weights(part).Info(name).DType);
                // Every tiny-sd weight is exactly representable in fp16, so the fp16 pack is lossless.
                WeightAssert.ExactlyEqual($"{part.FolderName()}/{name}", e.Data, a.Data);
            }
        }
    }

    [Fact]
    public void PackedDiffusersFolderReopensWithEveryTensorAndConfigEqual()
    {
        string path = Pack(TestPaths.TinySdDiffusers, "pack-diffusers");
        using var original = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        using var packed = StableDiffusionCheckpoint.Open(path);
        Assert.Equal(CheckpointLayout.Packed, packed.Layout);
        AssertSameModel(original, packed);
        Assert.Equal(path + ".tokenizer", packed.TokenizerDirectory);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer", "vocab.json")), File.ReadAllBytes(Path.Combine(path + ".tokenizer", "vocab.json")));
        Assert.False(File.Exists(path + ".partial"));
    }

    [Fact]
    public void PackedLdmFileReopensEqualAndTakesTheGivenTokenizer()
    {
        string tokenizer = Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");
        string path = Pack(TestPaths.TinySdLdm, "pack-ldm", tokenizer);
        using var original = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm);
        using var packed = StableDiffusionCheckpoint.Open(path);
        AssertSameModel(original, packed);
        Assert.Equal(path + ".tokenizer", packed.TokenizerDirectory);
    }

    [Fact]
    public void TensorsAreAlignedTo256BytesAndHalfCopiesAreBitExact()
    {
        string path = Pack(TestPaths.TinySdLdm, "pack-align");
        var (header, dataStart) = ReadHeader(path);
        Assert.Equal(0, dataStart % 256);
        foreach (var tensor in header.RootElement.GetProperty("tensors").EnumerateArray())
            Assert.Equal(0, tensor.GetProperty("offset").GetInt64() % 256);

        using var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm);
        using var packed = StableDiffusionCheckpoint.Open(path);
        Assert.Null(packed.TokenizerDirectory);
        var name = "decoder.mid_block.attentions.0.to_v.weight";
        var expected = new Half[64 * 64];
        var actual = new Half[64 * 64];
        ((IHalfWeightSource)ldm.VaeWeights).LoadHalf(name, expected);
        ((IHalfWeightSource)packed.VaeWeights).LoadHalf(name, actual);
        Assert.Equal(expected.Select(BitConverter.HalfToUInt16Bits), actual.Select(BitConverter.HalfToUInt16Bits));
    }

    [Fact]
    public void ValueBeyondFp16RangeIsAnErrorNamingTheTensor()
    {
        string dir = TinyModelCopies.Create("pack-overflow", p => p == "vae/diffusion_pytorch_model.safetensors" ? null : p);
        using (var original = SafetensorsFile.Open(Path.Combine(TestPaths.TinySdDiffusers, "vae", "diffusion_pytorch_model.safetensors")))
            SafetensorsWriter.Write(Path.Combine(dir, "vae", "diffusion_pytorch_model.safetensors"), original.Header.Names.Select(n =>
                new SafetensorsTensor(n, original.Info(n).Shape, WeightDType.F32, d => { original.LoadInto(n, d); if (n == "quant_conv.bias") d[3] = 1e6f; })).ToList());
        string path = Path.Combine(TestPaths.NewTempDir("pack-overflow-out"), "x.iipw");
        using var checkpoint = StableDiffusionCheckpoint.Open(dir);
        var e = Assert.Throws<WeightException>(() => PackedWeightsWriter.Write(checkpoint, path));
        Assert.Contains("'quant_conv.bias' element 3 = 1000000 overflows fp16", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void TruncatedOrForeignPackedFilesAreRejected()
    {
        string path = Pack(TestPaths.TinySdLdm, "pack-corrupt");
        string dir = Path.GetDirectoryName(path)!;
        var bytes = File.ReadAllBytes(path);

        string truncated = Path.Combine(dir, "truncated.iipw");
        File.WriteAllBytes(truncated, bytes[..^300]);
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("out of range", e.Message);
        Assert.Contains("tensor '", e.Message);

        string badMagic = Path.Combine(dir, "magic.iipw");
        File.WriteAllBytes(badMagic, [.. "XXXX"u8, .. bytes[4..]]);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(badMagic));
        Assert.Contains("bad magic", e.Message);

        string future = Path.Combine(dir, "future.iipw");
        var futureBytes = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(futureBytes.AsSpan(4), 99);
        File.WriteAllBytes(future, futureBytes);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(future));
        Assert.Contains("version 99", e.Message);

        string misaligned = Path.Combine(dir, "misaligned.iipw");
        var (header, _) = ReadHeader(path);
        string json = header.RootElement.GetRawText();
        string first = header.RootElement.GetProperty("tensors")[1].GetRawText();
        string edited = json.Replace(first, first.Replace($"\"offset\":{header.RootElement.GetProperty("tensors")[1].GetProperty("offset").GetInt64()}", "\"offset\":8"));
        Assert.NotEqual(json, edited);
        WritePacked(misaligned, edited, bytes, ReadHeader(path).DataStart);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(misaligned));
        Assert.Contains("offset 8 is not 256-byte aligned", e.Message);
    }

    private static (JsonDocument Header, long DataStart) ReadHeader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8));
        return (JsonDocument.Parse(bytes.AsMemory(16, length)), (16 + length + 255) / 256 * 256);
    }

    /// <summary>Rewrites a packed file with another header JSON, keeping its data section.</summary>
    private static void WritePacked(string path, string json, byte[] original, long originalDataStart)
    {
        var header = Encoding.UTF8.GetBytes(json);
        long dataStart = (16 + header.Length + 255) / 256 * 256;
        var bytes = new byte[dataStart + (original.Length - originalDataStart)];
        original.AsSpan(0, 8).CopyTo(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), (ulong)header.Length);
        header.CopyTo(bytes, 16);
        original.AsSpan((int)originalDataStart).CopyTo(bytes.AsSpan((int)dataStart));
        File.WriteAllBytes(path, bytes);
    }
}
