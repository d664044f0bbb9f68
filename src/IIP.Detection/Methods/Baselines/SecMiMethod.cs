using System.Globalization;
using IIP.Detection.Methods;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.Baselines;

/// <summary>Options of <see cref="SecMiMethod"/> (the authors' defaults, <c>--t_sec 100 --k 10</c>).</summary>
public sealed record SecMiOptions
{
    /// <summary>t_SEC: the timestep the one-step round trip reaches (a multiple of <see cref="Interval"/>).</summary>
    public int Timestep { get; init; } = 100;

    /// <summary>k: the DDIM interval of every deterministic step.</summary>
    public int Interval { get; init; } = 10;

    /// <summary>Text conditioning of every noise prediction (SecMI-LDM: the caption, no guidance).</summary>
    public BaselineConditioning Conditioning { get; init; } = BaselineConditioning.Empty;

    /// <summary>
    /// SecMI as SecMI-LDM runs it on Stable Diffusion (jinhaoduan/SecMI-LDM, src/mia/secmi.py and its
    /// pipeline_stable_diffusion.py): the caption's embedding with guidance 1 (none), the grid 0, 10, ..., 140 inverted
    /// deterministically, one step up to 150 and back, score = the squared L2 error at 140 (reverse_results[14] against
    /// denoising_results[-15]): t_SEC = 150, k = 10 here.
    /// </summary>
    public static SecMiOptions AuthorsStableDiffusion { get; } = new() { Timestep = 150, Interval = 10, Conditioning = BaselineConditioning.Caption };
}

/// <summary>
/// SecMI's t-error (Duan, Kong et al., "Are Diffusion Models Vulnerable to Membership Inference Attacks?",
/// ICML 2023; SecMI_stat). Steps as in the authors' code (github.com/jinhaoduan/SecMI, mia_evals/secmia.py,
/// <c>get_intermediate_results</c>, <c>ddim_singlestep</c>), on the training-timestep indices of a(t) = alphas_cumprod[t]:
/// a deterministic DDIM step from s to s' uses the prediction at the current time s,
///   D(x, s, s') = sqrt(a(s')) x0 + sqrt(1 - a(s')) eps,  x0 = (x - sqrt(1 - a(s)) eps) / sqrt(a(s)),  eps = eps(x, s, e0).
/// 1. Deterministic inversion: x~_0 = z0 (at index 0, a(0) = alphas_cumprod[0]); x~_{s+k} = D(x~_s, s, s + k)
///    for s = 0, k, ..., t_SEC - 2k, ending at x~ = x~_{t_SEC - k} (0 -> 10 -> ... -> 90 for the defaults; no offset:
///    these are indices of a(t), not the 1, 11, 21 ... sampling grid).
/// 2. Round trip: up one step, x' = D(x~, t_SEC - k, t_SEC), and back, x^ = D(x', t_SEC, t_SEC - k).
/// 3. t-error = mean_i (x~_i - x^_i)^2; score = -t-error (members have smaller errors).
/// The code's statistic sums over elements instead of averaging (the component t_error_sum; same ranking).
/// UNet calls: t_SEC / k + 1 (11 for the defaults). "secmi" is prompt-free (e0); "secmi-sd"
/// (<see cref="SecMiOptions.AuthorsStableDiffusion"/>) conditions on the caption with SecMI-LDM's t_SEC = 150.
/// </summary>
public sealed class SecMiMethod : IDetectionMethod
{
    public const string Name = "secmi";
    public const string StableDiffusionName = "secmi-sd";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;
    private readonly string _name;

    /// <param name="name"><see cref="Name"/> or <see cref="StableDiffusionName"/>: the method name its records carry.</param>
    public SecMiMethod(StableDiffusion model, SecMiOptions options, Tensor? emptyEmbedding = null, string name = Name)
    {
        _name = name;
        int total = model.Scheduler.Config.TrainTimesteps;
        if (options.Interval < 1 || options.Timestep < options.Interval || options.Timestep % options.Interval != 0 || options.Timestep >= total)
            throw new ArgumentException($"{name}: need 1 <= k <= t_SEC < {total} with t_SEC a multiple of k, got t_SEC {options.Timestep}, k {options.Interval}");
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public SecMiOptions Options { get; }

    public IReadOnlyList<string> Methods => [_name];

    /// <summary>The options hashed; the conditioning only when it is the caption, so earlier prompt-free keys stay.</summary>
    public string OptionsKey
    {
        get
        {
            var key = new Dictionary<string, string>
            {
                ["method"] = _name,
                ["t_sec"] = Options.Timestep.ToString(CultureInfo.InvariantCulture),
                ["k"] = Options.Interval.ToString(CultureInfo.InvariantCulture),
            };
            if (Options.Conditioning != BaselineConditioning.Empty) key["conditioning"] = Options.Conditioning.ToString();
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
        int k = Options.Interval, tSec = Options.Timestep;
        var x = z0;                                            // [1, C, h, w], x~_0 = z0
        for (int s = 0; s < tSec - k; s += k)
            x = Transfer(x, s, s + k, cond);                   // x~_{s+k}
        var up = Transfer(x, tSec - k, tSec, cond);            // x' at t_SEC
        var back = Transfer(up, tSec, tSec - k, cond);         // x^ at t_SEC - k
        double sum = LatentDistance.SumSquared(x.Data, back.Data);
        double tError = sum / x.Length;
        var components = new Dictionary<string, double>
        {
            ["t_error"] = tError,
            ["t_error_sum"] = sum,
        };
        return new MethodResult(_name, -tError, components);
    }

    // D(x, from, to): one deterministic DDIM step with eps(x, from, cond), either direction. x [1, C, h, w] -> [1, C, h, w]
    private Tensor Transfer(Tensor x, int from, int to, Tensor cond) => _model.Sampler.Transfer(x, from, to, cond);
}
