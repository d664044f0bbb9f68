using IIP.Runtime.Models;

namespace IIP.WeightConvert;

/// <summary>The model shapes `synth` can produce.</summary>
public sealed record SynthArchitecture(string Name, UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler)
{
    public static readonly SynthArchitecture StableDiffusionV14 = new("sd-v1.4",
        UNetConfig.StableDiffusionV14, VaeConfig.StableDiffusionV14, TextEncoderConfig.StableDiffusionV14, SchedulerConfig.StableDiffusionV14);

    /// <summary>The golden tiny-sd topology (SD v1 structure, small widths, 16x16 latent).</summary>
    public static readonly SynthArchitecture Tiny = new("tiny",
        UNetConfig.StableDiffusionV14 with { BlockOutChannels = [32, 64, 128, 128], CrossAttentionDim = 128, SampleSize = 16 },
        VaeConfig.StableDiffusionV14 with { BlockOutChannels = [32, 32, 64, 64], SampleSize = 128 },
        TextEncoderConfig.StableDiffusionV14 with { HiddenSize = 128, IntermediateSize = 512, Layers = 2, Heads = 2 },
        SchedulerConfig.StableDiffusionV14);

    public static readonly IReadOnlyList<SynthArchitecture> All = [StableDiffusionV14, Tiny];

    public static SynthArchitecture Get(string name) =>
        All.FirstOrDefault(a => a.Name == name) ?? throw new ArgumentException($"unknown architecture '{name}' ({string.Join(", ", All.Select(a => a.Name))})");
}
