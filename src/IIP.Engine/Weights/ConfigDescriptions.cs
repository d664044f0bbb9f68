using IIP.Engine.Configs;
using System.Globalization;

namespace IIP.Engine.Weights;

/// <summary>
/// One-line descriptions of the config records with every field, in diffusers key names. Records hold
/// arrays (compared by reference), so tests compare configs through these strings.
/// </summary>
public static class ConfigDescriptions
{
    public static string Describe(UNetConfig c) =>
        $"in_channels={c.InChannels} out_channels={c.OutChannels} sample_size={c.SampleSize} block_out_channels={Ints(c.BlockOutChannels)} " +
        $"down_attention={Bools(c.DownBlockHasAttention)} up_attention={Bools(c.UpBlockHasAttention)} layers_per_block={c.LayersPerBlock} " +
        $"norm_num_groups={c.NormGroups} norm_eps={F(c.NormEps)} cross_attention_dim={c.CrossAttentionDim} heads={Ints(c.Heads)} " +
        $"use_linear_projection={c.UseLinearProjection} upcast_attention={c.UpcastAttention} flip_sin_to_cos={c.FlipSinToCos} freq_shift={F(c.FreqShift)} transformer_layers_per_block={c.TransformerLayersPerBlock}";

    public static string Describe(VaeConfig c) =>
        $"in_channels={c.InChannels} out_channels={c.OutChannels} block_out_channels={Ints(c.BlockOutChannels)} layers_per_block={c.LayersPerBlock} " +
        $"latent_channels={c.LatentChannels} norm_num_groups={c.NormGroups} norm_eps={F(c.NormEps)} scaling_factor={F(c.ScalingFactor)} sample_size={c.SampleSize}";

    public static string Describe(TextEncoderConfig c) =>
        $"vocab_size={c.VocabSize} hidden_size={c.HiddenSize} intermediate_size={c.IntermediateSize} num_hidden_layers={c.Layers} " +
        $"num_attention_heads={c.Heads} max_position_embeddings={c.MaxPositions} layer_norm_eps={F(c.LayerNormEps)} hidden_act={c.HiddenAct}";

    public static string Describe(SchedulerConfig c) =>
        $"num_train_timesteps={c.TrainTimesteps} beta_start={F(c.BetaStart)} beta_end={F(c.BetaEnd)} beta_schedule={c.BetaSchedule} " +
        $"set_alpha_to_one={c.SetAlphaToOne} steps_offset={c.StepsOffset} clip_sample={c.ClipSample} prediction_type={c.PredictionType}";

    private static string Ints(int[] values) => "[" + string.Join(",", values) + "]";

    private static string Bools(bool[] values) => "[" + string.Join(",", values.Select(v => v ? "T" : "F")) + "]";

    private static string F(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string F(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
