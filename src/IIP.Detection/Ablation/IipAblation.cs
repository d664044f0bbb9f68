using System.Globalization;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Tensors;

namespace IIP.Detection.Ablation;

/// <summary>What `iip ablate` varies (the paper's Tab. 5 and Fig. 7 kind of study, and every option of IIP.md).</summary>
public sealed record AblationPlan
{
    /// <summary>t_I values to sweep (Fig. 7: the initial timestep of the perturbed regeneration).</summary>
    public IReadOnlyList<int> InversionSteps { get; init; } = [2, 5, 10, 15, 20, 30, 40];

    /// <summary>t_P values to sweep at the default t_I (those its window does not allow are left out).</summary>
    public IReadOnlyList<int> MtcnpSteps { get; init; } = [1, 2, 3, 6, 10, 19];

    /// <summary>Guidance scales of the regeneration to sweep at the default t_I (0: the unconditional regeneration).</summary>
    public IReadOnlyList<float> Guidances { get; init; } = [0, 1, 3, 15];

    /// <summary>
    /// Perturbation embeddings to try at the default t_I, each "name=value" changing one option of IIP.md step 4:
    /// iterations=N, init=prompt|random, prompt=TEXT, lr=X, noise=K. "iterations=0" is the step removed (no optimization).
    /// </summary>
    public IReadOnlyList<string> Perturbations { get; init; } = ["iterations=0", "iterations=30", "init=random", "prompt=a photo"];

    /// <summary>lambda_d / lambda_e ratios to score at the default configuration (lambda_e kept at the options' value).</summary>
    public IReadOnlyList<double> WeightRatios { get; init; } = [0.25, 0.5, 2, 4];

    /// <summary>Run the "no inversion" variant: forward noising q(z_t | z0) instead of DDIM inversion.</summary>
    public bool StepsRemoved { get; init; } = true;
}

/// <summary>
/// The ablation study of IIP on a labelled image set. Per image, one DDIM inversion to the largest t_I (the inversion
/// path does not depend on t_I, so every t_I reads its latent from it), then one perturbed regeneration per
/// configuration (t_I, guidance, perturbation embedding, no inversion), each stored as a component record: every
/// similarity (latent cosine, pixel SSIM, the embedding cosine when a model is given; "similarity" is the options'
/// kind, as `iip scan` computes it) and the per-step TCNP. Component records go to a resumable JSONL file;
/// <see cref="Score"/> then turns them into scored series (every option of IIP.md varied one at a time), with scales =
/// the medians of MTCNP and discrepancy over the non-memorized images of the set (IIP.md step 7) unless a calibration
/// is given for the default configuration.
/// </summary>
public sealed class IipAblation(IipSession session, AblationPlan plan)
{
    public const string ComponentMethod = "ablate";
    public const string NoInversion = "no-inversion";
    private const string PerturbationPrefix = "perturbation ";

    /// <summary>The configuration tag of the options' own setting: "tI=" the default t_I.</summary>
    public string DefaultConfiguration => TagOfSteps(session.Options.InversionSteps);

    /// <summary>The configurations computed per image (the component records' option tags); the default t_I is always one.</summary>
    public IReadOnlyList<string> Configurations =>
        plan.InversionSteps.Append(session.Options.InversionSteps).Distinct().Order().Select(TagOfSteps)
            .Concat(plan.Guidances.Where(g => g != session.Options.Guidance).Distinct().Select(TagOfGuidance))
            .Concat(plan.Perturbations.Select(p => PerturbationPrefix + p))
            .Concat(plan.StepsRemoved ? [NoInversion] : [])
            .ToList();

