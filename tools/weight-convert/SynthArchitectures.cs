using IIP.Engine.Configs;

namespace IIP.WeightConvert;

/// <summary>The model shapes `synth` can produce.</summary>
public sealed record SynthArchitecture(string Name, UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler)
{
    public static readonly SynthArchitecture StableDiffusionV14 = new("sd-v1.4",
        UNetConfig.StableDiffusionV14, VaeConfig.StableDiffusionV14, TextEncoderConfig.StableDiffusionV14, SchedulerConfig.StableDiffusionV14);

    /// <summary>
    /// Stable Diffusion 2.1 (768-v), exactly as its diffusers configs: UNet [320, 640, 1280, 1280] with 5, 10, 20, 20 heads
    /// (head size 64), linear proj_in/proj_out, upcast attention, cross-attention 1024, 96x96 latent; the SD VAE at 768;
    /// OpenCLIP ViT-H's text transformer as diffusers stores it (width 1024, 23 layers used, 16 heads, exact GELU);
    /// v-prediction.
    /// </summary>
    public static readonly SynthArchitecture StableDiffusionV21 = new("sd-v2.1",
        UNetConfig.StableDiffusionV14 with { Heads = [5, 10, 20, 20], CrossAttentionDim = 1024, UseLinearProjection = true, UpcastAttention = true, SampleSize = 96 },
        VaeConfig.StableDiffusionV14 with { SampleSize = 768 },
        TextEncoderConfig.StableDiffusionV14 with { HiddenSize = 1024, IntermediateSize = 4096, Layers = 23, Heads = 16, HiddenAct = "gelu" },
        SchedulerConfig.StableDiffusionV14 with { PredictionType = "v_prediction" });

    /// <summary>The golden tiny-sd topology (SD v1 structure, small widths, 16x16 latent).</summary>
    public static readonly SynthArchitecture Tiny = new("tiny",
        UNetConfig.StableDiffusionV14 with { BlockOutChannels = [32, 64, 128, 128], CrossAttentionDim = 128, SampleSize = 16 },
        VaeConfig.StableDiffusionV14 with { BlockOutChannels = [32, 32, 64, 64], SampleSize = 128 },
        TextEncoderConfig.StableDiffusionV14 with { HiddenSize = 128, IntermediateSize = 512, Layers = 2, Heads = 2 },
        SchedulerConfig.StableDiffusionV14);

    /// <summary>
    /// An SD v1 topology sized unlike tiny-sd, for generality tests: UNet 3 levels [32, 64, 96] (CrossAttnDown x2 + Down,
    /// Up + CrossAttnUp x2), 1 layer per block, 4 heads, 16 norm groups, cross-attention 96; VAE 2 levels [16, 32]
    /// (factor 2), 1 layer, 8 groups; CLIP width 96, 3 layers, 3 heads, the full vocabulary (the real tokenizer works).
    /// Native image 16x16 (latent 8x8); sides must be multiples of the VAE's factor 2, e.g. 16x24 or 16x12.
    /// </summary>
    public static readonly SynthArchitecture SmallTest = new("small-test",
        UNetConfig.StableDiffusionV14 with
        {
            BlockOutChannels = [32, 64, 96], DownBlockHasAttention = [true, true, false], UpBlockHasAttention = [false, true, true],
            LayersPerBlock = 1, NormGroups = 16, CrossAttentionDim = 96, Heads = [4, 4, 4], SampleSize = 8,
        },
        VaeConfig.StableDiffusionV14 with { BlockOutChannels = [16, 32], LayersPerBlock = 1, NormGroups = 8, SampleSize = 16 },
        TextEncoderConfig.StableDiffusionV14 with { HiddenSize = 96, IntermediateSize = 384, Layers = 3, Heads = 3 },
        SchedulerConfig.StableDiffusionV14);

    public static readonly IReadOnlyList<SynthArchitecture> All = [StableDiffusionV14, StableDiffusionV21, Tiny, SmallTest];

    public static SynthArchitecture Get(string name) =>
        All.FirstOrDefault(a => a.Name == name) ?? throw new ArgumentException($"unknown architecture '{name}' ({string.Join(", ", All.Select(a => a.Name))})");
}
