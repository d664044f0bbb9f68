using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using IIP.Engine.Imaging;
using IIP.Engine.Tensors;
using IIP.Detection.Files;

namespace IIP.Detection.Methods;

/// <summary>
/// The score scales IIP computes for itself when no reference set is given (docs/detection.md, "Calibration"):
/// the model generates <see cref="IipOptions.CalibrationImages"/> images from the perturbation embedding (a prompt
/// optimized to be non-memorized, so its images are non-memorized by construction), each is saved as 8-bit pixels
/// and scored by IIP like any scanned image; their MTCNP and discrepancy values stand for non-memorized images in IIP.md
/// step 7 (<see cref="Scales"/>). Also kept, per regeneration step, the 5th, 50th and 95th percentile of TCNP: the band a
/// report draws an image's TCNP against.
/// </summary>
public sealed record CalibrationResult
{
    [JsonPropertyName("mtcnp")] public required double[] Mtcnp { get; init; }
    [JsonPropertyName("discrepancy")] public required double[] Discrepancy { get; init; }

    /// <summary>Per regeneration step: [p5, p50, p95] of TCNP over the calibration images.</summary>
    [JsonPropertyName("tcnp_band")] public required double[][] TcnpBand { get; init; }

    /// <summary>The cache key (<see cref="IipCalibration.Key"/>) the result was computed under.</summary>
    [JsonPropertyName("key")] public required string Key { get; init; }

    [JsonIgnore] public bool FromCache { get; init; }

    /// <summary>
    /// The centres and scales of MTCNP and of the discrepancy under <paramref name="transform"/> over the calibration images,
    /// under <paramref name="statistic"/>.
    /// </summary>
    public (ComponentScale Mtcnp, ComponentScale Discrepancy) Scales(ScaleStatistic statistic, DiscrepancyTransform transform) =>
        (ComponentScale.From(Mtcnp, statistic, "calibration MTCNP"),
         ComponentScale.From(Discrepancy.Select(d => IipOptions.TransformDiscrepancy(d, transform)).ToList(), statistic, "calibration discrepancy"));
}

/// <summary>Computes and caches <see cref="CalibrationResult"/>s (see there).</summary>
public static class IipCalibration
{
    /// <summary>Latents generated (and scored) together: one UNet call of batch 2N per generation step.</summary>
    private const int Chunk = 8;