    /// <summary>Computes the component records of every image not yet in <paramref name="done"/>; returns how many images it computed.</summary>
    public int Compute(IReadOnlyList<ScanItem> items, Func<string, Tensor> loadImage, ResultsWriter writer, ResumeSet done, IProgress<ScanProgress>? progress = null,
        IProgress<string>? log = null)
    {
        var o = session.Options;
        var model = session.Model;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int computed = 0, index = 0, skipped = 0;
        int maxSteps = plan.InversionSteps.Append(o.InversionSteps).Max();
        var configurations = Configurations;
        var embeddings = new Dictionary<string, Tensor>();   // perturbation variant -> its embedding, made on first use
        foreach (var item in items)
        {
            index++;
            var pending = configurations.Where(c => !done.IsDone(item.Image, ComponentMethod, c)).ToList();
            if (pending.Count == 0) { skipped++; progress?.Report(new ScanProgress(index, items.Count, skipped, 0, clock.Elapsed, item.Image)); continue; }
            var image = loadImage(item.FullPath);
            var z0 = model.Backend.ToHost(model.EncodeImage(image));
            string sha = ScanContent.Sha256(item.FullPath);
            var path = new List<Tensor>();   // path[k] = latent after k steps
            model.Sampler.Invert(z0, maxSteps, o.GridSteps, session.EmptyEmbedding, path);
            foreach (var config in pending)
            {
                var started = clock.Elapsed;
                var (options, start, embedding) = Setting(config, z0, path, embeddings, log);
                var detector = session.CreateDetector(options with { MtcnpSteps = Math.Min(o.MtcnpSteps, o.MaxMtcnpSteps(options.InversionSteps)) }, embedding);
                var regenerated = detector.Regenerate(start, out var tcnp);
                var similarities = detector.MeasureSimilarities(image, z0, regenerated);
                double similarity = similarities[o.Similarity];   // o.Similarity, as iip scan computes it
                var components = new Dictionary<string, double> { ["similarity"] = similarity, ["discrepancy"] = 1 - similarity };
                foreach (var (kind, value) in similarities) components[SimilarityComponent(kind)] = value;
                var record = new ScanRecord
                {
                    Image = item.Image,
                    Sha256 = sha,
                    Method = ComponentMethod,
                    Options = config,
                    Components = components,
                    Tcnp = tcnp,
                    Seconds = (clock.Elapsed - started).TotalSeconds,
                    Seed = o.Seed,
                };
                writer.Append(record);
                done.Add(record);
            }
            computed++;
            progress?.Report(new ScanProgress(index, items.Count, skipped, 0, clock.Elapsed, item.Image));
        }
        return computed;
    }

    // a configuration tag -> the options it runs under, its start latent and its perturbation embedding
    private (IipOptions Options, Tensor Start, Tensor Embedding) Setting(string config, Tensor z0, List<Tensor> path, Dictionary<string, Tensor> embeddings,
        IProgress<string>? log)
    {
        var o = session.Options;
        if (config == NoInversion) return (o, ForwardNoised(z0, o), session.Perturbation.Embedding);
        if (SweptSteps(config) is { } steps) return (o with { InversionSteps = steps }, path[steps], session.Perturbation.Embedding);
        if (SweptGuidance(config) is { } guidance) return (o with { Guidance = guidance }, path[o.InversionSteps], session.Perturbation.Embedding);
        if (config.StartsWith(PerturbationPrefix, StringComparison.Ordinal))
        {
            string variant = config[PerturbationPrefix.Length..];
            if (!embeddings.TryGetValue(variant, out var embedding))
            {
                var variantOptions = WithPerturbation(o, variant);
                embedding = PerturbationEmbedding.Compute(session.Model, session.ModelFingerprint, variantOptions, session.EmptyEmbedding, session.CacheDirectory, log).Embedding;
                embeddings[variant] = embedding;
            }
            return (o, path[o.InversionSteps], embedding);
        }
        throw new ArgumentException($"unknown ablation configuration '{config}'");
    }

