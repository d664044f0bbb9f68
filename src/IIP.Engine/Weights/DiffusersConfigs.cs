using IIP.Engine.Configs;
using System.Text.Json;

namespace IIP.Engine.Weights;

/// <summary>
/// Reads and writes the diffusers / transformers config.json files of an SD v1 pipeline as the engine's
/// config records. Absent keys take the SD v1.4 values of the records, except the scheduler, whose absent
/// keys take the DDIMScheduler class defaults (as diffusers' from_config would). SD 2.x's options (head counts per
/// level, linear proj_in / proj_out, upcast attention, exact GELU, v-prediction) are read; options that change the
/// architecture away from SD v1 and v2 (class embeddings, ...) are rejected by name.
/// </summary>
public static class DiffusersConfigs
{
    public const string CrossAttnDownBlock = "CrossAttnDownBlock2D";
    public const string DownBlock = "DownBlock2D";
    public const string CrossAttnUpBlock = "CrossAttnUpBlock2D";
    public const string UpBlock = "UpBlock2D";

    public static UNetConfig ReadUNet(string path)
    {
        using var json = ConfigJson.Load(path);
        return ReadUNet(json);
    }

    internal static UNetConfig ReadUNet(ConfigJson json)
    {
        var d = UNetConfig.StableDiffusionV14;
        RejectUnless(json, "center_input_sample", false);
        RejectUnless(json, "only_cross_attention", false);
        RejectUnless(json, "dual_cross_attention", false);
        RejectUnlessString(json, "act_fn", "silu");
        RejectUnlessString(json, "time_embedding_type", "positional");
        RejectUnlessString(json, "mid_block_type", "UNetMidBlock2DCrossAttn");
        RejectUnlessString(json, "resnet_time_scale_shift", "default");
        foreach (var key in new[] { "class_embed_type", "addition_embed_type", "encoder_hid_dim", "time_cond_proj_dim", "num_class_embeds" })
            if (json.Has(key)) throw json.Error(key, "is set; SD v1 UNets have none (not supported)");
        if (json.Int("downsample_padding", 1) != 1) throw json.Error("downsample_padding", "must be 1 for SD v1");
        if (json.Double("mid_block_scale_factor", 1) != 1) throw json.Error("mid_block_scale_factor", "must be 1 for SD v1");

        var channels = json.IntArray("block_out_channels", d.BlockOutChannels);
        var down = BlockFlags(json, "down_block_types", CrossAttnDownBlock, DownBlock, d.DownBlockHasAttention, channels.Length);
        var up = BlockFlags(json, "up_block_types", CrossAttnUpBlock, UpBlock, d.UpBlockHasAttention, channels.Length);
        // SD v1 and v2 configs call the head count "attention_head_dim" (8 heads, not head size 8; SD 2.x a list per
        // level); a num_attention_heads entry, where present, is the head count under its proper name.
        string headsKey = json.Has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
        var heads = json.PerLevelInt(headsKey, channels.Length, d.Heads);
        var config = new UNetConfig
        {
            InChannels = json.Int("in_channels", d.InChannels),
            OutChannels = json.Int("out_channels", d.OutChannels),
            SampleSize = json.Int("sample_size", d.SampleSize),
            BlockOutChannels = channels,
            DownBlockHasAttention = down,
            UpBlockHasAttention = up,
            LayersPerBlock = json.UniformInt("layers_per_block", d.LayersPerBlock),
            NormGroups = json.Int("norm_num_groups", d.NormGroups),
            NormEps = json.Float("norm_eps", d.NormEps),
            CrossAttentionDim = json.UniformInt("cross_attention_dim", d.CrossAttentionDim),
            Heads = heads,
            UseLinearProjection = json.Bool("use_linear_projection", false),
            UpcastAttention = json.Bool("upcast_attention", false),
            FlipSinToCos = json.Bool("flip_sin_to_cos", d.FlipSinToCos),
            FreqShift = json.Float("freq_shift", d.FreqShift),
            TransformerLayersPerBlock = json.UniformInt("transformer_layers_per_block", d.TransformerLayersPerBlock),
        };
        CheckPositive(json, "layers_per_block", config.LayersPerBlock);
        CheckPositive(json, "norm_num_groups", config.NormGroups);   // before the channel check divides by it
        foreach (int h in config.Heads) CheckPositive(json, headsKey, h);
        CheckPositive(json, "transformer_layers_per_block", config.TransformerLayersPerBlock);
        CheckPositive(json, "cross_attention_dim", config.CrossAttentionDim);
        if (channels.Length == 0 || channels.Select((c, i) => c <= 0 || c % config.NormGroups != 0 || c % config.Heads[i] != 0).Any(bad => bad))
            throw json.Error("block_out_channels", $"[{string.Join(", ", channels)}] must be positive multiples of norm_num_groups {config.NormGroups} and of each level's heads [{string.Join(", ", config.Heads)}]");
        return config;
    }

