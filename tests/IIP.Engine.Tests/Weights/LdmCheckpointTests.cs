using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class LdmCheckpointTests
{
    private static string TokenizerDir => Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");

    [Fact]
    public void TableMapsEveryLdmTensorExactlyOnceOntoTheDiffusersNames()
    {
        using var diffusers = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        using var file = SafetensorsFile.Open(TestPaths.TinySdLdm);
        var map = LdmKeyMap.For(diffusers.Unet, diffusers.Vae);

        var mapped = new Dictionary<string, string>(); // "part/diffusers name" -> LDM name
        var failures = new List<string>();
        foreach (var ldmName in file.Header.Names)
        {
            var matches = map.Matches(ldmName);
            if (matches.Count != 1)
            {
                failures.Add($"{ldmName}: {matches.Count} matches [{string.Join(", ", matches.Select(m => m.DiffusersName))}]");
                continue;
            }
            var (rule, name) = matches[0];
            Assert.Equal(LdmKeyMap.PartOf(ldmName), rule.Part);
            if (!mapped.TryAdd($"{rule.Part.FolderName()}/{name}", ldmName))
                failures.Add($"{ldmName}: {name} already mapped from {mapped[$"{rule.Part.FolderName()}/{name}"]}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} LDM names not mapped exactly once, e.g. {string.Join("; ", failures.Take(5))}");

        var golden = ModelParts.All.SelectMany(p => diffusers.Weights(p).Names.Select(n => $"{p.FolderName()}/{n}")).ToHashSet();
        var onlyMapped = mapped.Keys.Except(golden).Order().ToList();
        var notMapped = golden.Except(mapped.Keys).Order().ToList();
        Assert.True(onlyMapped.Count == 0 && notMapped.Count == 0,
            $"mapped but not in diffusers: {string.Join("; ", onlyMapped.Take(5))} ({onlyMapped.Count}); diffusers names nobody maps to: {string.Join("; ", notMapped.Take(5))} ({notMapped.Count})");
        Assert.Equal(966, mapped.Count);
    }

    [Fact]
    public void EveryMappedTensorIsBitwiseEqualToTheDiffusersFolder()
    {
        using var diffusers = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        using var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm);
        Assert.Equal(CheckpointLayout.SingleFileLdm, ldm.Layout);
        int compared = 0;
        foreach (var part in ModelParts.All)
        {
            var expected = diffusers.Weights(part);
            var actual = ldm.Weights(part);
            Assert.Equal(expected.Names.Order(), actual.Names.Order());
            foreach (var name in expected.Names)
            {
                var e = expected.Load(name);
                var a = actual.Load(name);
                Assert.True(e.Shape.SequenceEqual(a.Shape), $"{part.FolderName()}/{name}: shape [{a.ShapeText}], expected [{e.ShapeText}]");
                Assert.Equal(WeightDType.F16, actual.Info(name).DType);
                WeightAssert.ExactlyEqual($"{part.FolderName()}/{name}", e.Data, a.Data);
                compared++;
            }
        }
        Assert.Equal(966, compared);
        // The squeezed VAE attention weights: LDM [64, 64, 1, 1] conv and [64, 1, 1] bias read as a [64, 64] linear and [64].
        Assert.Equal([64, 64], ldm.VaeWeights.Info("decoder.mid_block.attentions.0.to_q.weight").Shape);
        Assert.Equal([64], ldm.VaeWeights.Info("decoder.mid_block.attentions.0.to_q.bias").Shape);
    }

    [Fact]
    public void InferredConfigsEqualTheDiffusersConfigs()
    {
        using var diffusers = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        using var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm);
        // Sample sizes are a training property, not stored in the weights: an LDM file reads as SD v1's 64 / 512.
        Assert.Equal(64, ldm.Unet.SampleSize);
        Assert.Equal(512, ldm.Vae.SampleSize);
        Assert.Equal(ConfigDescriptions.Describe(diffusers.Unet), ConfigDescriptions.Describe(ldm.Unet with { SampleSize = diffusers.Unet.SampleSize }));
        Assert.Equal(ConfigDescriptions.Describe(diffusers.Vae), ConfigDescriptions.Describe(ldm.Vae with { SampleSize = diffusers.Vae.SampleSize }));
        Assert.Equal(ConfigDescriptions.Describe(diffusers.TextEncoder), ConfigDescriptions.Describe(ldm.TextEncoder));
        Assert.Equal(ConfigDescriptions.Describe(diffusers.Scheduler), ConfigDescriptions.Describe(ldm.Scheduler));
    }

    [Fact]
    public void TokenizerFolderComesOnlyFromTheArgument()
    {
        using (var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm))
            Assert.Null(ldm.TokenizerDirectory);
        using (var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm, tokenizerDir: TokenizerDir))
            Assert.Equal(TokenizerDir, ldm.TokenizerDirectory);
    }

    /// <summary>The tiny LDM file plus <paramref name="extra"/> tensors, written to a temp file.</summary>
    private static string LdmWith(string tag, params SafetensorsTensor[] extra)
    {
        string path = Path.Combine(TestPaths.NewTempDir(tag), "model.safetensors");
        using var original = SafetensorsFile.Open(TestPaths.TinySdLdm);
        var tensors = original.Header.Names
            .Select(n => new SafetensorsTensor(n, original.Info(n).Shape, WeightDType.F16, d => original.LoadInto(n, d)))
            .Concat(extra).ToList();
        SafetensorsWriter.Write(path, tensors);
        return path;
    }

    private static SafetensorsTensor Filled(string name, int[] shape, WeightDType dtype = WeightDType.F16) =>
        new(name, shape, dtype, d => d.Fill(0.5f));

    [Fact]
    public void NonSdKeysAreSkippedNotUnknown()
    {
        string path = LdmWith("ldm-extra",
            Filled("model_ema.diffusion_modelinput_blocks00weight", [32, 4, 3, 3]),
            Filled("model_ema.num_updates", [], WeightDType.I64),
            Filled("betas", [1000], WeightDType.F32),
            Filled("alphas_cumprod", [1000], WeightDType.F32),
            Filled("cond_stage_model.transformer.text_model.embeddings.position_ids", [1, 77], WeightDType.I64));
        using var ldm = StableDiffusionCheckpoint.Open(path);
        Assert.Equal(686, ldm.UnetWeights.Names.Count);
        Assert.Equal(36, ldm.TextEncoderWeights.Names.Count);
    }

    [Fact]
    public void UnmappedTensorsUnderAPartPrefixAreUnknownByTheirLdmName()
    {
        string path = LdmWith("ldm-unknown",
            Filled("model.diffusion_model.input_blocks.1.0.in_layers.9.weight", [32]),
            Filled("first_stage_model.encoder.mid.attn_2.q.weight", [64, 64, 1, 1]));
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(path));
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains(new WeightProblem(ModelPart.Unet, WeightProblemKind.Unknown, "model.diffusion_model.input_blocks.1.0.in_layers.9.weight", "[32]"), e.Problems);
        Assert.Contains(new WeightProblem(ModelPart.Vae, WeightProblemKind.Unknown, "first_stage_model.encoder.mid.attn_2.q.weight", "[64, 64, 1, 1]"), e.Problems);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void DiffusersPartFileIsNotASingleFileCheckpoint()
    {
        string path = Path.Combine(TestPaths.TinySdDiffusers, "unet", "diffusion_pytorch_model.safetensors");
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not a single-file SD checkpoint", e.Message);
    }
}
