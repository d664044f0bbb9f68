using IIP.Engine.Diagnostics;
using IIP.Engine.Pipelines;
using IIP.Engine.Sampling;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods;

/// <summary>One image's IIP score with its components (IIP.md steps 2-7).</summary>
public sealed record IipScore(double Score, double Mtcnp, double Similarity, double Discrepancy, double[] Tcnp, double LatentDistance)
{
    public IReadOnlyDictionary<string, double> Components => new Dictionary<string, double>
    {
        ["mtcnp"] = Mtcnp,
        ["similarity"] = Similarity,
        ["discrepancy"] = Discrepancy,
        ["tcnp_first"] = Tcnp.Length > 0 ? Tcnp[0] : double.NaN,
        ["latent_l2"] = LatentDistance,
    };
}

/// <summary>An image's <see cref="IipScore"/> with its latent z0 and the regenerated latent, both [1, C, h, w] on the host.</summary>
public sealed record IipTrace(IipScore Score, Tensor Latent, Tensor Regenerated);

/// <summary>
/// The IIP detector (Jiang, Lin et al., ICLR 2025) as shared/docs/IIP.md specifies it:
/// z0 = s E(x).mean; t_I unconditional DDIM inversion steps with e0; perturbed regeneration with CFG
/// (guidance g, perturbation embedding c*) down to t = 1, recording TCNP per step; MTCNP = mean TCNP of t_P steps (the
/// first ones, or those before the last: <see cref="IipOptions.MtcnpWindow"/>); d = 1 - similarity(input, regeneration);
/// score = lambda_e (MTCNP - centre_e) / scale_e + lambda_d sign (T(d) - centre_d) / scale_d, T = ln by default or the identity
/// (<see cref="IipOptions.DiscrepancyTransform"/>; centres 0 under IIP.md's median scales).
/// With <see cref="SimilarityKind.OnnxEmbedding"/> the embedder is the one passed in (it must match the options'
/// model and normalization), else loaded once here from <see cref="IipOptions.EmbeddingModelPath"/>,
/// <see cref="IipOptions.EmbeddingMean"/> and <see cref="IipOptions.EmbeddingStd"/>.
/// </summary>
public sealed class IipDetector(StableDiffusion model, IipOptions options, Tensor emptyEmbedding, Tensor perturbationEmbedding, OnnxImageEmbedder? embedder = null)
{
    public IipOptions Options { get; } = options;

    /// <summary>The external embedding model of the onnx-embedding similarity; null for the other similarities.</summary>
    public OnnxImageEmbedder? Embedder { get; } = options.Similarity == SimilarityKind.OnnxEmbedding ? EmbedderFor(options, embedder) : null;

    /// <summary>image [1, 3, S, S] in [-1, 1] at the model's native size -> score and components.</summary>
    public IipScore Score(Tensor image) => Trace(image).Score;

    /// <summary>
    /// <see cref="Score"/> with the latents it went through, for a report to show: z0 [1, C, h, w] (its decoding is the
    /// VAE reconstruction) and the regenerated latent [1, C, h, w].
    /// </summary>
    public IipTrace Trace(Tensor image)
    {
        var o = Options;
        var z0 = model.Backend.ToHost(model.EncodeImage(image));                               // [1, C, h, w]
        Tensor inverted;
        using (ProfilerRange.Open("iip inversion"))
            inverted = model.Sampler.Invert(z0, o.InversionSteps, o.GridSteps, emptyEmbedding);   // at t_I's timestep
        Tensor regenerated;
        double[] tcnp;
        using (ProfilerRange.Open("iip regeneration"))
            regenerated = Regenerate(inverted, out tcnp);
        return new IipTrace(Combine(image, z0, regenerated, tcnp), z0, regenerated);
    }

    /// <summary>
    /// <see cref="Score"/> for several images at once: one VAE call encodes them, and their latents are inverted and
    /// regenerated as one batch (one UNet call of batch N per inversion step and 2N per regeneration step, which keeps a
    /// GPU busier). Each result is the image's <see cref="Score"/> up to the floating-point order of batched products.
    /// </summary>
    public IReadOnlyList<IipScore> ScoreBatch(IReadOnlyList<Tensor> images)
    {
        if (images.Count <= 1) return images.Select(Score).ToList();
        var o = Options;
        var latents = model.Backend.ToHost(model.EncodeImage(Tensor.ConcatBatch(images.ToArray())));  // one VAE call: [N, C, h, w]
        var z0 = Enumerable.Range(0, images.Count).Select(i => latents.SliceBatch(i)).ToArray();         // N x [1, C, h, w]
        Tensor inverted;
        using (ProfilerRange.Open("iip inversion"))
            inverted = model.Sampler.Invert(latents, o.InversionSteps, o.GridSteps, emptyEmbedding);
        GuidedSamples regenerated;
        using (ProfilerRange.Open("iip regeneration"))
            regenerated = RegenerateBatch(inverted);
        return images.Select((image, i) => Combine(image, z0[i], regenerated.Latents.SliceBatch(i), regenerated.Tcnp.Select(step => step[i]).ToArray())).ToList();
    }