    public static VaeConfig ReadVae(string path)
    {
        using var json = ConfigJson.Load(path);
        return ReadVae(json);
    }

    internal static VaeConfig ReadVae(ConfigJson json)
    {
        var d = VaeConfig.StableDiffusionV14;
        RejectUnlessString(json, "act_fn", "silu");
        var channels = json.IntArray("block_out_channels", d.BlockOutChannels);
        CheckBlockTypes(json, "down_block_types", "DownEncoderBlock2D", channels.Length);
        CheckBlockTypes(json, "up_block_types", "UpDecoderBlock2D", channels.Length);
        var config = new VaeConfig
        {
            InChannels = json.Int("in_channels", d.InChannels),
            OutChannels = json.Int("out_channels", d.OutChannels),
            BlockOutChannels = channels,
            LayersPerBlock = json.Int("layers_per_block", d.LayersPerBlock),
            LatentChannels = json.Int("latent_channels", d.LatentChannels),
            NormGroups = json.Int("norm_num_groups", d.NormGroups),
            NormEps = json.Float("norm_eps", d.NormEps),
            ScalingFactor = json.Float("scaling_factor", d.ScalingFactor),
            SampleSize = json.Int("sample_size", d.SampleSize),
        };
        CheckPositive(json, "layers_per_block", config.LayersPerBlock);
        CheckPositive(json, "norm_num_groups", config.NormGroups);   // before the channel check divides by it
        CheckPositive(json, "latent_channels", config.LatentChannels);
        if (channels.Length == 0 || channels.Any(c => c <= 0 || c % config.NormGroups != 0))
            throw json.Error("block_out_channels", $"[{string.Join(", ", channels)}] must be positive multiples of norm_num_groups {config.NormGroups}");
        return config;
    }

    public static TextEncoderConfig ReadTextEncoder(string path)
    {
        using var json = ConfigJson.Load(path);
        return ReadTextEncoder(json);
    }

    internal static TextEncoderConfig ReadTextEncoder(ConfigJson json)
    {
        var d = TextEncoderConfig.StableDiffusionV14;
        var config = new TextEncoderConfig
        {
            VocabSize = json.Int("vocab_size", d.VocabSize),
            HiddenSize = json.Int("hidden_size", d.HiddenSize),
            IntermediateSize = json.Int("intermediate_size", d.IntermediateSize),
            Layers = json.Int("num_hidden_layers", d.Layers),
            Heads = json.Int("num_attention_heads", d.Heads),
            MaxPositions = json.Int("max_position_embeddings", d.MaxPositions),
            LayerNormEps = json.Float("layer_norm_eps", d.LayerNormEps),
            HiddenAct = json.String("hidden_act", d.HiddenAct)!,
        };
        if (config.HiddenAct is not ("quick_gelu" or "gelu"))
            throw json.Error("hidden_act", $"is '{config.HiddenAct}'; supported: quick_gelu, gelu");
        CheckPositive(json, "num_attention_heads", config.Heads);
        if (config.HiddenSize <= 0 || config.HiddenSize % config.Heads != 0)
            throw json.Error("hidden_size", $"{config.HiddenSize} is not a positive multiple of num_attention_heads {config.Heads}");
        return config;
    }

