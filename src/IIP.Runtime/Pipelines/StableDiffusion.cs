using IIP.Runtime.Backends;
using IIP.Runtime.Backends.Cuda;
using IIP.Runtime.Models;
using IIP.Runtime.Models.Clip;
using IIP.Runtime.Models.Unet;
using IIP.Runtime.Models.Vae;
using IIP.Runtime.Scheduling;
using IIP.Runtime.Tensors;
using IIP.Runtime.Text;
using IIP.Runtime.Weights;

namespace IIP.Runtime.Pipelines;

/// <summary>
/// A loaded SD v1 model on one backend: tokenizer (optional), CLIP text encoder, UNet, VAE and the DDIM
/// scheduler, with the sampling loops IIP needs. Latents are UNet-space: z = scaling_factor x VAE latent.
/// </summary>
public sealed class StableDiffusion
{
    public IBackend Backend { get; }
    public ClipTokenizer? Tokenizer { get; }
    public ClipTextModel TextEncoder { get; }
    public UNet2DConditionModel Unet { get; }
    public AutoencoderKL Vae { get; }
    public DdimScheduler Scheduler { get; }

    public StableDiffusion(StableDiffusionCheckpoint checkpoint, IBackend backend)
    {
        Backend = backend;
        Tokenizer = checkpoint.TokenizerDirectory is { } dir ? ClipTokenizer.FromDirectory(dir) : null;
        TextEncoder = new ClipTextModel(OnBackend(checkpoint.TextEncoderWeights, backend), checkpoint.TextEncoder, backend);
        Unet = new UNet2DConditionModel(OnBackend(checkpoint.UnetWeights, backend), checkpoint.Unet, backend);
        Vae = new AutoencoderKL(OnBackend(checkpoint.VaeWeights, backend), checkpoint.Vae, backend);
        Scheduler = new DdimScheduler(checkpoint.Scheduler);
        _unetGraphs = backend is CudaBackend cuda && Environment.GetEnvironmentVariable("IIP_CUDA_GRAPHS") != "0"
            ? new CudaUNetGraphs(cuda, Unet) : null;
    }

    // a part's weights: on the CUDA backend uploaded in one pass (fp16, one allocation); elsewhere read tensor by tensor
    private static IWeightSource OnBackend(IWeightSource weights, IBackend backend) =>
        backend is CudaBackend cuda ? cuda.UploadWeights(weights) : weights;

    // the loops' UNet forwards as replayed CUDA graphs on the CUDA backend (IIP_CUDA_GRAPHS=0: eager); null elsewhere
    private readonly CudaUNetGraphs? _unetGraphs;

    /// <summary>The model's native image side: VAE factor x UNet sample_size (512 for SD v1).</summary>
    public int NativeImageSize => Vae.DownsampleFactor * Unet.Config.SampleSize;

    public float ScalingFactor => Vae.Config.ScalingFactor;

    /// <summary>The latent of one native-size image: [1, C, sample_size, sample_size].</summary>
    public int[] NativeLatentShape => [1, Unet.Config.InChannels, Unet.Config.SampleSize, Unet.Config.SampleSize];

    public ClipTokenizer RequireTokenizer() =>
        Tokenizer ?? throw new InvalidOperationException("this checkpoint has no tokenizer; pass --tokenizer DIR (a folder with vocab.json and merges.txt)");

    // prompts -> [N, 77, D]
    public Tensor EncodePrompts(IReadOnlyList<string> prompts)
    {
        var tokenizer = RequireTokenizer();
        return TextEncoder.Forward(prompts.Select(tokenizer.Encode).ToArray());
    }

    // image [N, 3, H, W] in [-1, 1] -> UNet-space latent s * posterior mean [N, Cz, H/8, W/8]
    public Tensor EncodeImage(Tensor image) => Backend.Scale(Vae.Encode(Backend.FromHost(image)).Mean, ScalingFactor);

