using IIP.Engine.Weights;

namespace IIP.Cli.Tests.WeightConvert;

public sealed class PackCommandTests
{
    [Fact]
    public void PacksTheLdmFileWithATokenizerAndReopensEqual()
    {
        string tokenizer = Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");
        string path = Path.Combine(TestPaths.NewTempDir("pack-cli"), "tiny.iipw");
        var result = WeightConvertRunner.Run("pack", "--model", TestPaths.TinySdLdm, "--out", path, "--tokenizer", tokenizer);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("SingleFileLdm", result.Stdout);
        Assert.Contains("16,895,787 parameters", result.Stdout);

        using var packed = StableDiffusionCheckpoint.Open(path);
        using var diffusers = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Assert.Equal(CheckpointLayout.Packed, packed.Layout);
        Assert.Equal(path + ".tokenizer", packed.TokenizerDirectory);
        foreach (var part in ModelParts.All)
            foreach (var name in diffusers.Weights(part).Names)
                Assert.True(diffusers.Weights(part).Load(name).Data.AsSpan().SequenceEqual(packed.Weights(part).Load(name).Data),
                    $"{part.FolderName()}/{name} differs after ldm -> iipw");
    }

    [Fact]
    public void MissingModelIsOneErrorLine()
    {
        string missing = Path.Combine(TestPaths.NewTempDir("pack-missing"), "nothing-here");
        var result = WeightConvertRunner.Run("pack", "--model", missing, "--out", missing + ".iipw");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains(missing, result.Stderr);
        Assert.Contains("not found", result.Stderr);
    }
}
