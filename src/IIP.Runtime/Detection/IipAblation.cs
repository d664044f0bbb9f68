using IIP.Runtime.Scanning;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Detection;

/// <summary>What `iip ablate` varies (the paper's Tab. 5 and Fig. 7 kind of study).</summary>
public sealed record AblationPlan
{
    /// <summary>t_I values to sweep (Fig. 7: the initial timestep of the perturbed regeneration).</summary>
    public IReadOnlyList<int> InversionSteps { get; init; } = [5, 10, 20, 30, 40];

    /// <summary>t_P values to sweep at the default t_I.</summary>
    public IReadOnlyList<int> MtcnpSteps { get; init; } = [1, 5, 10, 20];

    /// <summary>Run the "step removed" variants: forward noising instead of DDIM inversion, and the un-optimized perturbation embedding.</summary>
    public bool StepsRemoved { get; init; } = true;
}

/// <summary>
/// The ablation study of IIP on a labelled image set. Per image, one DDIM inversion to the largest t_I
/// (the inversion path does not depend on t_I, so every t_I reads its latent from it), then one perturbed
/// regeneration per configuration, each stored as a component record (MTCNP, discrepancy, per-step TCNP).
/// The similarity is the session options' <see cref="IipOptions.Similarity"/>, computed by the detector's own
/// <see cref="IipDetector.MeasureSimilarity"/> (so latent cosine, pixel SSIM or embedding cosine as in `iip scan`).
/// Component records go to a resumable JSONL file; <see cref="Score"/> then turns them into one scored series
/// per variant, with scales = the medians of MTCNP and discrepancy over the non-memorized images of the set
/// (IIP.md step 7: "median of each component over images known to be non-memorized").
/// </summary>
public sealed class IipAblation(IipSession session, AblationPlan plan)
{
    public const string ComponentMethod = "ablate";

    /// <summary>The configurations computed per image (the component records' option tags); the default t_I is always one.</summary>
    public IReadOnlyList<string> Configurations =>
        plan.InversionSteps.Append(session.Options.InversionSteps).Distinct().Order().Select(t => $"tI={t}")
            .Concat(plan.StepsRemoved ? ["no-inversion", "no-optimization"] : [])
            .ToList();

