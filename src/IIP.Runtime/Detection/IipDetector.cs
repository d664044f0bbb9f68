using IIP.Runtime.Pipelines;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Detection;

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

/// <summary>
/// The IIP detector (Jiang, Lin et al., ICLR 2025) as shared/docs/IIP.md specifies it:
/// z0 = s E(x).mean; t_I unconditional DDIM inversion steps with e0; perturbed regeneration with CFG
/// (guidance g, perturbation embedding c*) down to t = 1, recording TCNP per step; MTCNP = mean TCNP of the first
/// t_P steps; d = 1 - similarity(input, regeneration);
/// score = lambda_e MTCNP / scale_e + lambda_d sign d / scale_d.
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
    public IipScore Score(Tensor image)
    {
        var o = Options;
        var z0 = model.Backend.ToHost(model.EncodeImage(image));                               // [1, C, h, w]
        Tensor inverted;
        using (IIP.Native.Nvtx.Range("iip inversion"))
            inverted = model.Invert(z0, o.InversionSteps, o.GridSteps, emptyEmbedding)[^1];   // at t_I's timestep
        Tensor regenerated;
        double[] tcnp;
        using (IIP.Native.Nvtx.Range("iip regeneration"))
            regenerated = Regenerate(inverted, out tcnp);
        return Combine(image, z0, regenerated, tcnp);
    }

    /// <summary>
    /// <see cref="Score"/> for several images at once: their latents are inverted and regenerated as one batch (one UNet
    /// call of batch N per inversion step and 2N per regeneration step, which keeps a GPU busier). Each result is the
    /// image's <see cref="Score"/> up to the floating-point order of batched products.
    /// </summary>
    public IReadOnlyList<IipScore> ScoreBatch(IReadOnlyList<Tensor> images)
    {
        if (images.Count <= 1) return images.Select(Score).ToList();
        var o = Options;
        var z0 = images.Select(image => model.Backend.ToHost(model.EncodeImage(image))).ToArray();   // N x [1, C, h, w]
        Tensor inverted;
        using (IIP.Native.Nvtx.Range("iip inversion"))
            inverted = model.Invert(Tensor.ConcatBatch(z0), o.InversionSteps, o.GridSteps, emptyEmbedding)[^1];
        var perStep = new List<double[]>();
        Tensor regenerated;
        using (IIP.Native.Nvtx.Range("iip regeneration"))
        {
            var (remaining, ratio) = RegenerationTimesteps();
            regenerated = model.SampleBatch(inverted, remaining, ratio, emptyEmbedding, perturbationEmbedding, o.Guidance, perStep);
        }
        return images.Select((image, i) => Combine(image, z0[i], regenerated.SliceBatch(i), perStep.Select(step => step[i]).ToArray())).ToList();
    }

    // IIP.md steps 5-7 for one image: MTCNP from its TCNP values, similarity of input and regeneration, the weighted score
    private IipScore Combine(Tensor image, Tensor z0, Tensor regenerated, double[] tcnp)
    {
        var o = Options;
        double mtcnp = tcnp.Take(Math.Min(o.MtcnpSteps, tcnp.Length)).DefaultIfEmpty(0).Average();
        double similarity = MeasureSimilarity(image, z0, regenerated);
        double discrepancy = 1 - similarity;
        double score = o.LambdaE * mtcnp / o.ScaleE + o.LambdaD * o.DiscrepancySign * discrepancy / o.ScaleD;
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

    /// <summary>DDIM with guidance from the inverted latent over the remaining grid timesteps down to t = 1.</summary>
    public Tensor Regenerate(Tensor inverted, out double[] tcnp)
    {
        var (remaining, ratio) = RegenerationTimesteps();
        var values = new List<double>();
        var result = model.Sample(inverted, remaining, ratio, emptyEmbedding, perturbationEmbedding, Options.Guidance, values);
        tcnp = values.ToArray();
        return result;
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