    public static SchedulerConfig ReadScheduler(string path)
    {
        using var json = ConfigJson.Load(path);
        return ReadScheduler(json);
    }

    internal static SchedulerConfig ReadScheduler(ConfigJson json)
    {
        if (json.Has("trained_betas"))
            throw json.Error("trained_betas", "is set; only beta schedules (scaled_linear, linear) are supported");
        // Absent keys: DDIMScheduler.__init__ defaults (clip_sample true, set_alpha_to_one true, steps_offset 0).
        var config = new SchedulerConfig
        {
            TrainTimesteps = json.Int("num_train_timesteps", 1000),
            BetaStart = json.Double("beta_start", 0.0001),
            BetaEnd = json.Double("beta_end", 0.02),
            BetaSchedule = json.String("beta_schedule", "linear")!,
            SetAlphaToOne = json.Bool("set_alpha_to_one", true),
            StepsOffset = json.Int("steps_offset", 0),
            ClipSample = json.Bool("clip_sample", true),
            PredictionType = json.String("prediction_type", "epsilon")!,
        };
        if (config.BetaSchedule is not ("scaled_linear" or "linear"))
            throw json.Error("beta_schedule", $"is '{config.BetaSchedule}'; supported: scaled_linear, linear");
        CheckPositive(json, "num_train_timesteps", config.TrainTimesteps);
        return config;
    }

    public static void WriteUNet(Utf8JsonWriter w, UNetConfig c)
    {
        w.WriteStartObject();
        w.WriteString("_class_name", "UNet2DConditionModel");
        w.WriteNumber("sample_size", c.SampleSize);
        w.WriteNumber("in_channels", c.InChannels);
        w.WriteNumber("out_channels", c.OutChannels);
        w.WriteBoolean("center_input_sample", false);
        w.WriteBoolean("flip_sin_to_cos", c.FlipSinToCos);
        w.WriteNumber("freq_shift", c.FreqShift);
        WriteStrings(w, "down_block_types", c.DownBlockHasAttention.Select(a => a ? CrossAttnDownBlock : DownBlock));
        WriteStrings(w, "up_block_types", c.UpBlockHasAttention.Select(a => a ? CrossAttnUpBlock : UpBlock));
        WriteInts(w, "block_out_channels", c.BlockOutChannels);
        w.WriteNumber("layers_per_block", c.LayersPerBlock);
        w.WriteNumber("downsample_padding", 1);
        w.WriteNumber("mid_block_scale_factor", 1);
        w.WriteString("act_fn", "silu");
        w.WriteNumber("norm_num_groups", c.NormGroups);
        w.WriteNumber("norm_eps", c.NormEps);
        w.WriteNumber("cross_attention_dim", c.CrossAttentionDim);
        if (c.Heads.All(h => h == c.Heads[0])) w.WriteNumber("attention_head_dim", c.Heads[0]);
        else WriteInts(w, "attention_head_dim", c.Heads);
        w.WriteBoolean("use_linear_projection", c.UseLinearProjection);
        w.WriteBoolean("upcast_attention", c.UpcastAttention);
        w.WriteNumber("transformer_layers_per_block", c.TransformerLayersPerBlock);
        w.WriteEndObject();
    }

    public static void WriteVae(Utf8JsonWriter w, VaeConfig c)
    {
        w.WriteStartObject();
        w.WriteString("_class_name", "AutoencoderKL");
        w.WriteNumber("in_channels", c.InChannels);
        w.WriteNumber("out_channels", c.OutChannels);
        WriteStrings(w, "down_block_types", c.BlockOutChannels.Select(_ => "DownEncoderBlock2D"));
        WriteStrings(w, "up_block_types", c.BlockOutChannels.Select(_ => "UpDecoderBlock2D"));
        WriteInts(w, "block_out_channels", c.BlockOutChannels);
        w.WriteNumber("layers_per_block", c.LayersPerBlock);
        w.WriteString("act_fn", "silu");
        w.WriteNumber("latent_channels", c.LatentChannels);
        w.WriteNumber("norm_num_groups", c.NormGroups);
        w.WriteNumber("norm_eps", c.NormEps);
        w.WriteNumber("sample_size", c.SampleSize);
        w.WriteNumber("scaling_factor", c.ScalingFactor);
        w.WriteEndObject();
    }