    /// <summary>
    /// Everything the calibration depends on, hashed: the perturbation embedding's options, every option that changes
    /// MTCNP or the discrepancy (t_I, t_P, guidance, similarity; for an ONNX embedding its file's path, size and time and its
    /// normalization, as the score key has them), the number of images and the seed. Not the scales, weights or sign,
    /// which it does not use.
    /// </summary>
    public static string Key(IipOptions o)
    {
        var s = FormattableString.Invariant($"{o.PerturbationKey()};tI={o.InversionSteps};tP={o.MtcnpSteps}{o.WindowKey()};g={o.Guidance:R};sim={o.Similarity};emb={o.EmbeddingModelPath}{o.EmbeddingModelKey()};n={o.CalibrationImages};seed={o.Seed}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..16];
    }

    /// <summary>The folder <see cref="Compute"/> saves the calibration images in (calibration-{model}-{key}/NN.png).</summary>
    public static string ImageFolder(string cacheDirectory, string modelFingerprint, IipOptions options) =>
        Path.Combine(cacheDirectory, $"calibration-{modelFingerprint[..16]}-{Key(options)}");

    /// <summary>
    /// The calibration of <paramref name="session"/>'s model under <paramref name="options"/>: read from
    /// <paramref name="cacheDirectory"/> when there (file calibration-{model}-{key}.json), else computed and saved there
    /// with the generated images beside it (calibration-{model}-{key}/NN.png) for an auditor to look at.
    /// </summary>
    public static CalibrationResult Compute(IipSession session, IipOptions options, string modelFingerprint, string? cacheDirectory,
        IProgress<string>? log = null)
    {
        if (options.CalibrationImages < 1) throw new ArgumentException("calibration needs at least one image");
        string key = Key(options);
        string? stem = cacheDirectory is null ? null : ImageFolder(cacheDirectory, modelFingerprint, options);
        using var held = stem is null ? null : CacheLock.Wait(stem, log);   // the tasks of a sharded scan compute it once
        if (stem is not null && File.Exists(stem + ".json"))
        {
            var cached = Read(stem + ".json");
            if (cached.Key == key)
            {
                log?.Report($"calibration: cached {stem}.json ({cached.Mtcnp.Length} images)");
                return cached with { FromCache = true };
            }
        }

        var images = Generate(session, options, log);
        if (stem is not null)
        {
            Directory.CreateDirectory(stem);
            for (int i = 0; i < images.Count; i++)
                ImageFile.SavePng(images[i], Path.Combine(stem, $"{i:D2}.png"));
        }
        var detector = session.CreateDetector(options);
        var scores = new List<IipScore>();
        for (int first = 0; first < images.Count; first += Chunk)
        {
            var chunk = images.Skip(first).Take(Chunk).Select(ImageTensors.ToTensor).ToList();   // [1, 3, S, S] each
            scores.AddRange(detector.ScoreBatch(chunk));
            log?.Report($"calibration: scored {scores.Count}/{images.Count} generated images");
        }
        var result = FromScores(scores, key);
        if (stem is not null) Write(result, stem + ".json");
        log?.Report($"calibration: scored {images.Count} generated images, median MTCNP {IipSession.Median(result.Mtcnp):G5}, median discrepancy {IipSession.Median(result.Discrepancy):G5}");
        return result;
    }

    /// <summary>
    /// The calibration from its images' scores: their components and the TCNP band. Throws when a component is not
    /// finite or cannot give a positive scale under either statistic (a model whose outputs do not vary).
    /// </summary>
    public static CalibrationResult FromScores(IReadOnlyList<IipScore> scores, string key)
    {
        var mtcnp = scores.Select(s => s.Mtcnp).ToArray();
        var discrepancy = scores.Select(s => s.Discrepancy).ToArray();
        if (mtcnp.Concat(discrepancy).Any(v => !double.IsFinite(v)))
            throw new InvalidOperationException("calibration: a generated image scored a non-finite MTCNP or discrepancy; the model's outputs are not finite");
        int steps = scores.Min(s => s.Tcnp.Length);
        var band = Enumerable.Range(0, steps).Select(step =>
        {
            var values = scores.Select(s => s.Tcnp[step]).Order().ToArray();
            return new[] { Percentile(values, 0.05), Percentile(values, 0.5), Percentile(values, 0.95) };
        }).ToArray();
        var result = new CalibrationResult { Mtcnp = mtcnp, Discrepancy = discrepancy, TcnpBand = band, Key = key };
        foreach (var statistic in Enum.GetValues<ScaleStatistic>())   // every combination must be usable before it is cached
            foreach (var transform in Enum.GetValues<DiscrepancyTransform>())
                if (!(statistic == ScaleStatistic.Median && transform == DiscrepancyTransform.Log))   // a median of logs can be negative: not a scale
                    result.Scales(statistic, transform);
        return result;
    }

    // Linear interpolation between order statistics (numpy's default "linear" method). sorted: ascending, non-empty.
    internal static double Percentile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position), high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }

    /// <summary>
    /// The calibration images: x_T ~ N(0, I) from <see cref="GaussianNoise"/>(seed ^ 0xCA11B), DDIM over the whole
    /// grid with guidance g toward the perturbation embedding, decoded and rounded to 8-bit pixels as a saved image is.
    /// </summary>
    private static List<RgbImage> Generate(IipSession session, IipOptions o, IProgress<string>? log)
    {
        var model = session.Model;
        var grid = model.Scheduler.Timesteps(o.GridSteps);
        int ratio = model.Scheduler.StepRatio(o.GridSteps);
        var noise = new GaussianNoise(o.Seed ^ 0xCA11B);
        var images = new List<RgbImage>();
        while (images.Count < o.CalibrationImages)
        {
            int n = Math.Min(Chunk, o.CalibrationImages - images.Count);
            var x = Tensor.ConcatBatch(Enumerable.Range(0, n).Select(_ => noise.Sample(model.NativeLatentShape)).ToArray());   // [n, C, h, w]
            var latents = model.Sampler.GuidedSample(x, grid, ratio, session.EmptyEmbedding, session.Perturbation.Embedding, o.Guidance).Latents;
            var pixels = model.DecodeLatent(latents);                                                                        // [n, 3, S, S]
            for (int i = 0; i < n; i++) images.Add(ImageTensors.ToImage(pixels, i));
            log?.Report($"calibration: generated {images.Count}/{o.CalibrationImages} images from the perturbation embedding");
        }
        return images;
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static CalibrationResult Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<CalibrationResult>(File.ReadAllText(path), Json)
                   ?? throw new InvalidDataException($"{path}: empty calibration file");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a calibration file ({e.Message}); delete it to recompute");
        }
    }

    // written to a temporary file and renamed, so a crash never leaves a half-written cache entry
    private static void Write(CalibrationResult result, string path)
    {
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(result, Json));
    }
}