    /// <summary>Computes the component records of every image not yet in <paramref name="done"/>; returns how many images it computed.</summary>
    public int Compute(IReadOnlyList<ScanItem> items, Func<string, Tensor> loadImage, ResultsWriter writer, ResumeSet done, IProgress<ScanProgress>? progress = null)
    {
        var o = session.Options;
        var model = session.Model;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int computed = 0, index = 0, skipped = 0;
        int maxSteps = plan.InversionSteps.Append(o.InversionSteps).Max();
        var unoptimized = plan.StepsRemoved ? UnoptimizedEmbedding() : null;
        foreach (var item in items)
        {
            index++;
            var pending = Configurations.Where(c => !done.IsDone(item.Image, ComponentMethod, c)).ToList();
            if (pending.Count == 0) { skipped++; progress?.Report(new ScanProgress(index, items.Count, skipped, 0, clock.Elapsed, item.Image)); continue; }
            var image = loadImage(item.FullPath);
            var z0 = model.Backend.ToHost(model.EncodeImage(image));
            string sha = ScanHashes.Sha256OfFile(item.FullPath);
            var path = model.Invert(z0, maxSteps, o.GridSteps, session.EmptyEmbedding);   // path[k] = latent after k steps
            foreach (var config in pending)
            {
                var started = clock.Elapsed;
                var (options, start, embedding) = config switch
                {
                    "no-inversion" => (o, ForwardNoised(z0, o), session.Perturbation.Embedding),
                    "no-optimization" => (o, path[o.InversionSteps], unoptimized!),
                    _ => (o with { InversionSteps = SweptSteps(config)!.Value }, path[SweptSteps(config)!.Value], session.Perturbation.Embedding),
                };
                var detector = session.CreateDetector(options with { MtcnpSteps = Math.Min(o.MtcnpSteps, options.InversionSteps) }, embedding);
                var regenerated = detector.Regenerate(start, out var tcnp);
                double similarity = detector.MeasureSimilarity(image, z0, regenerated);   // o.Similarity, as iip scan computes it
                var record = new ScanRecord
                {
                    Image = item.Image,
                    Sha256 = sha,
                    Method = ComponentMethod,
                    Options = config,
                    Components = new Dictionary<string, double> { ["similarity"] = similarity, ["discrepancy"] = 1 - similarity },
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

    /// <summary>
    /// The scored series from component records: "iip tI=X" for each swept t_I (t_P = min(default, X)), at the
    /// default t_I also "iip tP=Y", "mtcnp-only" and "similarity-only", and "iip no-inversion", "iip no-optimization".
    /// memorized: image -> label, for the reference medians.
    /// </summary>
    public IReadOnlyList<ScanRecord> Score(IReadOnlyList<ScanRecord> components, Func<string, bool?> memorized)
    {
        var o = session.Options;
        var byConfig = components.Where(r => r.Method == ComponentMethod && r.Error is null && r.Tcnp is not null)
            .GroupBy(r => r.Options ?? "").ToDictionary(g => g.Key, g => g.GroupBy(r => r.Image).Select(x => x.Last()).ToList());
        var series = new List<ScanRecord>();
        string defaultConfig = $"tI={o.InversionSteps}";
        foreach (var (config, records) in byConfig)
        {
            int tI = SweptSteps(config) ?? o.InversionSteps;
            series.AddRange(Combined($"iip {config}", records, Math.Min(o.MtcnpSteps, tI), memorized));
            if (config != defaultConfig) continue;
            foreach (int tP in plan.MtcnpSteps.Where(t => t <= tI && t != o.MtcnpSteps))
                series.AddRange(Combined($"iip tP={tP}", records, tP, memorized));
            series.AddRange(records.Select(r => r with { Method = "mtcnp-only", Score = Mtcnp(r, o.MtcnpSteps), Options = config }));
            series.AddRange(records.Select(r => r with { Method = "similarity-only", Score = o.DiscrepancySign * r.Components["discrepancy"], Options = config }));
        }
        return series;
    }

    private IEnumerable<ScanRecord> Combined(string name, IReadOnlyList<ScanRecord> records, int tP, Func<string, bool?> memorized)
    {
        var o = session.Options;
        var negatives = records.Where(r => memorized(r.Image) == false).ToList();
        double scaleE = negatives.Count > 0 ? IipSession.Median(negatives.Select(r => Mtcnp(r, tP)).ToList()) : 1;
        double scaleD = negatives.Count > 0 ? IipSession.Median(negatives.Select(r => r.Components["discrepancy"]).ToList()) : 1;
        if (!(scaleE > 0)) scaleE = 1;
        if (!(scaleD > 0)) scaleD = 1;
        return records.Select(r => r with
        {
            Method = name,
            Score = o.LambdaE * Mtcnp(r, tP) / scaleE + o.LambdaD * o.DiscrepancySign * r.Components["discrepancy"] / scaleD,
            Components = new Dictionary<string, double>(r.Components) { ["mtcnp"] = Mtcnp(r, tP), ["scale_e"] = scaleE, ["scale_d"] = scaleD },
        });
    }

    // "tI=20" -> 20; other configurations run at the default t_I
    private static int? SweptSteps(string config) =>
        config.StartsWith("tI=", StringComparison.Ordinal) ? int.Parse(config[3..], System.Globalization.CultureInfo.InvariantCulture) : null;

    private static double Mtcnp(ScanRecord r, int tP) => r.Tcnp!.Take(tP).Average();

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

    private Tensor UnoptimizedEmbedding()
    {
        var o = session.Options;
        return o.PerturbationInit == PerturbationInit.Prompt
            ? session.Model.Backend.ToHost(session.Model.EncodePrompts([o.PerturbationPrompt]))
            : PerturbationEmbedding.RandomStart(session.EmptyEmbedding, o.Seed);
    }
}
