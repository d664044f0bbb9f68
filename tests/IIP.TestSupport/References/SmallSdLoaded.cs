using IIP.Engine.Backends.Cpu;
using IIP.Engine.Models.Clip;
using IIP.Engine.Models.Unet;
using IIP.Engine.Models.Vae;
using IIP.Engine.Tensors;
using IIP.Engine.Text;
using IIP.Engine.Weights;

namespace IIP.TestSupport.References;

/// <summary>The shared <see cref="SmallSdModel"/> opened once per test run, its modules on the CPU backend, and test inputs.</summary>
internal static class SmallSdLoaded
{
    private static readonly Lazy<StableDiffusionCheckpoint> SharedCheckpoint = new(() => StableDiffusionCheckpoint.Open(SmallSdModel.Folder));
    private static readonly Lazy<UNet2DConditionModel> SharedUnet = new(() => new(Checkpoint.UnetWeights, Checkpoint.Unet, CpuBackend.Instance));
    private static readonly Lazy<AutoencoderKL> SharedVae = new(() => new(Checkpoint.VaeWeights, Checkpoint.Vae, CpuBackend.Instance));
    private static readonly Lazy<ClipTextModel> SharedText = new(() => new(Checkpoint.TextEncoderWeights, Checkpoint.TextEncoder, CpuBackend.Instance));

    /// <summary>The F16 diffusers folder, opened (held open for the test run).</summary>
    public static StableDiffusionCheckpoint Checkpoint => SharedCheckpoint.Value;

    public static UNet2DConditionModel Unet => SharedUnet.Value;

    public static AutoencoderKL Vae => SharedVae.Value;

    public static ClipTextModel TextEncoder => SharedText.Value;

    /// <summary>A latent [n, 4, 8, 12] of N(0, 1) samples.</summary>
    public static Tensor Latent(long seed, int n = 1) => SmallSdModel.RandomTensor(seed, 1, n, SmallSdModel.Unet.InChannels, SmallSdModel.LatentHeight, SmallSdModel.LatentWidth);

    /// <summary>A context [n, 77, 96] with the unit-variance scale of a final-layer-normed CLIP state.</summary>
    public static Tensor Context(long seed, int n = 1) => SmallSdModel.RandomTensor(seed, 1, n, ClipTokenizer.ContextLength, SmallSdModel.Unet.CrossAttentionDim);

    /// <summary>
    /// SD v1-shaped token ids: start-of-text, <paramref name="words"/> ids drawn from the vocabulary, end-of-text, then
    /// end-of-text padding to 77.
    /// </summary>
    public static int[] Ids(long seed, int words)
    {
        const int StartOfText = 49406, EndOfText = 49407;   // the CLIP vocabulary's last two ids
        var noise = new GaussianNoise(seed);
        var ids = Enumerable.Repeat(EndOfText, ClipTokenizer.ContextLength).ToArray();
        ids[0] = StartOfText;
        for (int i = 1; i <= words; i++) ids[i] = (int)(noise.NextUniform() * StartOfText);
        return ids;
    }
}