    // latent [N, Cz, h, w] in UNet space -> image [N, 3, 8h, 8w] roughly in [-1, 1] (host)
    public Tensor DecodeLatent(Tensor latent) => Backend.ToHost(Vae.Decode(Backend.Scale(Backend.FromHost(latent), 1f / ScalingFactor)));

    /// <summary>
    /// Classifier-free guidance at one timestep: eps_u, eps_c = UNet([x, x], t, [uncond, cond]);
    /// eps = eps_u + g (eps_c - eps_u); TCNP = ||eps_c - eps_u||_2 over the whole latent (Wen et al. 2024).
    /// x [1, C, h, w], uncond and cond [1, S, D] -> eps [1, C, h, w] (host).
    /// </summary>
    public Tensor GuidedNoise(Tensor x, int t, Tensor uncond, Tensor cond, float guidance, out double tcnp) =>
        GuidedNoise(x, t, GuidanceContext(uncond, cond), guidance, out tcnp);

    // [uncond; cond] [2, S, D] on the backend, made once per sampling loop
    private Tensor GuidanceContext(Tensor uncond, Tensor cond) => Backend.FromHost(Tensor.ConcatBatch(Backend.ToHost(uncond), Backend.ToHost(cond)));

    // GuidedNoise with the context pair [2, S, D] already on the backend
    private Tensor GuidedNoise(Tensor x, int t, Tensor contextPair, float guidance, out double tcnp)
    {
        Span<double> squares = stackalloc double[1];
        var eps = GuidedNoise(x, t, contextPair, guidance, squares);
        tcnp = Math.Sqrt(squares[0]);
        return eps;
    }

    /// <summary>
    /// Guidance for a batch: x [N, C, h, w], contextPair [2N, S, D] = [uncond x N; cond x N] on the backend -> eps [N, C, h, w]
    /// (host) from one UNet call on [x; x]; squaredTcnp[i] = ||eps_c,i - eps_u,i||^2 for item i (N = 1: the whole latent).
    /// </summary>
    private Tensor GuidedNoise(Tensor x, int t, Tensor contextPair, float guidance, Span<double> squaredTcnp)
    {
        int items = x.Shape[0];
        var batch = Tensor.ConcatBatch(Backend.ToHost(x), Backend.ToHost(x));
        var eps = PredictNoise(batch, Enumerable.Repeat((float)t, 2 * items).ToArray(), contextPair); // [2N, C, h, w], uncond first
        int n = (int)x.Length, perItem = n / items;
        var result = new Tensor(x.Shape);
        var e = eps.Data;
        for (int item = 0; item < items; item++)
        {
            double sq = 0;
            for (int i = item * perItem; i < (item + 1) * perItem; i++)
            {
                float diff = e[n + i] - e[i];
                sq += (double)diff * diff;
                result.Data[i] = e[i] + guidance * diff;
            }
            squaredTcnp[item] = sq;
        }
        return result;
    }

    /// <summary>
    /// DDIM sampling with guidance over <paramref name="timesteps"/> (descending, spacing <paramref name="ratio"/>).
    /// latent [1, C, h, w] -> final latent; tcnp receives one value per step.
    /// </summary>
    public Tensor Sample(Tensor latent, IReadOnlyList<int> timesteps, int ratio, Tensor uncond, Tensor cond, float guidance,
        List<double>? tcnp = null, IProgress<int>? progress = null)
    {
        if (latent.Shape[0] != 1)
            throw new ArgumentException($"{nameof(Sample)} takes one latent [1, C, h, w], got [{latent.ShapeText}]; use {nameof(SampleBatch)} for several");
        return GuidedLoop(latent, timesteps, ratio, GuidanceContext(uncond, cond), guidance, squares => tcnp?.Add(Math.Sqrt(squares[0])), progress);
    }

