using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

/// <summary>
/// <see cref="ModelFingerprint"/> keys results and caches: it must change with anything that changes what the model
/// computes on a caption (the tokenizer folder a single-file checkpoint is read with) and stay as it was where nothing
/// changed (a diffusers folder's own tokenizer, hashed with its files already).
/// </summary>
public sealed class ModelFingerprintTests
{
    [Fact]
    public void AnOutsideTokenizerIsPartOfTheFingerprint()
    {
        string dir = TestPaths.NewTempDir("fingerprint");
        try
        {
            string own = Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");
            string copy = Path.Combine(dir, "tokenizer");
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(own)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));

            string plain = ModelFingerprint.Compute(TestPaths.TinySdLdm);
            string withOwn = ModelFingerprint.Compute(TestPaths.TinySdLdm, tokenizerDirectory: own);
            Assert.NotEqual(plain, withOwn);
            // the same files elsewhere are the same tokenizer
            Assert.Equal(withOwn, ModelFingerprint.Compute(TestPaths.TinySdLdm, tokenizerDirectory: copy));

            // one merge rule fewer tokenizes some captions otherwise: another model
            var merges = File.ReadAllLines(Path.Combine(copy, "merges.txt"));
            File.WriteAllLines(Path.Combine(copy, "merges.txt"), merges[..^1]);
            Assert.NotEqual(withOwn, ModelFingerprint.Compute(TestPaths.TinySdLdm, tokenizerDirectory: copy));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ADiffusersFoldersOwnTokenizerLeavesTheFingerprintAsItWas()
    {
        string plain = ModelFingerprint.Compute(TestPaths.TinySdDiffusers);
        Assert.Equal(plain, ModelFingerprint.Compute(TestPaths.TinySdDiffusers, tokenizerDirectory: Path.Combine(TestPaths.TinySdDiffusers, "tokenizer")));
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Assert.Equal(plain, ModelFingerprint.Compute(checkpoint));
    }

    [Fact]
    public void AnOpenedSingleFileCheckpointIsFingerprintedWithTheTokenizerItWasGiven()
    {
        string own = Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm, own);
        Assert.Equal(ModelFingerprint.Compute(TestPaths.TinySdLdm, tokenizerDirectory: own), ModelFingerprint.Compute(checkpoint));
    }
}
