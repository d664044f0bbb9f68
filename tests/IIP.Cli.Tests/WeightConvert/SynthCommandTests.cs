using IIP.Engine.Tensors;
using IIP.Engine.Weights;
using IIP.WeightConvert;

namespace IIP.Cli.Tests.WeightConvert;

public sealed class SynthCommandTests
{
    private static string Synth(string tag, ulong seed, params string[] extra)
    {
        string dir = Path.Combine(TestPaths.NewTempDir(tag), "model");
        var result = WeightConvertRunner.Run(["synth", "--arch", "tiny", "--out", dir, "--seed", seed.ToString(), .. extra]);
        Assert.True(result.ExitCode == 0, $"synth failed ({result.ExitCode}): {result.Stderr}{result.Stdout}");
        return dir;
    }

    private static Dictionary<string, byte[]> Files(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    [Fact]
    public void SameSeedGivesByteIdenticalFilesAndAnotherSeedDoesNot()
    {
        var first = Files(Synth("synth-a", 7));
        var second = Files(Synth("synth-b", 7));
        var other = Files(Synth("synth-c", 8));
        Assert.Equal(first.Keys.Order(), second.Keys.Order());
        Assert.Contains("unet/diffusion_pytorch_model.safetensors", first.Keys);
        foreach (var (name, bytes) in first)
            Assert.True(bytes.AsSpan().SequenceEqual(second[name]), $"{name} differs between two runs with seed 7");
        Assert.False(first["unet/diffusion_pytorch_model.safetensors"].AsSpan().SequenceEqual(other["unet/diffusion_pytorch_model.safetensors"]));
        Assert.True(first["unet/config.json"].AsSpan().SequenceEqual(other["unet/config.json"]));
    }

    [Fact]
    public void TinySynthOpensWithTheGoldenTinyConfigsAsF16()
    {
        string dir = Synth("synth-open", 1, "--tokenizer", Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"));
        using var synth = StableDiffusionCheckpoint.Open(dir);
        using var golden = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Assert.Equal(ConfigDescriptions.Describe(golden.Unet), ConfigDescriptions.Describe(synth.Unet));
        Assert.Equal(ConfigDescriptions.Describe(golden.Vae), ConfigDescriptions.Describe(synth.Vae));
        Assert.Equal(ConfigDescriptions.Describe(golden.TextEncoder), ConfigDescriptions.Describe(synth.TextEncoder));
        Assert.Equal(ConfigDescriptions.Describe(golden.Scheduler), ConfigDescriptions.Describe(synth.Scheduler));
        Assert.Equal(WeightDType.F16, synth.UnetWeights.Info("conv_in.weight").DType);
        Assert.Equal(Path.Combine(dir, "tokenizer"), synth.TokenizerDirectory);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer", "merges.txt")), File.ReadAllBytes(Path.Combine(dir, "tokenizer", "merges.txt")));
    }

    [Fact]
    public void InitIsNormalWithStdOneOverSqrtFanInUnitNormsAndZeroBiases()
    {
        string dir = Synth("synth-init", 3);
        using var checkpoint = StableDiffusionCheckpoint.Open(dir);
        foreach (var part in ModelParts.All)
        {
            var weights = checkpoint.Weights(part);
            foreach (var name in weights.Names.Where(n => weights.Info(n).Shape.Length == 1))
            {
                float expected = name.EndsWith(".weight") ? 1f : 0f;
                var values = weights.Load(name).Data;
                int bad = Array.FindIndex(values, v => v != expected);
                Assert.True(bad < 0, $"{part.FolderName()}/{name}[{bad}] = {(bad < 0 ? 0 : values[bad])}, expected {expected}");
            }
        }

        // token_embedding [49408, 128]: n = 6.3M samples of N(0, 1/128).
        var tokens = checkpoint.TextEncoderWeights.Load("text_model.embeddings.token_embedding.weight").Data;
        CheckNormal("token_embedding", tokens, 1 / Math.Sqrt(128));
        // up_blocks.0.resnets.0.conv1.weight [128, 256, 3, 3]: fan_in 2304, n = 295k.
        var conv = checkpoint.UnetWeights.Load("up_blocks.0.resnets.0.conv1.weight");
        Assert.Equal([128, 256, 3, 3], conv.Shape);
        CheckNormal("conv1", conv.Data, 1 / Math.Sqrt(256 * 9));
    }

    private static void CheckNormal(string what, float[] values, double std)
    {
        int n = values.Length;
        double mean = values.Average(v => (double)v);
        double sampleStd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        double withinOneStd = values.Count(v => Math.Abs(v) <= std) / (double)n;
        // Mean: 5 standard errors (std / sqrt n). Sample std: its standard error is std / sqrt(2n) (<= 0.13% here),
        // fp16 storage adds < 0.05% relative error, so 1% is far outside chance. P(|z| <= 1) = 0.6827 for a
        // normal (0.577 for a uniform of equal variance); binomial standard error <= 0.001, bound 0.006.
        Assert.True(Math.Abs(mean) < 5 * std / Math.Sqrt(n), $"{what}: mean {mean}, std {std}, n {n}");
        Assert.True(Math.Abs(sampleStd / std - 1) < 0.01, $"{what}: sample std {sampleStd}, expected {std}");
        Assert.True(Math.Abs(withinOneStd - 0.6827) < 0.006, $"{what}: fraction within one std {withinOneStd}, normal 0.6827");
    }

    [Fact]
    public void StableDiffusionV14ArchitectureHasTheReleasedParameterCounts()
    {
        // Counted from the shapes synth writes, without writing the 2.1 GB checkpoint.
        var arch = SynthArchitecture.Get("sd-v1.4");
        Assert.Equal(859_520_964, SdParameterShapes.Count(SdParameterShapes.Unet(arch.Unet)));
        Assert.Equal(83_653_863, SdParameterShapes.Count(SdParameterShapes.Vae(arch.Vae)));
        Assert.Equal(123_060_480, SdParameterShapes.Count(SdParameterShapes.TextEncoder(arch.TextEncoder)));
    }

    [Fact]
    public void StableDiffusionV21ArchitectureHasTheReleasedParameterCounts()
    {
        // SD 2.1's UNet (865,910,724: linear projections hold as many parameters as 1x1 convolutions, cross-attention 1024)
        // and its text encoder as diffusers stores it (OpenCLIP ViT-H's text transformer without the last block: 340,387,840)
        var arch = SynthArchitecture.Get("sd-v2.1");
        Assert.Equal(865_910_724, SdParameterShapes.Count(SdParameterShapes.Unet(arch.Unet)));
        Assert.Equal(83_653_863, SdParameterShapes.Count(SdParameterShapes.Vae(arch.Vae)));
        Assert.Equal(340_387_840, SdParameterShapes.Count(SdParameterShapes.TextEncoder(arch.TextEncoder)));
        Assert.Equal([5, 10, 20, 20], arch.Unet.Heads);
        Assert.Equal("v_prediction", arch.Scheduler.PredictionType);
    }

    [Fact]
    public void UnknownArchitectureAndMissingOutAreRejected()
    {
        var result = WeightConvertRunner.Run("synth", "--arch", "sd-v2", "--out", TestPaths.NewTempDir("synth-bad"));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("sd-v2", result.Stderr);
        result = WeightConvertRunner.Run("synth", "--arch", "tiny");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--out", result.Stderr);
    }

    [Theory]
    [InlineData("synth", "--arch", "--seed", "--tokenizer")]
    [InlineData("pack", "--model", "--out", "--tokenizer")]
    public void HelpListsTheOptions(string verb, params string[] options)
    {
        var result = WeightConvertRunner.Run(verb, "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var option in options)
            Assert.Contains(option, result.Stdout);
        var root = WeightConvertRunner.Run("--help");
        Assert.Contains(verb, root.Stdout);
    }
}
