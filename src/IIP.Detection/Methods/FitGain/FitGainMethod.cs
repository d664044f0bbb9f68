using System.Globalization;
using IIP.Detection.Methods;
using IIP.Detection.Methods.Baselines;
using IIP.Engine.Optim;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.FitGain;

/// <summary>Options of <see cref="FitGainMethod"/>.</summary>
public sealed record FitGainOptions
{
    /// <summary>Training timesteps at which the image is noised and denoised (0 .. T-1).</summary>
    public IReadOnlyList<int> Timesteps { get; init; } = [300, 500];

    /// <summary>Adam steps on the prompt embedding, from the empty prompt's.</summary>
    public int Iterations { get; init; } = 20;

    public double LearningRate { get; init; } = 0.05;

    /// <summary>Seed of the noise: the noise at t is <see cref="DenoisingLossMethod.Noise"/>(Seed, t), as the denoising loss draws it.</summary>
    public int Seed { get; init; }
}

/// <summary>
/// The fit gain, a prompt-free memorization signal beyond the paper: how much a text condition found for the image
/// lowers its denoising loss. With x_t = sqrt(a_t) z0 + sqrt(1 - a_t) n_t at the timesteps T and
/// L(c) = (1/|T|) sum_t mean((eps(x_t, t, c) - n_t)^2), the embedding starts at the empty prompt's u and takes
/// <see cref="FitGainOptions.Iterations"/> Adam steps on L (token 0 kept); score = ln L(u) - ln L(c*). A model that has
/// memorized an image under its caption denoises it far better once the condition points at it; the ratio measures that
/// against the image's own unconditional loss, so an image that is simply easy to denoise (flat, simple) is not
/// mistaken for a memorized one, the failure of the raw loss on real models. Components: loss_uncond, loss_fit.
/// </summary>
public sealed class FitGainMethod : IDetectionMethod
{
    public const string Name = "fit-gain";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;

    public FitGainMethod(StableDiffusion model, FitGainOptions options, Tensor? emptyEmbedding = null)
    {
        BaselineModel.RequireTrainingTimesteps(model, Name, options.Timesteps);
        if (options.Iterations < 1) throw new ArgumentException($"{Name}: --fit-iterations {options.Iterations} must be at least 1");
        if (!(options.LearningRate > 0)) throw new ArgumentException($"{Name}: --fit-lr {options.LearningRate} must be positive");
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public FitGainOptions Options { get; }

    public IReadOnlyList<string> Methods => [Name];

    /// <summary>
    /// The options hashed; on a v-prediction model also the loss's form (the noise the velocity stands for), so records and
    /// calibrations made before the loss was measured on it are not reused.
    /// </summary>
    public string OptionsKey
    {
        get
        {
            var key = new Dictionary<string, string>
            {
                ["method"] = Name,
                ["timesteps"] = string.Join(",", Options.Timesteps.Select(t => t.ToString(CultureInfo.InvariantCulture))),
                ["iterations"] = Options.Iterations.ToString(CultureInfo.InvariantCulture),
                ["lr"] = Options.LearningRate.ToString("R", CultureInfo.InvariantCulture),
                ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
            };
            if (_model.Scheduler.PredictsVelocity) key["loss"] = "eps-from-v";
            return OptionsKeys.Hash(key);
        }
    }

    public bool NeedsCaption => false;

    public IReadOnlyList<MethodResult> Score(ScanInput input) => [ScoreLatent(BaselineModel.Latent(_model, input))];

    /// <summary>The score from the input's UNet-space latent z0 [1, C, h, w].</summary>
    public MethodResult ScoreLatent(Tensor z0)
    {
        z0 = BaselineModel.HostLatent(_model, Name, z0);
        var (noise, noisy) = DenoisingLossMethod.Noised(_model, z0, Options.Timesteps, Options.Seed);   // |T| x [1, C, h, w] each

        var c = _empty.Clone();
        int width = c.Dim(-1);
        var adam = new AdamW((int)c.Length, new AdamWOptions { LearningRate = Options.LearningRate, WeightDecay = 0 });
        double unconditional = 0;
        for (int step = 0; step <= Options.Iterations; step++)
        {
            var (loss, gradient) = LossAndGradient(noisy, noise, c);
            if (step == 0) unconditional = loss;
            if (step == Options.Iterations)
            {
                if (!(loss > 0 && unconditional > 0)) throw new InvalidOperationException($"{Name}: a denoising loss of {loss:G4} has no logarithm");
                return new MethodResult(Name, Math.Log(unconditional) - Math.Log(loss),
                    new Dictionary<string, double> { ["loss_uncond"] = unconditional, ["loss_fit"] = loss });
            }
            Array.Clear(gradient, 0, width);   // token 0 (BOS) keeps its embedding (no weight decay here)
            adam.Step(c.Data, gradient);
        }
        throw new InvalidOperationException("unreachable");
    }

    // L(c) over the timesteps and its gradient [S * D] (the last step's gradient is computed and not used: one
    // function for both keeps the loss that is reported the loss that is optimized)
    private (double Loss, float[] Gradient) LossAndGradient(Tensor[] noisy, Tensor[] noise, Tensor c)
    {
        var gradient = new float[c.Length];
        double loss = 0;
        int n = noisy.Length;
        for (int i = 0; i < n; i++)
        {
            var (l, g) = DenoisingFitObjective.LossAndGradient(_model.Unet, _model.Scheduler, _model.Backend, noisy[i], Options.Timesteps[i], noise[i], c);
            loss += l / n;
            for (int j = 0; j < gradient.Length; j++) gradient[j] += g.Data[j] / n;
        }
        return (loss, gradient);
    }
}