    /// <summary>
    /// The options with one perturbation option changed: "iterations=N", "init=prompt|random", "prompt=TEXT", "lr=X" or
    /// "noise=K" (IIP.md step 4). An unknown name or a bad value is an error naming the variant.
    /// </summary>
    public static IipOptions WithPerturbation(IipOptions o, string variant)
    {
        int eq = variant.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"perturbation variant '{variant}': expected name=value (iterations, init, prompt, lr, noise)");
        string name = variant[..eq], value = variant[(eq + 1)..];
        var changed = name switch
        {
            "iterations" => o with { PerturbationIterations = Number<int>(variant, value) },
            "init" => o with { PerturbationInit = value switch
            {
                "prompt" => PerturbationInit.Prompt,
                "random" => PerturbationInit.Random,
                _ => throw new ArgumentException($"perturbation variant '{variant}': init is prompt or random"),
            } },
            "prompt" => o with { PerturbationPrompt = value, PerturbationInit = PerturbationInit.Prompt },
            "lr" => o with { PerturbationLearningRate = Number<double>(variant, value) },
            "noise" => o with { PerturbationNoiseLatents = Number<int>(variant, value) },
            _ => throw new ArgumentException($"perturbation variant '{variant}': unknown option '{name}' (iterations, init, prompt, lr, noise)"),
        };
        changed.Validate();
        return changed;
    }

    private static T Number<T>(string variant, string text) where T : IParsable<T> =>
        T.TryParse(text, CultureInfo.InvariantCulture, out var value) ? value : throw new ArgumentException($"perturbation variant '{variant}': '{text}' is not a number");

    /// <summary>
    /// The scored series from component records, every option of IIP.md varied one at a time from the default:
    /// "iip CONFIG" for each configuration (t_P = the default's, at most what the configuration's t_I allows), "mtcnp-only tI=X"
    /// and "similarity-only tI=X" along the t_I sweep; at the default configuration "iip tP=Y", "iip window=W" (the other
    /// <see cref="MtcnpWindow"/>), "mtcnp-only", "similarity-only", "iip similarity=KIND"
    /// for each other similarity recorded, "iip sign=-1", "iip lambda_d/lambda_e=R", "iip discrepancy=TRANSFORM" (the other
    /// <see cref="DiscrepancyTransform"/>), "iip scales=STATISTIC" (the other <see cref="ScaleStatistic"/>), and
    /// "iip scales=calibration" when <paramref name="calibration"/> is given.
    /// memorized: image -> label; centres and scales come from the non-memorized images of the set.
    /// </summary>
    public IReadOnlyList<ScanRecord> Score(IReadOnlyList<ScanRecord> components, Func<string, bool?> memorized, CalibrationResult? calibration = null)
    {
        var o = session.Options;
        var byConfig = ByConfiguration(components);
        var series = new List<ScanRecord>();
        foreach (var (config, records) in byConfig)
        {
            int tI = SweptSteps(config) ?? o.InversionSteps;
            int tP = Math.Min(o.MtcnpSteps, o.MaxMtcnpSteps(tI));
            series.AddRange(Combined($"iip {config}", records, tP, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized));
            if (SweptSteps(config) is not null && config != DefaultConfiguration)
            {
                series.AddRange(records.Select(r => r with { Method = $"mtcnp-only {config}", Score = Mtcnp(r, tP), Options = config }));
                series.AddRange(records.Select(r => r with { Method = $"similarity-only {config}", Score = o.DiscrepancySign * r.Components["discrepancy"], Options = config }));
            }
            if (config != DefaultConfiguration) continue;
            foreach (int p in plan.MtcnpSteps.Where(t => t <= o.MaxMtcnpSteps(tI) && t != o.MtcnpSteps))
                series.AddRange(Combined($"iip tP={p}", records, p, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized));
            var otherWindow = o.MtcnpWindow == MtcnpWindow.Late ? MtcnpWindow.First : MtcnpWindow.Late;
            if (o.MtcnpSteps <= (otherWindow == MtcnpWindow.Late ? tI - 1 : tI))
                series.AddRange(Combined($"iip window={OptionText.Kebab(otherWindow)}", records, o.MtcnpSteps, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized,
                    window: otherWindow));
            series.AddRange(records.Select(r => r with { Method = "mtcnp-only", Score = Mtcnp(r, o.MtcnpSteps), Options = config }));
            series.AddRange(records.Select(r => r with { Method = "similarity-only", Score = o.DiscrepancySign * r.Components["discrepancy"], Options = config }));
            foreach (var kind in Enum.GetValues<SimilarityKind>().Where(k => k != o.Similarity && records.All(r => r.Components.ContainsKey(SimilarityComponent(k)))))
            {
                // the discrepancy of another similarity: 1 - that similarity
                var other = records.Select(r => r with { Components = new Dictionary<string, double>(r.Components) { ["discrepancy"] = 1 - r.Components[SimilarityComponent(kind)] } }).ToList();
                series.AddRange(Combined($"iip similarity={OptionText.Kebab(kind)}", other, tP, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized));
            }
            series.AddRange(Combined("iip sign=-1", records, tP, "discrepancy", -o.DiscrepancySign, o.LambdaD, memorized));
            foreach (double ratio in plan.WeightRatios)
                series.AddRange(Combined(FormattableString.Invariant($"iip lambda_d/lambda_e={ratio:G4}"), records, tP, "discrepancy", o.DiscrepancySign, o.LambdaE * ratio, memorized));
            var otherTransform = o.DiscrepancyTransform == DiscrepancyTransform.Log ? DiscrepancyTransform.Linear : DiscrepancyTransform.Log;
            if (!(o.ScaleStatistic == ScaleStatistic.Median && otherTransform == DiscrepancyTransform.Log))
                series.AddRange(Combined($"iip discrepancy={OptionText.Kebab(otherTransform)}", records, tP, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized,
                    transform: otherTransform));
            // IIP.md's medians scale d itself (a median of ln d is negative)
            series.AddRange(o.ScaleStatistic == ScaleStatistic.RobustZ
                ? Combined("iip scales=median", records, tP, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized, ScaleStatistic.Median, transform: DiscrepancyTransform.Linear)
                : Combined("iip scales=robust-z", records, tP, "discrepancy", o.DiscrepancySign, o.LambdaD, memorized, ScaleStatistic.RobustZ));
            if (calibration is not null)
            {
                var (e, d) = calibration.Scales(o.ScaleStatistic, o.DiscrepancyTransform);
                series.AddRange(records.Select(r => Scored(r, "iip scales=calibration", Mtcnp(r, tP), r.Components["discrepancy"], e, d, o.DiscrepancySign, o.LambdaD,
                    o.DiscrepancyTransform)));
            }
        }
        return series;
    }

    /// <summary>Per configuration tag, the latest error-free component record of each image.</summary>
    public static Dictionary<string, List<ScanRecord>> ByConfiguration(IReadOnlyList<ScanRecord> components) =>
        components.Where(r => r.Method == ComponentMethod && r.Error is null && r.Tcnp is not null)
            .GroupBy(r => r.Options ?? "").ToDictionary(g => g.Key, g => g.GroupBy(r => r.Image).Select(x => x.Last()).ToList());

    // the combined score of each record with centres and scales from the non-memorized images of the set (IIP.md step 7)
    private IEnumerable<ScanRecord> Combined(string name, IReadOnlyList<ScanRecord> records, int tP, string discrepancyKey, int sign, double lambdaD,
        Func<string, bool?> memorized, ScaleStatistic? statistic = null, MtcnpWindow? window = null, DiscrepancyTransform? transform = null)
    {
        var negatives = records.Where(r => memorized(r.Image) == false).ToList();
        var kind = statistic ?? session.Options.ScaleStatistic;
        var w = window ?? session.Options.MtcnpWindow;
        var t = transform ?? session.Options.DiscrepancyTransform;
        var e = negatives.Count > 1 ? ComponentScale.From(negatives.Select(r => Mtcnp(r, tP, w)).ToList(), kind, "MTCNP") : new ComponentScale(0, 1);
        var d = negatives.Count > 1
            ? ComponentScale.From(negatives.Select(r => IipOptions.TransformDiscrepancy(r.Components[discrepancyKey], t)).ToList(), kind, "discrepancy")
            : new ComponentScale(0, 1);
        return records.Select(r => Scored(r, name, Mtcnp(r, tP, w), r.Components[discrepancyKey], e, d, sign, lambdaD, t));
    }

    // lambda_e (MTCNP - centre_e) / scale_e + lambda_d sign (T(d) - centre_d) / scale_d, with the parts in the components
    private ScanRecord Scored(ScanRecord r, string name, double mtcnp, double discrepancy, ComponentScale e, ComponentScale d, int sign, double lambdaD,
        DiscrepancyTransform transform)
    {
        double term = IipOptions.TransformDiscrepancy(discrepancy, transform);
        return r with
        {
            Method = name,
            Score = session.Options.LambdaE * e.Apply(mtcnp) + lambdaD * sign * d.Apply(term),
            Components = new Dictionary<string, double>(r.Components)
            {
                ["mtcnp"] = mtcnp, ["discrepancy_term"] = term, ["center_e"] = e.Center, ["scale_e"] = e.Scale, ["center_d"] = d.Center, ["scale_d"] = d.Scale,
            },
        };
    }

    /// <summary>The component name of a similarity kind in ablation records: "similarity_latent_cosine", ...</summary>
    public static string SimilarityComponent(SimilarityKind kind) => "similarity_" + OptionText.Kebab(kind).Replace('-', '_');

    public static string TagOfSteps(int steps) => FormattableString.Invariant($"tI={steps}");

    public static string TagOfGuidance(float guidance) => FormattableString.Invariant($"g={guidance:R}");

    // "tI=20" -> 20; other configurations run at the default t_I
    public static int? SweptSteps(string config) =>
        config.StartsWith("tI=", StringComparison.Ordinal) ? int.Parse(config[3..], CultureInfo.InvariantCulture) : null;

    private static float? SweptGuidance(string config) =>
        config.StartsWith("g=", StringComparison.Ordinal) ? float.Parse(config[2..], CultureInfo.InvariantCulture) : null;

    // MTCNP of a component record under the options' window, or another
    private double Mtcnp(ScanRecord r, int tP, MtcnpWindow? window = null) => IipOptions.MtcnpOf(r.Tcnp!, tP, window ?? session.Options.MtcnpWindow);

    // z_t = sqrt(a_t) z0 + sqrt(1 - a_t) n: the inverted latent replaced by forward diffusion q(z_t | z0) at t_I's timestep
    private Tensor ForwardNoised(Tensor z0, IipOptions o)
    {
        var grid = session.Model.Scheduler.Timesteps(o.GridSteps);
        int t = grid[grid.Length - o.InversionSteps];
        float a = session.Model.Scheduler.Alpha(t);
        var noise = new GaussianNoise(o.Seed + 1).Sample(z0.Shape);
        var z = new Tensor(z0.Shape);
        for (long i = 0; i < z.Length; i++) z.Data[i] = MathF.Sqrt(a) * z0.Data[i] + MathF.Sqrt(1 - a) * noise.Data[i];
        return z;
    }
}
