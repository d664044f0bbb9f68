using IIP.Engine.Configs;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

/// <summary>
/// SD 2.x single files: tiny-sd2's fp16 LDM file reads as its diffusers folder tensor for tensor (the OpenCLIP text encoder
/// renamed and split, its last block and image-text head skipped), the configs SD 2.x implies are inferred from shapes,
/// and what no single file records (v-prediction, head counts of a model that is not SD-sized) is asked for.
/// </summary>
public class Sd2SingleFileTests
{
    private static readonly CheckpointOverrides Tiny = new(ConfigDirectory: TestPaths.TinySd2Diffusers);

    [Fact]
    public void EveryTensorEqualsTheDiffusersFolderBitForBit()
    {
        using var diffusers = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers);
        using var ldm = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Ldm, overrides: Tiny);
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
                WeightAssert.ExactlyEqual($"{part.FolderName()}/{name}", e.Data, a.Data);
                compared++;
            }
        }
        Assert.Equal(684 + 244 + 36, compared);   // the text encoder's 2 used blocks of the 3 stored, without text_projection and logit_scale
        // the fp16 path (the CUDA backend's one-pass upload) splits the fused projection the same way
        var half = new Half[64 * 64];
        ((IHalfWeightSource)ldm.TextEncoderWeights).LoadHalf("text_model.encoder.layers.1.self_attn.v_proj.weight", half);
        Assert.Equal(diffusers.TextEncoderWeights.Load("text_model.encoder.layers.1.self_attn.v_proj.weight").Data, half.Select(h => (float)h));
    }

    [Fact]
    public void TheTextEncoderIsInferredAsSd2sAndTheUNetsHeadsAsSd2sHeadSize()
    {
        using var file = SafetensorsFile.Open(TestPaths.TinySd2Ldm);
        var shapes = file.Header.Entries.ToDictionary(e => e.Key, e => e.Value.Info.Shape, StringComparer.Ordinal);
        var text = LdmConfigInference.InferTextEncoder(file.Origin, shapes);
        Assert.Equal((64, 256, 2, "gelu", 1, 77), (text.HiddenSize, text.IntermediateSize, text.Layers, text.HiddenAct, text.Heads, text.MaxPositions));
        // tiny-sd2's UNet is 32 wide at its first level: not SD 2.x's head size 64, so the loader asks for the configs
        var e = Assert.Throws<WeightException>(() => LdmConfigInference.InferUNet(file.Origin, shapes));
        Assert.Contains("UNet width 32 is not a multiple of SD 2.x's head size 64", e.Message);
        Assert.Contains("--model-config", e.Message);
    }

    [Fact]
    public void AnSdSizedUNetWithLinearProjectionsGetsHeadSize64AtEveryLevel()
    {
        // the tensors inference reads, for a 2-level UNet 128/256 wide with attention at both levels (SD 2.x's widths are 320..1280)
        const string U = "model.diffusion_model.";
        var shapes = new Dictionary<string, int[]>
        {
            [$"{U}input_blocks.0.0.weight"] = [128, 4, 3, 3],
            [$"{U}input_blocks.1.0.out_layers.3.weight"] = [128, 128, 3, 3],
            [$"{U}input_blocks.1.1.proj_in.weight"] = [128, 128],
            [$"{U}input_blocks.2.0.op.weight"] = [128, 128, 3, 3],
            [$"{U}input_blocks.3.0.out_layers.3.weight"] = [256, 256, 3, 3],
            [$"{U}input_blocks.3.1.proj_in.weight"] = [256, 256],
            [$"{U}middle_block.1.proj_in.weight"] = [256, 256],
            [$"{U}middle_block.1.transformer_blocks.0.attn2.to_k.weight"] = [256, 1024],
            [$"{U}output_blocks.0.1.proj_in.weight"] = [256, 256],
            [$"{U}output_blocks.2.1.proj_in.weight"] = [128, 128],
            [$"{U}out.2.weight"] = [4, 128, 3, 3],
        };
        var unet = LdmConfigInference.InferUNet("synthetic", shapes);
        Assert.True(unet.UseLinearProjection);
        Assert.Equal([2, 4], unet.Heads);
        Assert.Equal(1024, unet.CrossAttentionDim);
        // the same with SD v1's 1x1-convolution projections: 8 heads at every level
        foreach (var key in shapes.Keys.Where(k => k.EndsWith("proj_in.weight", StringComparison.Ordinal)).ToList())
            shapes[key] = [.. shapes[key], 1, 1];
        var v1 = LdmConfigInference.InferUNet("synthetic", shapes);
        Assert.False(v1.UseLinearProjection);
        Assert.Equal([8, 8], v1.Heads);
    }

    [Fact]
    public void WhatASingleFileCannotSayIsAskedForOrGiven()
    {
        // v-prediction is not in the weights: the loader asks rather than guess
        string configs = TestPaths.NewTempDir("sd2-unet-config");
        Directory.CreateDirectory(Path.Combine(configs, "unet"));
        File.Copy(Path.Combine(TestPaths.TinySd2Diffusers, "unet", "config.json"), Path.Combine(configs, "unet", "config.json"));
        Directory.CreateDirectory(Path.Combine(configs, "text_encoder"));
        File.Copy(Path.Combine(TestPaths.TinySd2Diffusers, "text_encoder", "config.json"), Path.Combine(configs, "text_encoder", "config.json"));
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(TestPaths.TinySd2Ldm, overrides: new(configs)));
        Assert.Contains("--prediction-type v_prediction", e.Message);
        using (var given = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Ldm, overrides: new(configs, "v_prediction")))
            Assert.Equal("v_prediction", given.Scheduler.PredictionType);
        // the prediction type also overrides a diffusers folder's scheduler; a config folder does not apply there
        using (var folder = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers, overrides: new(PredictionType: "epsilon")))
            Assert.Equal("epsilon", folder.Scheduler.PredictionType);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers, overrides: Tiny));
        Assert.Contains("--model-config is for single-file checkpoints", e.Message);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(TestPaths.TinySd2Ldm, overrides: new("/nonexistent/configs")));
        Assert.Contains("/nonexistent/configs: the config folder (--model-config) does not exist", e.Message);
        e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(TestPaths.TinySd2Ldm, overrides: new(configs, "x_prediction")));
        Assert.Contains("'x_prediction' is not one of epsilon, v_prediction", e.Message);
        // an SD v1 single file needs nothing: epsilon, as SD v1 always is
        using var v1 = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm);
        Assert.Equal("epsilon", v1.Scheduler.PredictionType);
    }

    [Fact]
    public void AVPredictionSingleFileIsA768ModelAndAnEpsilonOneA512Model()
    {
        // SD 2.0-v / 2.1 are trained at 768 x 768; the 512-base models predict the noise. No single file records either.
        var sd2 = UNetConfig.StableDiffusionV14 with { UseLinearProjection = true, Heads = [5, 10, 20, 20], CrossAttentionDim = 1024 };
        var (unet, vae, _, scheduler) = new CheckpointOverrides(PredictionType: "v_prediction").Apply("sd21.safetensors", sd2,
            VaeConfig.StableDiffusionV14, TextEncoderConfig.StableDiffusionV14, SchedulerConfig.StableDiffusionV14, schedulerGiven: false);
        Assert.Equal((96, 768, "v_prediction"), (unet.SampleSize, vae.SampleSize, scheduler.PredictionType));
        (unet, vae, _, _) = new CheckpointOverrides(PredictionType: "epsilon").Apply("sd21-base.safetensors", sd2,
            VaeConfig.StableDiffusionV14, TextEncoderConfig.StableDiffusionV14, SchedulerConfig.StableDiffusionV14, schedulerGiven: false);
        Assert.Equal((64, 512), (unet.SampleSize, vae.SampleSize));
        // a diffusers folder's own sizes stand
        (unet, _, _, _) = new CheckpointOverrides(PredictionType: "v_prediction").Apply("folder", sd2 with { SampleSize = 16 },
            VaeConfig.StableDiffusionV14, TextEncoderConfig.StableDiffusionV14, SchedulerConfig.StableDiffusionV14, schedulerGiven: true);
        Assert.Equal(16, unet.SampleSize);
    }

    [Fact]
    public void TheFingerprintCoversWhatTheOverridesChange()
    {
        string plain = ModelFingerprint.Compute(TestPaths.TinySd2Ldm);
        string withConfigs = ModelFingerprint.Compute(TestPaths.TinySd2Ldm, Tiny);
        string asEpsilon = ModelFingerprint.Compute(TestPaths.TinySd2Ldm, Tiny with { PredictionType = "epsilon" });
        Assert.Equal(3, new[] { plain, withConfigs, asEpsilon }.Distinct().Count());
        Assert.Equal(withConfigs, ModelFingerprint.Compute(TestPaths.TinySd2Ldm, Tiny));
    }
}
