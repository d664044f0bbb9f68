using System.Globalization;
using IIP.Detection.Methods;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.Baselines;

/// <summary>Options of <see cref="OriPromptMethod"/> (defaults: Wen et al.'s 50 steps x 4 generations, guidance 7.5).</summary>
public sealed record OriPromptOptions
{
    /// <summary>Generations per image, each from its own initial noise latent.</summary>
    public int Seeds { get; init; } = 4;

    /// <summary>DDIM steps of each generation (the grid t = 981, ..., 1 for 50).</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale.</summary>
    public float Guidance { get; init; } = 7.5f;

    /// <summary>Seed of the initial noise latents: <see cref="Seeds"/> latents drawn one after another from <see cref="GaussianNoise"/>(Seed).</summary>
    public int Seed { get; init; }
}

/// <summary>
/// "Ori prompt" reference (IIP.md; Wen et al., "Detecting, Explaining, and Mitigating Memorization in Diffusion
/// Models", ICLR 2024, Sec. 3): generate from the image's own caption c and measure the text-conditional noise
/// prediction at every step, TCNP_t = ||eps(x_t, t, c) - eps(x_t, t, e0)||_2 over the whole latent.
/// For each of n seeds: x_T ~ N(0, I) at the native latent shape, DDIM over the grid with CFG
/// eps = eps_u + g (eps_c - eps_u), recording TCNP per step. score = (1 / (n T)) sum_seeds sum_steps TCNP.
/// All seeds run as one batch: the UNet sees [x_1..x_n, x_1..x_n] with contexts [e0 x n, c x n].
/// Needs the caption: it is the one method given the training prompt, so it bounds what prompt-free methods can reach.
/// </summary>
public sealed class OriPromptMethod : IDetectionMethod
{
    public const string Name = "ori-prompt";

    private readonly StableDiffusion _model;
    private readonly Tensor _empty;

    public OriPromptMethod(StableDiffusion model, OriPromptOptions options, Tensor? emptyEmbedding = null)
    {
        if (options.Seeds < 1) throw new ArgumentException($"{Name}: seeds must be at least 1, got {options.Seeds}");
        if (options.Steps < 1 || options.Steps > model.Scheduler.Config.TrainTimesteps)
            throw new ArgumentException($"{Name}: steps must be in 1..{model.Scheduler.Config.TrainTimesteps}, got {options.Steps}");
        _model = model;
        Options = options;
        _empty = emptyEmbedding is null ? BaselineModel.EmptyEmbedding(model) : model.Backend.ToHost(emptyEmbedding);
    }

    public OriPromptOptions Options { get; }

    public IReadOnlyList<string> Methods => [Name];

    public string OptionsKey => OptionsKeys.Hash(new Dictionary<string, string>
    {
        ["method"] = Name,
        ["seeds"] = Options.Seeds.ToString(CultureInfo.InvariantCulture),
        ["steps"] = Options.Steps.ToString(CultureInfo.InvariantCulture),
        ["guidance"] = Options.Guidance.ToString("R", CultureInfo.InvariantCulture),
        ["seed"] = Options.Seed.ToString(CultureInfo.InvariantCulture),
    });

    public bool NeedsCaption => true;

    public IReadOnlyList<MethodResult> Score(ScanInput input)
    {
        if (string.IsNullOrWhiteSpace(input.Caption))
            throw new ArgumentException($"{Name} needs the image's caption (labels file `caption` field); none given for {input.ImagePath}");
        var cond = _model.Backend.ToHost(_model.EncodePrompts([input.Caption]));   // [1, L, D]
        var tcnp = Generate(cond);                                                 // [seeds][steps]
        int seeds = tcnp.Length, steps = tcnp[0].Length;
        var perStep = Enumerable.Range(0, steps).Select(s => tcnp.Average(seed => seed[s])).ToArray();
        var components = new Dictionary<string, double>
        {
            ["tcnp_mean"] = perStep.Average(),
            ["tcnp_first"] = perStep[0],
        };
        for (int i = 0; i < seeds; i++) components[$"tcnp_seed{i}"] = tcnp[i].Average();
        return [new MethodResult(Name, components["tcnp_mean"], components, perStep)];
    }

    /// <summary>
    /// The batched guided generations from the caption embedding cond [1, L, D] through the model's one guided DDIM loop
    /// (<see cref="Engine.Sampling.DdimSampler.GuidedSample"/>: the UNet sees [x_1..x_n, x_1..x_n] with contexts [e0 x n, c x n]);
    /// TCNP [seed][step].
    /// </summary>
    private double[][] Generate(Tensor cond)
    {
        var o = Options;
        var rng = new GaussianNoise(o.Seed);
        var x = Tensor.ConcatBatch(Enumerable.Range(0, o.Seeds).Select(_ => rng.Sample(_model.NativeLatentShape)).ToArray()); // [n, C, h, w]
        var perStep = _model.Sampler.GuidedSample(x, _model.Scheduler.Timesteps(o.Steps), _model.Scheduler.StepRatio(o.Steps), _empty, cond, o.Guidance).Tcnp; // [step][seed]
        return Enumerable.Range(0, o.Seeds).Select(seed => perStep.Select(step => step[seed]).ToArray()).ToArray();
    }
}
