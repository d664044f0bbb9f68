using IIP.Engine.Backends;
using IIP.Engine.Models.Clip;
using IIP.Engine.Models.Unet;
using IIP.Engine.Models.Vae;
using IIP.Engine.Sampling;
using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;
using IIP.Engine.Text;
using IIP.Engine.Weights;

namespace IIP.Engine.Pipelines;

/// <summary>
/// A loaded SD v1 model on one backend: tokenizer (optional), CLIP text encoder, UNet, VAE and the DDIM
/// scheduler, and <see cref="Sampler"/>, the DDIM loops on them. Latents are UNet-space: z = scaling_factor x VAE latent.
/// </summary>
public sealed class StableDiffusion
{
    public IBackend Backend { get; }
    public ClipTokenizer? Tokenizer { get; }
    public ClipTextModel TextEncoder { get; }
    public UNet2DConditionModel Unet { get; }
    public AutoencoderKL Vae { get; }
    public DdimScheduler Scheduler { get; }

    public StableDiffusion(StableDiffusionCheckpoint checkpoint, IBackend backend, EngineOptions? options = null)
    {
        Backend = backend;
        Tokenizer = checkpoint.TokenizerDirectory is { } dir ? ClipTokenizer.FromDirectory(dir) : null;
        TextEncoder = new ClipTextModel(OnBackend(checkpoint.TextEncoderWeights, backend), checkpoint.TextEncoder, backend);
        Unet = new UNet2DConditionModel(OnBackend(checkpoint.UnetWeights, backend), checkpoint.Unet, backend);
        Vae = new AutoencoderKL(OnBackend(checkpoint.VaeWeights, backend), checkpoint.Vae, backend);
        Scheduler = new DdimScheduler(checkpoint.Scheduler);
        // the loops' UNet forwards replay recorded CUDA graphs on the CUDA backend (EngineOptions.CudaGraphs)
        Sampler = new DdimSampler(new NoisePredictor(backend, Unet, recordGraphs: (options ?? EngineOptions.Default).CudaGraphs), Scheduler);
    }

    /// <summary>The model's DDIM loops (sampling, inversion, guided noise), which every sampler of the tool goes through.</summary>
    public DdimSampler Sampler { get; }

    // a part's weights: on the CUDA backend uploaded in one pass (fp16, one allocation); elsewhere read tensor by tensor
    private static IWeightSource OnBackend(IWeightSource weights, IBackend backend) => backend.MakeResident(weights);

    /// <summary>The model's native image side: VAE factor x UNet sample_size (512 for SD v1).</summary>
    public int NativeImageSize => Vae.DownsampleFactor * Unet.Config.SampleSize;

    public float ScalingFactor => Vae.Config.ScalingFactor;

    /// <summary>The latent of one native-size image: [1, C, sample_size, sample_size].</summary>
    public int[] NativeLatentShape => [1, Unet.Config.InChannels, Unet.Config.SampleSize, Unet.Config.SampleSize];

    public ClipTokenizer RequireTokenizer() =>
        Tokenizer ?? throw new InvalidOperationException("this checkpoint has no tokenizer; pass --tokenizer DIR (a folder with vocab.json and merges.txt)");

    // prompts -> [N, 77, D] (host), its device buffers back in the pool when it returns
    public Tensor EncodePrompts(IReadOnlyList<string> prompts)
    {
        var tokenizer = RequireTokenizer();
        using var scope = Backend.OpenScope();
        return Backend.ToHostOutOf(scope, TextEncoder.Forward(prompts.Select(tokenizer.Encode).ToArray()));
    }

    // image [N, 3, H, W] in [-1, 1] -> UNet-space latent s * posterior mean [N, Cz, H/8, W/8] (host); every device
    // buffer it used is back in the pool when it returns
    public Tensor EncodeImage(Tensor image)
    {
        using var scope = Backend.OpenScope();
        var uploaded = Backend.FromHost(image);
        var posterior = Vae.Encode(uploaded);
        var latent = Backend.ToHostOutOf(scope, Backend.Scale(posterior.Mean, ScalingFactor));
        Backend.ReleaseUpload(uploaded, image);
        Backend.Release(posterior.Mean);     // uploads of the VAE's host-side split of the moments
        Backend.Release(posterior.LogVar);
        return latent;
    }

    // latent [N, Cz, h, w] in UNet space -> image [N, 3, 8h, 8w] roughly in [-1, 1] (host), as EncodeImage with its buffers
    public Tensor DecodeLatent(Tensor latent)
    {
        using var scope = Backend.OpenScope();
        var uploaded = Backend.FromHost(latent);
        var image = Backend.ToHostOutOf(scope, Vae.Decode(Backend.Scale(uploaded, 1f / ScalingFactor)));
        Backend.ReleaseUpload(uploaded, latent);
        return image;
    }
}