    /// <summary>
    /// <see cref="Sample"/> for N latents at once [N, C, h, w] sharing the timesteps and the (single) uncond and cond
    /// [1, S, D]: each step is one UNet call at batch 2N, which keeps a GPU busier than N calls at batch 2. Item i's
    /// result is item i's <see cref="Sample"/> up to the floating-point order of batched products. tcnpPerItem
    /// receives one array of N TCNP values per step.
    /// </summary>
    public Tensor SampleBatch(Tensor latents, IReadOnlyList<int> timesteps, int ratio, Tensor uncond, Tensor cond, float guidance,
        List<double[]>? tcnpPerItem = null)
    {
        int items = latents.Shape[0];
        var contextPair = GuidanceContext(RepeatBatch(uncond, items), RepeatBatch(cond, items));
        return GuidedLoop(latents, timesteps, ratio, contextPair, guidance, squares => tcnpPerItem?.Add(squares.Select(Math.Sqrt).ToArray()), null);
    }

    // The guided DDIM loop of Sample and SampleBatch: latents [N, C, h, w], contextPair [2N, S, D] on the backend;
    // onStep receives the items' squared TCNP after each step.
    private Tensor GuidedLoop(Tensor latents, IReadOnlyList<int> timesteps, int ratio, Tensor contextPair, float guidance,
        Action<double[]> onStep, IProgress<int>? progress)
    {
        var x = Backend.ToHost(latents).Clone();
        var squares = new double[x.Shape[0]];
        for (int i = 0; i < timesteps.Count; i++)
        {
            var eps = GuidedNoise(x, timesteps[i], contextPair, guidance, squares);
            onStep(squares);
            Scheduler.Step(x.Data, eps.Data, timesteps[i], ratio, x.Data);
            progress?.Report(i + 1);
        }
        return x;
    }

    // t [1, ...] (host or backend) -> [n, ...] on the host, n copies
    private Tensor RepeatBatch(Tensor t, int n)
    {
        var host = Backend.ToHost(t);
        if (host.Shape[0] != 1) throw new ArgumentException($"expected one embedding [1, S, D], got [{host.ShapeText}]");
        return Tensor.ConcatBatch(Enumerable.Repeat(host, n).ToArray());
    }

    /// <summary>
    /// Unconditional DDIM inversion (no guidance): for t in the ascending grid, x_t = invert(x_{t - ratio}, eps(x_{t - ratio}, t, context)).
    /// z0 [1, C, h, w] -> steps + 1 latents: z0, then the latent after each step. A batch z0 [N, C, h, w] inverts N
    /// latents at once (one UNet call per step), with a context of N items or one shared by all.
    /// </summary>
    public List<Tensor> Invert(Tensor z0, int steps, int gridSteps, Tensor context)
    {
        int ratio = Scheduler.StepRatio(gridSteps);
        var ascending = Scheduler.Timesteps(gridSteps).Reverse().Take(steps).ToArray();
        var x = Backend.ToHost(z0).Clone();
        int items = x.Shape[0];
        var latents = new List<Tensor> { x.Clone() };
        var ctx = Backend.FromHost(items > 1 && context.Shape[0] == 1 ? RepeatBatch(context, items) : Backend.ToHost(context));
        foreach (int t in ascending)
        {
            var eps = PredictNoise(x, Enumerable.Repeat((float)t, items).ToArray(), ctx);
            Scheduler.InvertStep(x.Data, eps.Data, t, ratio, x.Data);
            latents.Add(x.Clone());
        }
        return latents;
    }

    /// <summary>
    /// eps (host) = UNet(x, t, context) for a host latent x [N, C, h, w], one timestep per item and a context on the
    /// backend: on the CUDA backend replayed from a recorded graph (<see cref="CudaUNetGraphs"/>, the same values as the
    /// plain forward), elsewhere the plain forward.
    /// </summary>
    private Tensor PredictNoise(Tensor x, float[] timesteps, Tensor context) =>
        Backend.ToHost(_unetGraphs is { } graphs ? graphs.Forward(x, timesteps, context) : Unet.Forward(Backend.FromHost(x), timesteps, context));
}
