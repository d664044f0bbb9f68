using IIP.Engine.Configs;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class DiffusersCheckpointTests
{
    [Fact]
    public void OpensTheTinyDiffusersFolderWithItsConfigs()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Assert.Equal(CheckpointLayout.Diffusers, checkpoint.Layout);

        // Values as written in the golden folder's config.json files.
        var unet = checkpoint.Unet;
        Assert.Equal([32, 64, 128, 128], unet.BlockOutChannels);
        Assert.Equal([true, true, true, false], unet.DownBlockHasAttention);
        Assert.Equal([false, true, true, true], unet.UpBlockHasAttention);
        Assert.Equal([8, 8, 8, 8], unet.Heads); // attention_head_dim: 8 means 8 heads in SD v1 configs
        Assert.Equal(128, unet.CrossAttentionDim);
        Assert.Equal(16, unet.SampleSize);
        Assert.Equal(2, unet.LayersPerBlock);
        Assert.Equal(1e-5f, unet.NormEps);

        var vae = checkpoint.Vae;
        Assert.Equal([32, 32, 64, 64], vae.BlockOutChannels);
        Assert.Equal(4, vae.LatentChannels);
        Assert.Equal(1e-6f, vae.NormEps); // absent in the file: AutoencoderKL's fixed 1e-6
        Assert.Equal(0.18215f, vae.ScalingFactor);
        Assert.Equal(128, vae.SampleSize);

        var text = checkpoint.TextEncoder;
        Assert.Equal((49408, 128, 512, 2, 2, 77, "quick_gelu"),
            (text.VocabSize, text.HiddenSize, text.IntermediateSize, text.Layers, text.Heads, text.MaxPositions, text.HiddenAct));

        Assert.Equal(ConfigDescriptions.Describe(SchedulerConfig.StableDiffusionV14), ConfigDescriptions.Describe(checkpoint.Scheduler));

        Assert.Equal(686, checkpoint.UnetWeights.Names.Count);
        Assert.Equal(244, checkpoint.VaeWeights.Names.Count);
        Assert.Equal(36, checkpoint.TextEncoderWeights.Names.Count);
        Assert.Equal([32, 4, 3, 3], checkpoint.UnetWeights.Load("conv_in.weight").Shape);
        Assert.Equal([49408, 128], checkpoint.TextEncoderWeights.Load("text_model.embeddings.token_embedding.weight").Shape);
        Assert.Equal(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"), checkpoint.TokenizerDirectory);
    }

    [Fact]
    public void FallsBackToFp16VariantFilesAndHonoursAForcedVariant()
    {
        string dir = TinyModelCopies.Create("variant", p => p.Replace(".safetensors", ".fp16.safetensors"));
        using (var checkpoint = StableDiffusionCheckpoint.Open(dir))
            Assert.EndsWith(Path.Combine("unet", "diffusion_pytorch_model.fp16.safetensors"), checkpoint.UnetWeights.Origin);
        using (var checkpoint = StableDiffusionCheckpoint.Open(dir, variant: "fp16"))
            Assert.EndsWith(Path.Combine("text_encoder", "model.fp16.safetensors"), checkpoint.TextEncoderWeights.Origin);

        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(dir, variant: "ema"));
        Assert.Contains("diffusion_pytorch_model.ema.safetensors", e.Message);
        Assert.Contains("no weights file", e.Message);
    }

    [Fact]
    public void PrefersThePlainFileOverTheFp16Variant()
    {
        // Both names present: the plain unet file is the fp32 original, the fp16-named one an F16 copy of it.
        string dir = TinyModelCopies.Create("prefer");
        using (var original = SafetensorsFile.Open(Path.Combine(TestPaths.TinySdDiffusers, "unet", "diffusion_pytorch_model.safetensors")))
            SafetensorsWriter.Write(Path.Combine(dir, "unet", "diffusion_pytorch_model.fp16.safetensors"),
                original.Header.Names.Select(n => new SafetensorsTensor(n, original.Info(n).Shape, WeightDType.F16, d => original.LoadInto(n, d))).ToList());
        using (var checkpoint = StableDiffusionCheckpoint.Open(dir))
            Assert.Equal(WeightDType.F32, checkpoint.UnetWeights.Info("conv_in.weight").DType);
        foreach (var part in new[] { "vae/diffusion_pytorch_model", "text_encoder/model" })
            File.CreateSymbolicLink(Path.Combine(dir, part + ".fp16.safetensors"), Path.Combine(TestPaths.TinySdDiffusers, part + ".safetensors"));
        using (var checkpoint = StableDiffusionCheckpoint.Open(dir, variant: "fp16"))
            Assert.Equal(WeightDType.F16, checkpoint.UnetWeights.Info("conv_in.weight").DType);
    }

    [Fact]
    public void MissingPiecesAreNamed()
    {
        string nowhere = Path.Combine(TestPaths.NewTempDir("missing"), "no-such-model");
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(nowhere));
        Assert.Contains(nowhere, e.Message);
        Assert.Contains("not found", e.Message);

        string noVae = TinyModelCopies.Create("novae", p => p.StartsWith("vae") ? null : p);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(noVae));
        Assert.Contains("vae/config.json", e.Message);

        string noWeights = TinyModelCopies.Create("noweights", p => p.EndsWith("model.safetensors") && p.StartsWith("text_encoder") ? null : p);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(noWeights));
        Assert.Contains("text_encoder", e.Message);
        Assert.Contains("model.safetensors", e.Message);

        string noScheduler = TinyModelCopies.Create("nosched", p => p.StartsWith("scheduler") ? null : p);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(noScheduler));
        Assert.Contains("scheduler/scheduler_config.json", e.Message);

        string noTokenizer = TinyModelCopies.Create("notok", p => p.StartsWith("tokenizer") ? null : p);
        using (var checkpoint = StableDiffusionCheckpoint.Open(noTokenizer))
            Assert.Null(checkpoint.TokenizerDirectory);
        using (var checkpoint = StableDiffusionCheckpoint.Open(noTokenizer, tokenizerDir: Path.Combine(TestPaths.TinySdDiffusers, "tokenizer")))
            Assert.Equal(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"), checkpoint.TokenizerDirectory);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(noTokenizer, tokenizerDir: noTokenizer));
        Assert.Contains("vocab.json", e.Message);
    }
}
