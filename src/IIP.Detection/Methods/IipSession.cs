using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods;

/// <summary>
/// Everything IIP computes once per model before scoring images: the empty-prompt embedding e0, the cached
/// perturbation embedding, and the score scales (given, or medians over a reference set of non-memorized images).
/// </summary>
public sealed class IipSession
{
    public StableDiffusion Model { get; }
    public IipOptions Options { get; }
    public Tensor EmptyEmbedding { get; }
    public PerturbationResult Perturbation { get; }

    /// <summary>The model's content fingerprint: the key of everything cached for it.</summary>
    public string ModelFingerprint { get; }

    /// <summary>Where the perturbation embedding and the calibration are cached (null: nowhere).</summary>
    public string? CacheDirectory { get; }

    /// <param name="emptyEmbedding">e0 when the caller already has it [1, 77, D]; computed otherwise.</param>
    public IipSession(StableDiffusion model, IipOptions options, string modelFingerprint, string? cacheDirectory, IProgress<string>? log = null,
        Tensor? emptyEmbedding = null)
    {
        options.Validate();
        Model = model;
        Options = options;
        ModelFingerprint = modelFingerprint;
        CacheDirectory = cacheDirectory;
        EmptyEmbedding = emptyEmbedding ?? model.Backend.ToHost(model.EncodePrompts([""]));
        Perturbation = PerturbationEmbedding.Compute(model, modelFingerprint, options, EmptyEmbedding, cacheDirectory, log);
    }

    private OnnxImageEmbedder? _embedder;

    /// <summary>
    /// A detector with the session's perturbation embedding, or <paramref name="perturbationEmbedding"/> when given
    /// (the ablation's un-optimized one); the onnx-embedding similarity's model is loaded once per session, path and
    /// normalization and shared.
    /// </summary>
    public IipDetector CreateDetector(IipOptions? options = null, Tensor? perturbationEmbedding = null)
    {
        options ??= Options;
        if (options.Similarity == SimilarityKind.OnnxEmbedding && options.EmbeddingModelPath is { } path
            && !(_embedder?.Matches(options) ?? false))
            _embedder = new OnnxImageEmbedder(path, options.EmbeddingMean, options.EmbeddingStd);
        return new(Model, options, EmptyEmbedding, perturbationEmbedding ?? Perturbation.Embedding, options.Similarity == SimilarityKind.OnnxEmbedding ? _embedder : null);
    }

    /// <summary>
    /// IIP.md step 7: the centres and scales of MTCNP and the discrepancy (<see cref="IipOptions.ScaleStatistic"/>: medians,
    /// or medians and robust spreads) over images known to be non-memorized. Returns the options with them.
    /// </summary>
    public IipOptions WithReferenceScales(IReadOnlyList<string> reference, Func<string, Tensor> loadImage, IProgress<string>? log = null)
    {
        if (reference.Count == 0) throw new ArgumentException("the reference set has no images");
        var detector = CreateDetector();
        var mtcnp = new List<double>();
        var discrepancy = new List<double>();
        foreach (string path in reference)
        {
            var s = detector.Score(loadImage(path));
            mtcnp.Add(s.Mtcnp);
            discrepancy.Add(s.Discrepancy);
            log?.Report($"reference {mtcnp.Count}/{reference.Count}: {Path.GetFileName(path)} MTCNP {s.Mtcnp:G5} d {s.Discrepancy:G5}");
        }
        return Options.WithScales(ComponentScale.From(mtcnp, Options.ScaleStatistic, "reference MTCNP"),
            ComponentScale.From(discrepancy.Select(Options.DiscrepancyTerm).ToList(), Options.ScaleStatistic, "reference discrepancy"));
    }

    /// <summary>
    /// The centres and scales of <see cref="IipCalibration"/> (generated non-memorized images, cached beside the
    /// perturbation embedding) under <see cref="IipOptions.ScaleStatistic"/>: the options with them, and the calibration itself.
    /// </summary>
    public (IipOptions Options, CalibrationResult Calibration) WithCalibratedScales(IProgress<string>? log = null)
    {
        var calibration = IipCalibration.Compute(this, Options, ModelFingerprint, CacheDirectory, log);
        var (e, d) = calibration.Scales(Options.ScaleStatistic, Options.DiscrepancyTransform);
        return (Options.WithScales(e, d), calibration);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
