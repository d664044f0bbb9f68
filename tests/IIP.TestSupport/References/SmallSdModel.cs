using IIP.Engine.Configs;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.TestSupport.References;

/// <summary>
/// A small SD-v1-shaped model sized unlike tiny-sd in every dimension the engine could have assumed
/// (the shapes of weight-convert's "small-test" architecture):
/// UNet 3 levels [32, 64, 96] (CrossAttnDown x2 + Down, Up + CrossAttnUp x2), 1 layer per block, 4 heads
/// (head size 8, 16, 24), 16 norm groups, cross-attention 96, time embedding 128; VAE 2 levels [16, 32]
/// (factor 2), 1 layer per block, 8 groups; CLIP width 96, 3 layers, 3 heads of 32, MLP 384.
/// Tests run it on an 8x12 latent (a 16x24 image): non-square at every UNet level (8x12, 4x6, 2x3).
/// </summary>
internal static class SmallSdModel
{
    public static UNetConfig Unet { get; } = UNetConfig.StableDiffusionV14 with
    {
        BlockOutChannels = [32, 64, 96],
        DownBlockHasAttention = [true, true, false],
        UpBlockHasAttention = [false, true, true],
        LayersPerBlock = 1,
        NormGroups = 16,
        CrossAttentionDim = 96,
        Heads = [4, 4, 4],
        SampleSize = 8,
    };

    public static VaeConfig Vae { get; } = VaeConfig.StableDiffusionV14 with { BlockOutChannels = [16, 32], LayersPerBlock = 1, NormGroups = 8, SampleSize = 16 };

    public static TextEncoderConfig TextEncoder { get; } = TextEncoderConfig.StableDiffusionV14 with { HiddenSize = 96, IntermediateSize = 384, Layers = 3, Heads = 3 };

    public static SchedulerConfig Scheduler => SchedulerConfig.StableDiffusionV14;

    public const int LatentHeight = 8, LatentWidth = 12;
    public const int ImageHeight = 16, ImageWidth = 24;

    private static readonly Lazy<string> SharedFolder = new(() => Write(Path.Combine(TestPaths.NewTempDir("small-sd"), "model"), WeightDType.F16, seed: 1));

    /// <summary>The F16 diffusers folder all tests share (written once per test run).</summary>
    public static string Folder => SharedFolder.Value;

    /// <summary>
    /// Writes a diffusers folder (model_index.json, configs, one safetensors file per part stored as
    /// <paramref name="dtype"/>, scheduler config). The values are the same for every dtype: each is drawn, then
    /// rounded to fp16, so F16 and F32 files hold one model. Init: matrices and kernels N(0, 1/fan_in)
    /// (fan_in = all dims but the first), norm scales 1 + N(0, 0.1^2), biases N(0, 0.1^2): scales and biases
    /// that are not 1 and 0 make a dropped or misplaced affine term visible in the outputs.
    /// </summary>
    public static string Write(string dir, WeightDType dtype, long seed)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "model_index.json"), """{"_class_name": "StableDiffusionPipeline"}""");
        foreach (var part in ModelParts.All)
        {
            string folder = Path.Combine(dir, part.FolderName());
            Directory.CreateDirectory(folder);
            DiffusersConfigs.WriteFile(Path.Combine(folder, "config.json"), w =>
            {
                switch (part)
                {
                    case ModelPart.Unet: DiffusersConfigs.WriteUNet(w, Unet); break;
                    case ModelPart.Vae: DiffusersConfigs.WriteVae(w, Vae); break;
                    default: DiffusersConfigs.WriteTextEncoder(w, TextEncoder); break;
                }
            });
            var tensors = SdParameterShapes.For(part, Unet, Vae, TextEncoder)
                .Select(p => new SafetensorsTensor(p.Name, p.Shape, dtype, destination => Initialize(destination, p, seed, part)))
                .ToList();
            SafetensorsWriter.Write(Path.Combine(folder, $"{part.WeightsFileStem()}.safetensors"), tensors);
        }
        Directory.CreateDirectory(Path.Combine(dir, "scheduler"));
        DiffusersConfigs.WriteFile(Path.Combine(dir, "scheduler", "scheduler_config.json"), w => DiffusersConfigs.WriteScheduler(w, Scheduler));
        return dir;
    }

    /// <summary>A copy of the tiny-sd tokenizer (the real CLIP vocabulary, which the 49,408-row embedding matches) in <paramref name="dir"/>/tokenizer.</summary>
    public static void AddTokenizer(string dir) =>
        DiffusersFolder.CopyTokenizer(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"), Path.Combine(dir, "tokenizer"));

    private static void Initialize(Span<float> destination, ParameterShape parameter, long seed, ModelPart part)
    {
        var noise = new GaussianNoise(seed ^ (long)StableHash($"{part.FolderName()}/{parameter.Name}"));
        bool matrix = parameter.Shape.Length >= 2;
        bool normScale = !matrix && parameter.Name.EndsWith(".weight", StringComparison.Ordinal);
        double std = matrix ? 1 / Math.Sqrt(Tensor.ElementCount(parameter.Shape.AsSpan(1))) : 0.1;
        for (int i = 0; i < destination.Length; i++)
            destination[i] = (float)(Half)((normScale ? 1 : 0) + std * noise.NextGaussian());
    }

    // FNV-1a 64-bit: a seed per tensor that does not depend on the process (string.GetHashCode does).
    private static ulong StableHash(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>A tensor of N(0, <paramref name="std"/>^2) samples.</summary>
    public static Tensor RandomTensor(long seed, double std, params int[] shape)
    {
        var t = new GaussianNoise(seed).Sample(shape);
        for (long i = 0; i < t.Length; i++) t.Data[i] = (float)(t.Data[i] * std);
        return t;
    }
}