    public static void WriteTextEncoder(Utf8JsonWriter w, TextEncoderConfig c)
    {
        w.WriteStartObject();
        w.WriteString("model_type", "clip_text_model");
        WriteStrings(w, "architectures", ["CLIPTextModel"]);
        w.WriteNumber("vocab_size", c.VocabSize);
        w.WriteNumber("hidden_size", c.HiddenSize);
        w.WriteNumber("intermediate_size", c.IntermediateSize);
        w.WriteNumber("num_hidden_layers", c.Layers);
        w.WriteNumber("num_attention_heads", c.Heads);
        w.WriteNumber("max_position_embeddings", c.MaxPositions);
        w.WriteString("hidden_act", c.HiddenAct);
        w.WriteNumber("layer_norm_eps", c.LayerNormEps);
        w.WriteEndObject();
    }

    public static void WriteScheduler(Utf8JsonWriter w, SchedulerConfig c)
    {
        w.WriteStartObject();
        w.WriteString("_class_name", "DDIMScheduler");
        w.WriteNumber("num_train_timesteps", c.TrainTimesteps);
        w.WriteNumber("beta_start", c.BetaStart);
        w.WriteNumber("beta_end", c.BetaEnd);
        w.WriteString("beta_schedule", c.BetaSchedule);
        w.WriteBoolean("set_alpha_to_one", c.SetAlphaToOne);
        w.WriteNumber("steps_offset", c.StepsOffset);
        w.WriteBoolean("clip_sample", c.ClipSample);
        w.WriteString("prediction_type", c.PredictionType);
        w.WriteEndObject();
    }

    /// <summary>Writes one config object as an indented config.json file.</summary>
    public static void WriteFile(string path, Action<Utf8JsonWriter> write)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        write(writer);
    }

    private static bool[] BlockFlags(ConfigJson json, string key, string withAttention, string without, bool[] fallback, int levels)
    {
        var names = json.StringArray(key);
        var flags = names is null ? fallback : names.Select(n =>
            n == withAttention ? true : n == without ? false : throw json.Error(key, $"has '{n}'; SD v1 uses {withAttention} and {without}")).ToArray();
        if (flags.Length != levels)
            throw json.Error(key, $"has {flags.Length} entries but block_out_channels has {levels}");
        return flags;
    }

    private static void CheckBlockTypes(ConfigJson json, string key, string expected, int levels)
    {
        var names = json.StringArray(key);
        if (names is null) return;
        if (names.Length != levels || names.Any(n => n != expected))
            throw json.Error(key, $"is [{string.Join(", ", names)}]; expected {levels} x {expected}");
    }

    private static void RejectUnless(ConfigJson json, string key, bool supported)
    {
        if (json.Bool(key, supported) != supported)
            throw json.Error(key, $"is {!supported}; only {supported} is supported for SD v1");
    }

    private static void RejectUnlessString(ConfigJson json, string key, string supported)
    {
        string? value = json.String(key, supported);
        if (value != supported)
            throw json.Error(key, $"is '{value}'; only '{supported}' is supported for SD v1");
    }

    private static void CheckPositive(ConfigJson json, string key, int value)
    {
        if (value <= 0) throw json.Error(key, $"is {value}; must be positive");
    }

    private static void WriteInts(Utf8JsonWriter w, string key, IEnumerable<int> values)
    {
        w.WriteStartArray(key);
        foreach (int v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter w, string key, IEnumerable<string> values)
    {
        w.WriteStartArray(key);
        foreach (string v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }
}
