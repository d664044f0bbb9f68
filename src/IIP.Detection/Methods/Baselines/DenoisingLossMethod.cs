using System.Globalization;
using IIP.Detection.Methods;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.Baselines;

/// <summary>Options of <see cref="DenoisingLossMethod"/>.</summary>
public sealed record DenoisingLossOptions
{
    /// <summary>Training timesteps t at which the loss is measured (0 .. T-1).</summary>
    public IReadOnlyList<int> Timesteps { get; init; } = [100, 300];

    /// <summary>Base seed of the noise: the noise at t comes from <see cref="GaussianNoise"/>(Seed * 1000 + t), so it depends only on (Seed, t).</summary>
    public int Seed { get; init; }
}

/// <summary>
/// Loss-based membership inference at fixed timesteps (Matsumoto, Miura and Yanai, "Membership Inference Attacks
/// against Diffusion Models", IEEE SPW 2023): the training objective evaluated on the image, unconditionally.
/// For each t with seeded noise n_t ~ N(0, I): x_t = sqrt(a_t) z0 + sqrt(1 - a_t) n_t (diffusers add_noise);
/// loss_t = mean((eps(x_t, t, e0) - n_t)^2) over the latent; score = -(1/|T|) sum_t loss_t
/// (members, and memorized images most of all, are denoised better). All t run as one UNet batch.
/// </summary>
public sealed class DenoisingLossMethod : IDetectionMethod
{
    public const string Name = "denoising-loss";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;

    public DenoisingLossMethod(StableDiffusion model, DenoisingLossOptions options, Tensor? emptyEmbedding = null)
    {
        BaselineModel.RequireTrainingTimesteps(model, Name, options.Timesteps);
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public DenoisingLossOptions Options { get; }

    public IReadOnlyList<string> Methods => [Name];

    public string OptionsKey => OptionsKeys.Hash(new Dictionary<string, string>
    {
        ["method"] = Name,
        ["timesteps"] = string.Join(",", Options.Timesteps.Select(t => t.ToString(CultureInfo.InvariantCulture))),
        ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
    });

    public bool NeedsCaption => false;

    /// <summary>The noise n_t used at timestep t, [1, C, h, w] like the latent.</summary>
    public static Tensor Noise(int seed, int t, int[] latentShape) => new GaussianNoise(seed * 1000L + t).Sample(latentShape);

    /// <summary>
    /// The noise n_t (<see cref="Noise"/>) and the noised latents x_t = sqrt(a_t) z0 + sqrt(1 - a_t) n_t at each timestep
    /// (diffusers add_noise), each [1, C, h, w] like z0; the fit gain noises its images the same way.
    /// </summary>
    public static (Tensor[] Noise, Tensor[] Noisy) Noised(StableDiffusion model, Tensor z0, IReadOnlyList<int> timesteps, int seed)
    {
        var noise = timesteps.Select(t => Noise(seed, t, z0.Shape)).ToArray();
        var noisy = new Tensor[timesteps.Count];
        for (int i = 0; i < timesteps.Count; i++)
        {
            var (signal, sigma) = BaselineModel.ForwardCoefficients(model, timesteps[i]);
            noisy[i] = new Tensor(z0.Shape);
            for (long j = 0; j < z0.Length; j++)
                noisy[i].Data[j] = signal * z0.Data[j] + sigma * noise[i].Data[j];
        }
        return (noise, noisy);
    }

    public IReadOnlyList<MethodResult> Score(ScanInput input) => [ScoreLatent(BaselineModel.Latent(_model, input))];

    /// <summary>The score from the input's UNet-space latent z0 = s E(x).mean, [1, C, h, w] (lets a scan encode each image once).</summary>
    public MethodResult ScoreLatent(Tensor z0)
    {
        z0 = BaselineModel.HostLatent(_model, Name, z0);
        var ts = Options.Timesteps;
        var (noise, noisy) = Noised(_model, z0, ts, Options.Seed);
        var eps = _model.Sampler.PredictNoise(Tensor.ConcatBatch(noisy), ts, _empty);       // [|T|, C, h, w]
        int per = (int)z0.Length;
        var components = new Dictionary<string, double>();
        double total = 0;
        for (int i = 0; i < ts.Count; i++)
        {
            double loss = LatentDistance.MeanSquared(eps.Data.AsSpan(i * per, per), noise[i].Data);
            components[$"loss_t{ts[i]}"] = loss;
            total += loss;
        }
        return new MethodResult(Name, -total / ts.Count, components);
    }
}
