using IIP.Engine.Configs;
using System.Text;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class DiffusersConfigTests
{
    private static string WriteJson(string json)
    {
        string path = Path.Combine(TestPaths.NewTempDir("config"), "config.json");
        File.WriteAllText(path, json, Encoding.UTF8);
        return path;
    }

    [Fact]
    public void HeadCountsPerLevelComeFromAttentionHeadDimOrNumAttentionHeads()
    {
        Assert.Equal([8, 8, 8, 8], DiffusersConfigs.ReadUNet(WriteJson("""{"attention_head_dim": 8}""")).Heads);
        Assert.Equal([5, 5, 5, 5], DiffusersConfigs.ReadUNet(WriteJson("""{"attention_head_dim": 8, "num_attention_heads": 5, "block_out_channels": [320, 640, 1280, 1280], "norm_num_groups": 32}""")).Heads);
        // SD 2.x: one head count per level (head size 64 at every level)
        var sd2 = DiffusersConfigs.ReadUNet(WriteJson("""{"attention_head_dim": [5, 10, 20, 20], "use_linear_projection": true, "upcast_attention": true, "cross_attention_dim": 1024}"""));
        Assert.Equal([5, 10, 20, 20], sd2.Heads);
        Assert.True(sd2.UseLinearProjection);
        Assert.True(sd2.UpcastAttention);
        Assert.False(DiffusersConfigs.ReadUNet(WriteJson("{}")).UseLinearProjection);
        var e = Assert.Throws<WeightException>(() => DiffusersConfigs.ReadUNet(WriteJson("""{"attention_head_dim": [8, 8]}""")));
        Assert.Contains("'attention_head_dim' has 2 values for 4 levels", e.Message);
        e = Assert.Throws<WeightException>(() => DiffusersConfigs.ReadUNet(WriteJson("""{"attention_head_dim": [8, 8, 8, 7]}""")));
        Assert.Contains("'block_out_channels'", e.Message);   // 1280 is not a multiple of 7 heads
    }

    [Theory]
    [InlineData("""{"class_embed_type": "timestep"}""", "'class_embed_type'")]
    [InlineData("""{"down_block_types": ["CrossAttnDownBlock2D", "SimpleDown", "DownBlock2D", "DownBlock2D"]}""", "'SimpleDown'")]
    [InlineData("""{"up_block_types": ["UpBlock2D"]}""", "has 1 entries but block_out_channels has 4")]
    [InlineData("""{"block_out_channels": [320, 650, 1280, 1280]}""", "'block_out_channels'")]
    [InlineData("""{"layers_per_block": "two"}""", "not an integer")]
    [InlineData("""{"in_channels": 4,""", "not valid JSON")]
    public void UnsupportedOrMalformedUNetConfigsAreRejectedByKey(string json, string expected)
    {
        string path = WriteJson(json);
        var e = Assert.Throws<WeightException>(() => DiffusersConfigs.ReadUNet(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SchedulerKeysThatAreAbsentTakeTheDdimClassDefaults()
    {
        var c = DiffusersConfigs.ReadScheduler(WriteJson("""{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}"""));
        Assert.True(c.ClipSample);
        Assert.True(c.SetAlphaToOne);
        Assert.Equal(0, c.StepsOffset);
        Assert.Equal(1000, c.TrainTimesteps);
        var e = Assert.Throws<WeightException>(() => DiffusersConfigs.ReadScheduler(WriteJson("""{"trained_betas": [0.1, 0.2]}""")));
        Assert.Contains("'trained_betas'", e.Message);
    }

    [Fact]
    public void WrittenConfigsReadBackEqual()
    {
        var unet = UNetConfig.StableDiffusionV14 with { BlockOutChannels = [64, 128], DownBlockHasAttention = [true, false], UpBlockHasAttention = [false, true], Heads = [4, 2], SampleSize = 24, TransformerLayersPerBlock = 2, UseLinearProjection = true, UpcastAttention = true };
        var vae = VaeConfig.StableDiffusionV14 with { BlockOutChannels = [32, 64], LatentChannels = 8, NormEps = 1e-5f };
        var text = TextEncoderConfig.StableDiffusionV14 with { HiddenAct = "gelu", Layers = 3 };
        var scheduler = SchedulerConfig.StableDiffusionV14 with { BetaSchedule = "linear", ClipSample = true, PredictionType = "v_prediction" };
        string dir = TestPaths.NewTempDir("config-write");
        string P(string n) => Path.Combine(dir, n);
        DiffusersConfigs.WriteFile(P("u.json"), w => DiffusersConfigs.WriteUNet(w, unet));
        DiffusersConfigs.WriteFile(P("v.json"), w => DiffusersConfigs.WriteVae(w, vae));
        DiffusersConfigs.WriteFile(P("t.json"), w => DiffusersConfigs.WriteTextEncoder(w, text));
        DiffusersConfigs.WriteFile(P("s.json"), w => DiffusersConfigs.WriteScheduler(w, scheduler));
        Assert.Equal(ConfigDescriptions.Describe(unet), ConfigDescriptions.Describe(DiffusersConfigs.ReadUNet(P("u.json"))));
        Assert.Equal(ConfigDescriptions.Describe(vae), ConfigDescriptions.Describe(DiffusersConfigs.ReadVae(P("v.json"))));
        Assert.Equal(ConfigDescriptions.Describe(text), ConfigDescriptions.Describe(DiffusersConfigs.ReadTextEncoder(P("t.json"))));
        Assert.Equal(ConfigDescriptions.Describe(scheduler), ConfigDescriptions.Describe(DiffusersConfigs.ReadScheduler(P("s.json"))));
    }
}
