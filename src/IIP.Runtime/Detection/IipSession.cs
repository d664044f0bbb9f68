using IIP.Runtime.Pipelines;
using IIP.Runtime.Scanning;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Detection;

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

    /// <param name="emptyEmbedding">e0 when the caller already has it [1, 77, D]; computed otherwise.</param>
    public IipSession(StableDiffusion model, IipOptions options, string modelFingerprint, string? cacheDirectory, IProgress<string>? log = null,
        Tensor? emptyEmbedding = null)
    {
        options.Validate();
        Model = model;
        Options = options;
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
    /// IIP.md step 7: scale_e and scale_d = medians of MTCNP and of the discrepancy over images known to be
    /// non-memorized. Returns the options with those scales.
    /// </summary>
    public IipOptions WithReferenceScales(IReadOnlyList<ScanItem> reference, Func<string, Tensor> loadImage, IProgress<string>? log = null)
    {
        if (reference.Count == 0) throw new ArgumentException("the reference set has no images");
        var detector = CreateDetector();
        var mtcnp = new List<double>();
        var discrepancy = new List<double>();
        foreach (var item in reference)
        {
            var s = detector.Score(loadImage(item.FullPath));
            mtcnp.Add(s.Mtcnp);
            discrepancy.Add(s.Discrepancy);
            log?.Report($"reference {mtcnp.Count}/{reference.Count}: {item.Image} MTCNP {s.Mtcnp:G5} d {s.Discrepancy:G5}");
        }
        double scaleE = Median(mtcnp), scaleD = Median(discrepancy);
        if (!(scaleE > 0) || !(scaleD > 0))
            throw new InvalidOperationException($"reference medians must be positive (MTCNP {scaleE}, discrepancy {scaleD})");
        return Options with { ScaleE = scaleE, ScaleD = scaleD };
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
