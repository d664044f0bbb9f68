namespace IIP.Engine.Configs;

/// <summary>UNet2DConditionModel hyperparameters (diffusers unet/config.json names in comments).</summary>
public sealed record UNetConfig
{
    public int InChannels { get; init; } = 4;                                    // in_channels
    public int OutChannels { get; init; } = 4;                                   // out_channels
    public int SampleSize { get; init; } = 64;                                   // sample_size (latent side)
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];       // block_out_channels
    /// <summary>true for CrossAttnDownBlock2D, false for DownBlock2D (down_block_types).</summary>
    public bool[] DownBlockHasAttention { get; init; } = [true, true, true, false];
    /// <summary>true for CrossAttnUpBlock2D, false for UpBlock2D (up_block_types).</summary>
    public bool[] UpBlockHasAttention { get; init; } = [false, true, true, true];
    public int LayersPerBlock { get; init; } = 2;                                // layers_per_block
    public int NormGroups { get; init; } = 32;                                   // norm_num_groups
    public float NormEps { get; init; } = 1e-5f;                                 // norm_eps
    public int CrossAttentionDim { get; init; } = 768;                           // cross_attention_dim
    /// <summary>
    /// Attention heads per level, in the down path's order (diffusers' legacy attention_head_dim, which is a head count:
    /// SD v1 8 at every level, SD 2.x [5, 10, 20, 20], head size 64); the mid block uses the last level's, the up path the
    /// levels' in reverse.
    /// </summary>
    public int[] Heads { get; init; } = [8, 8, 8, 8];
    /// <summary>use_linear_projection: proj_in / proj_out are Linear layers on the tokens (SD 2.x) instead of 1x1 convolutions.</summary>
    public bool UseLinearProjection { get; init; }
    /// <summary>upcast_attention: the attention softmax in fp32 (SD 2.1); every backend computes it in fp32 already.</summary>
    public bool UpcastAttention { get; init; }
    public bool FlipSinToCos { get; init; } = true;                              // flip_sin_to_cos
    public float FreqShift { get; init; }                                        // freq_shift
    public int TransformerLayersPerBlock { get; init; } = 1;                     // transformer_layers_per_block

    public static UNetConfig StableDiffusionV14 { get; } = new();
}

/// <summary>AutoencoderKL hyperparameters (diffusers vae/config.json).</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    public int LayersPerBlock { get; init; } = 2;
    public int LatentChannels { get; init; } = 4;
    public int NormGroups { get; init; } = 32;
    public float NormEps { get; init; } = 1e-6f;
    public float ScalingFactor { get; init; } = 0.18215f;                        // scaling_factor
    public int SampleSize { get; init; } = 512;

    public static VaeConfig StableDiffusionV14 { get; } = new();
}

/// <summary>CLIPTextModel hyperparameters (transformers text_encoder/config.json).</summary>
public sealed record TextEncoderConfig
{
    public int VocabSize { get; init; } = 49408;                                 // vocab_size
    public int HiddenSize { get; init; } = 768;                                  // hidden_size
    public int IntermediateSize { get; init; } = 3072;                           // intermediate_size
    public int Layers { get; init; } = 12;                                       // num_hidden_layers
    public int Heads { get; init; } = 12;                                        // num_attention_heads
    public int MaxPositions { get; init; } = 77;                                 // max_position_embeddings
    public float LayerNormEps { get; init; } = 1e-5f;                            // layer_norm_eps
    /// <summary>"quick_gelu" (SD v1) or "gelu".</summary>
    public string HiddenAct { get; init; } = "quick_gelu";

    public static TextEncoderConfig StableDiffusionV14 { get; } = new();
}

/// <summary>DDIMScheduler configuration (scheduler/scheduler_config.json).</summary>
public sealed record SchedulerConfig
{
    public int TrainTimesteps { get; init; } = 1000;                             // num_train_timesteps
    public double BetaStart { get; init; } = 0.00085;                            // beta_start
    public double BetaEnd { get; init; } = 0.012;                                // beta_end
    /// <summary>"scaled_linear" (SD v1) or "linear".</summary>
    public string BetaSchedule { get; init; } = "scaled_linear";
    public bool SetAlphaToOne { get; init; }                                     // set_alpha_to_one
    public int StepsOffset { get; init; } = 1;                                   // steps_offset
    public bool ClipSample { get; init; }                                        // clip_sample (SD v1.4: false)
    public string PredictionType { get; init; } = "epsilon";                     // prediction_type

    public static SchedulerConfig StableDiffusionV14 { get; } = new();
}
