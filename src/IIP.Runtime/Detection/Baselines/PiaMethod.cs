using System.Globalization;
using IIP.Runtime.Pipelines;
using IIP.Runtime.Scanning;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Detection.Baselines;

/// <summary>Options of <see cref="PiaMethod"/>.</summary>
public sealed record PiaOptions
{
    /// <summary>Training timesteps t at which the proximal-initialization error is measured (PIA attacks t = 200 by default).</summary>
    public IReadOnlyList<int> Timesteps { get; init; } = [200];

    /// <summary>
    /// p of the l_p norm. 4 as in the authors' code (kong13661/PIA, <c>components.PIA</c>, <c>lp=4</c>, used by
    /// <c>DDPM/attack.py</c>); the paper's text could not be retrieved here, so the code is the source.
    /// </summary>
    public double NormP { get; init; } = 4;
}

/// <summary>
/// PIA, the Proximal Initialization Attack (Kong, Duan et al., "An Efficient Membership Inference Attack for the
/// Diffusion Model by Proximal Initialization", ICLR 2024; code github.com/kong13661/PIA): the model's own
/// prediction at t = 0 stands in for the noise, eps0 = eps(z0, 0, e0); then for each t
/// x_t = sqrt(a_t) z0 + sqrt(1 - a_t) eps0 and R_t = ||eps(x_t, t, e0) - eps0||_p over the latent;
/// score = -(1/|T|) sum_t R_t (members are reconstructed more consistently). No randomness.
/// The authors' code sums |.|^p without the root (same ranking) and, on Stable Diffusion, conditions on the
/// caption; this prompt-free variant conditions on e0 like the other baselines.
/// </summary>
public sealed class PiaMethod : IDetectionMethod
{
    public const string Name = "pia";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;

    public PiaMethod(StableDiffusion model, PiaOptions options, Tensor? emptyEmbedding = null)
    {
        BaselineModel.RequireTrainingTimesteps(model, Name, options.Timesteps);
        if (!(options.NormP > 0) || double.IsInfinity(options.NormP))
            throw new ArgumentException($"{Name}: norm p must be a positive finite number, got {options.NormP}");
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public PiaOptions Options { get; }

    public IReadOnlyList<string> Methods => [Name];

    public string OptionsKey => ScanHashes.OptionsHash(new Dictionary<string, string>
    {
        ["method"] = Name,
        ["timesteps"] = string.Join(",", Options.Timesteps.Select(t => t.ToString(CultureInfo.InvariantCulture))),
        ["p"] = Options.NormP.ToString("R", CultureInfo.InvariantCulture),
    });

    public bool NeedsCaption => false;

    public IReadOnlyList<MethodResult> Score(ScanInput input) => [ScoreLatent(BaselineModel.Latent(_model, input))];

    /// <summary>The score from the input's UNet-space latent z0 = s E(x).mean, [1, C, h, w] (lets a scan encode each image once).</summary>
    public MethodResult ScoreLatent(Tensor z0)
    {
        z0 = BaselineModel.HostLatent(_model, Name, z0);
        var eps0 = BaselineModel.PredictNoise(_model, z0, 0, _empty);           // [1, C, h, w]
        var ts = Options.Timesteps;
        var noisy = new Tensor[ts.Count];
        for (int i = 0; i < ts.Count; i++)
        {
            var (signal, sigma) = BaselineModel.ForwardCoefficients(_model, ts[i]);
            noisy[i] = new Tensor(z0.Shape);
            for (long j = 0; j < z0.Length; j++)
                noisy[i].Data[j] = signal * z0.Data[j] + sigma * eps0.Data[j];
        }
        var eps = BaselineModel.PredictNoise(_model, Tensor.ConcatBatch(noisy), ts, _empty); // [|T|, C, h, w]
        int per = (int)z0.Length;
        var components = new Dictionary<string, double>();
        double total = 0;
        for (int i = 0; i < ts.Count; i++)
        {
            double norm = LatentDistance.LpNorm(eps.Data.AsSpan(i * per, per), eps0.Data, Options.NormP);
            components[$"norm_t{ts[i]}"] = norm;
            total += norm;
        }
        return new MethodResult(Name, -total / ts.Count, components);
    }
}