    // IIP.md steps 5-7 for one image: MTCNP from its TCNP values, similarity of input and regeneration, the weighted score
    private IipScore Combine(Tensor image, Tensor z0, Tensor regenerated, double[] tcnp)
    {
        var o = Options;
        double mtcnp = o.Mtcnp(tcnp);
        double similarity = MeasureSimilarity(image, z0, regenerated);
        double discrepancy = 1 - similarity;
        double score = o.LambdaE * (mtcnp - o.CenterE) / o.ScaleE + o.LambdaD * o.DiscrepancySign * (o.DiscrepancyTerm(discrepancy) - o.CenterD) / o.ScaleD;
        return new IipScore(score, mtcnp, similarity, discrepancy, tcnp, L2(z0.Data, regenerated.Data));
    }

    /// <summary>
    /// IIP.md step 6, by <see cref="IipOptions.Similarity"/>: cos(z0, regenerated latent), or SSIM / embedding cosine
    /// of the input image and the decoded regeneration. image [1, 3, S, S] in [-1, 1]; z0 its latent [1, C, h, w];
    /// regenerated the latent <see cref="Regenerate"/> returned.
    /// </summary>
    public double MeasureSimilarity(Tensor image, Tensor z0, Tensor regenerated) => Options.Similarity switch
    {
        SimilarityKind.LatentCosine => Similarity.Cosine(z0.Data, regenerated.Data),
        SimilarityKind.PixelSsim => Similarity.Ssim(image, model.DecodeLatent(regenerated)),
        SimilarityKind.OnnxEmbedding => Embedder!.Similarity(image, model.DecodeLatent(regenerated)),
        _ => throw new ArgumentOutOfRangeException(nameof(Options.Similarity), Options.Similarity, "unknown similarity"),
    };

    /// <summary>
    /// Every similarity this detector can measure for one regeneration, by <see cref="SimilarityKind"/>: latent cosine and
    /// pixel SSIM always, the embedding cosine when the options name an embedding model (the regeneration is decoded once).
    /// Each value equals what <see cref="MeasureSimilarity"/> gives under that kind.
    /// </summary>
    public IReadOnlyDictionary<SimilarityKind, double> MeasureSimilarities(Tensor image, Tensor z0, Tensor regenerated)
    {
        var decoded = model.DecodeLatent(regenerated);
        var values = new Dictionary<SimilarityKind, double>
        {
            [SimilarityKind.LatentCosine] = Similarity.Cosine(z0.Data, regenerated.Data),
            [SimilarityKind.PixelSsim] = Similarity.Ssim(image, decoded),
        };
        if (Embedder is not null) values[SimilarityKind.OnnxEmbedding] = Embedder.Similarity(image, decoded);
        return values;
    }

    /// <summary>DDIM with guidance from the inverted latent [1, C, h, w] over the remaining grid timesteps down to t = 1.</summary>
    public Tensor Regenerate(Tensor inverted, out double[] tcnp)
    {
        var result = RegenerateBatch(inverted);
        tcnp = result.Tcnp.Select(step => step[0]).ToArray();
        return result.Latents;
    }

    // Regenerate for N inverted latents [N, C, h, w] at once: the latents and the TCNP [step][item]
    private GuidedSamples RegenerateBatch(Tensor inverted)
    {
        var (remaining, ratio) = RegenerationTimesteps();
        return model.Sampler.GuidedSample(inverted, remaining, ratio, emptyEmbedding, perturbationEmbedding, Options.Guidance);
    }

    // the grid timesteps from the inverted latent's (t_I) down to 1, descending, and their spacing
    private (int[] Remaining, int Ratio) RegenerationTimesteps()
    {
        var grid = model.Scheduler.Timesteps(Options.GridSteps);   // descending
        return (grid[(grid.Length - Options.InversionSteps)..], model.Scheduler.StepRatio(Options.GridSteps));
    }

    private static OnnxImageEmbedder EmbedderFor(IipOptions options, OnnxImageEmbedder? given)
    {
        if (given is null)
            return new OnnxImageEmbedder(options.EmbeddingModelPath ?? throw new ArgumentException("the onnx-embedding similarity needs an embedding model path"),
                options.EmbeddingMean, options.EmbeddingStd);
        if (!given.Matches(options))
            throw new ArgumentException($"the embedder given ({given.ModelPath}, mean {string.Join(", ", given.Mean)}, std {string.Join(", ", given.Std)}) is not the one the options describe");
        return given;
    }

    private static double L2(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        return Math.Sqrt(s);
    }
}
