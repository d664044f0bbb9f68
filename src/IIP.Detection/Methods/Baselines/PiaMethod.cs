using System.Globalization;
using IIP.Detection.Methods;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.Baselines;

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

    /// <summary>Text conditioning of every noise prediction (eps0 included).</summary>
    public BaselineConditioning Conditioning { get; init; } = BaselineConditioning.Empty;

    /// <summary>Classifier-free guidance of every noise prediction (1: none).</summary>
    public float Guidance { get; init; } = 1f;

    /// <summary>
    /// false: score = -mean_t R_t; true: score = -mean_t ln R_t, which weighs every timestep alike however large its
    /// errors are (a per-image form of CopyMark's per-timestep normalization, which needs the whole population).
    /// </summary>
    public bool LogAggregate { get; init; }

    /// <summary>
    /// PIA as its authors run it on Stable Diffusion (kong13661/PIA, stable_diffusion/stable_attack.py and components.py):
    /// the caption with classifier-free guidance 7.5 at every UNet call (eps0 included), t = 10, 20, ..., 500
    /// (attack_num 50, interval 10), p = 4 (the PIA class's default; PIAN is not used). Their script prints one AUC per
    /// timestep; one score per image here averages ln R_t. Two of their choices are not copied: a linear beta schedule
    /// (SD's own scaled_linear is used) and 2 z - 1 applied to the latent (the SD latent is used as it is).
    /// </summary>
    public static PiaOptions AuthorsStableDiffusion { get; } = new()
    {
        Timesteps = Enumerable.Range(1, 50).Select(i => 10 * i).ToArray(),
        NormP = 4,
        Conditioning = BaselineConditioning.Caption,
        Guidance = 7.5f,
        LogAggregate = true,
    };
}

/// <summary>
/// PIA, the Proximal Initialization Attack (Kong, Duan et al., "An Efficient Membership Inference Attack for the
/// Diffusion Model by Proximal Initialization", ICLR 2024; code github.com/kong13661/PIA): the model's own
/// prediction at t = 0 stands in for the noise, eps0 = eps(z0, 0, e0); then for each t
/// x_t = sqrt(a_t) z0 + sqrt(1 - a_t) eps0 and R_t = ||eps(x_t, t, e0) - eps0||_p over the latent;
/// score = -(1/|T|) sum_t R_t, or -(1/|T|) sum_t ln R_t with <see cref="PiaOptions.LogAggregate"/> (members are
/// reconstructed more consistently). No randomness. The authors' code sums |.|^p without the root (same ranking per t).
/// "pia" is the prompt-free form (e0, no guidance); "pia-sd" (<see cref="PiaOptions.AuthorsStableDiffusion"/>) conditions
/// every prediction on the caption with guidance 7.5, as the authors' Stable Diffusion code does.
/// </summary>
public sealed class PiaMethod : IDetectionMethod
{
    public const string Name = "pia";
    public const string StableDiffusionName = "pia-sd";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;
    private readonly string _name;

    /// <param name="name"><see cref="Name"/> or <see cref="StableDiffusionName"/>: the method name its records carry.</param>
    public PiaMethod(StableDiffusion model, PiaOptions options, Tensor? emptyEmbedding = null, string name = Name)
    {
        _name = name;
        BaselineModel.RequireTrainingTimesteps(model, name, options.Timesteps);
        if (!(options.NormP > 0) || double.IsInfinity(options.NormP))
            throw new ArgumentException($"{name}: norm p must be a positive finite number, got {options.NormP}");
        if (!float.IsFinite(options.Guidance))
            throw new ArgumentException($"{name}: guidance must be finite, got {options.Guidance}");
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public PiaOptions Options { get; }

    public IReadOnlyList<string> Methods => [_name];

    /// <summary>The options hashed; the conditioning, guidance and aggregation only when they differ from the prompt-free defaults, so earlier keys stay.</summary>
    public string OptionsKey
    {
        get
        {
            var key = new Dictionary<string, string>
            {
                ["method"] = _name,
                ["timesteps"] = string.Join(",", Options.Timesteps.Select(t => t.ToString(CultureInfo.InvariantCulture))),
                ["p"] = Options.NormP.ToString("R", CultureInfo.InvariantCulture),
            };
            if (Options.Conditioning != BaselineConditioning.Empty) key["conditioning"] = Options.Conditioning.ToString();
            if (Options.Guidance != 1f) key["guidance"] = Options.Guidance.ToString("R", CultureInfo.InvariantCulture);
            if (Options.LogAggregate) key["aggregate"] = "mean-log";
            return OptionsKeys.Hash(key);
        }
    }

    public bool NeedsCaption => Options.Conditioning == BaselineConditioning.Caption;

    public IReadOnlyList<MethodResult> Score(ScanInput input) =>
        [ScoreLatent(BaselineModel.Latent(_model, input), BaselineModel.Condition(_model, _name, Options.Conditioning, input, _empty))];

    /// <summary>
    /// The score from the input's UNet-space latent z0 = s E(x).mean, [1, C, h, w] (lets a scan encode each image once), under
    /// the conditioning embedding cond [1, L, D] (default e0).
    /// </summary>
    public MethodResult ScoreLatent(Tensor z0, Tensor? cond = null)
    {
        z0 = BaselineModel.HostLatent(_model, _name, z0);
        cond ??= _empty;
        var eps0 = BaselineModel.GuidedNoise(_model, z0, [0], _empty, cond, Options.Guidance);   // [1, C, h, w]
        var ts = Options.Timesteps;
        var noisy = new Tensor[ts.Count];
        for (int i = 0; i < ts.Count; i++)
        {
            var (signal, sigma) = BaselineModel.ForwardCoefficients(_model, ts[i]);
            noisy[i] = new Tensor(z0.Shape);
            for (long j = 0; j < z0.Length; j++)
                noisy[i].Data[j] = signal * z0.Data[j] + sigma * eps0.Data[j];
        }
        int per = (int)z0.Length;
        var components = new Dictionary<string, double>();
        double total = 0;
        const int Chunk = 10;   // timesteps per UNet call (2 x Chunk with guidance)
        for (int first = 0; first < ts.Count; first += Chunk)
        {
            int count = Math.Min(Chunk, ts.Count - first);
            var chunk = ts.Skip(first).Take(count).ToArray();
            var eps = BaselineModel.GuidedNoise(_model, Tensor.ConcatBatch(noisy[first..(first + count)]), chunk, _empty, cond, Options.Guidance); // [count, C, h, w]
            for (int i = 0; i < count; i++)
            {
                double norm = LatentDistance.LpNorm(eps.Data.AsSpan(i * per, per), eps0.Data, Options.NormP);
                components[$"norm_t{chunk[i]}"] = norm;
                total += Options.LogAggregate ? Math.Log(norm) : norm;
            }
        }
        return new MethodResult(_name, -total / ts.Count, components);
    }
}
