using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IIP.Runtime.Detection;

/// <summary>How the input and the regenerated result are compared (IIP.md step 6).</summary>
public enum SimilarityKind
{
    /// <summary>cos(z0, z_regen) over the flattened UNet-space latents (default).</summary>
    LatentCosine,
    /// <summary>SSIM (Wang et al. 2004, 11x11 Gaussian window, sigma 1.5) of the input and the decoded regeneration, in [0, 1] pixels, averaged over RGB.</summary>
    PixelSsim,
    /// <summary>cos of the embeddings an external ONNX image-embedding model (<see cref="IipOptions.EmbeddingModelPath"/>) gives the input and the decoded regeneration (see <see cref="OnnxImageEmbedder"/>).</summary>
    OnnxEmbedding,
}

/// <summary>How the perturbation embedding starts (IIP.md step 4).</summary>
public enum PerturbationInit
{
    /// <summary>The text embedding of a meaningless prompt (default "ata").</summary>
    Prompt,
    /// <summary>Gaussian random rows N(0, 1) (token 0 kept from the empty prompt's embedding).</summary>
    Random,
}

/// <summary>
/// Every IIP option with the defaults of shared/docs/IIP.md (the paper's values where it gives them).
/// Notation: 50-step DDIM grid t = 981, ..., 1; s = VAE scaling factor; e0 = embedding of "".
/// </summary>
public sealed record IipOptions
{
    /// <summary>DDIM grid size (the paper: 50 steps).</summary>
    public int GridSteps { get; init; } = 50;

    /// <summary>t_I: unconditional inversion steps from z0 (20 -> latent at t = 381).</summary>
    public int InversionSteps { get; init; } = 20;

    /// <summary>t_P: the first regeneration steps whose TCNP is averaged into MTCNP.</summary>
    public int MtcnpSteps { get; init; } = 10;

    /// <summary>Classifier-free guidance scale of the perturbed regeneration.</summary>
    public float Guidance { get; init; } = 7.5f;

    public PerturbationInit PerturbationInit { get; init; } = PerturbationInit.Prompt;

    /// <summary>The meaningless prompt the perturbation embedding starts from.</summary>
    public string PerturbationPrompt { get; init; } = "ata";

    /// <summary>AdamW learning rate of the perturbation-embedding optimization.</summary>
    public double PerturbationLearningRate { get; init; } = 0.05;

    /// <summary>AdamW iterations of the perturbation-embedding optimization (0: use the start embedding).</summary>
    public int PerturbationIterations { get; init; } = 10;

    /// <summary>Fixed random noise latents the TCNP at t = 981 is averaged over.</summary>
    public int PerturbationNoiseLatents { get; init; } = 4;

    /// <summary>Seed of the noise latents (and of random initial rows).</summary>
    public int Seed { get; init; }

    public SimilarityKind Similarity { get; init; } = SimilarityKind.LatentCosine;

    /// <summary>The ONNX image-embedding model of <see cref="SimilarityKind.OnnxEmbedding"/> (required by it, not allowed otherwise).</summary>
    public string? EmbeddingModelPath { get; init; }

    /// <summary>
    /// Per-channel mean (R, G, B, on [0, 1] pixels) the onnx-embedding similarity subtracts before the model (see
    /// <see cref="OnnxImageEmbedder"/>); null: ImageNet's, <see cref="OnnxImageEmbedder.ImageNetMean"/>. Only allowed with that similarity.
    /// </summary>
    public float[]? EmbeddingMean { get; init; }

    /// <summary>
    /// Per-channel standard deviation (R, G, B) the onnx-embedding similarity divides by after subtracting
    /// <see cref="EmbeddingMean"/>; null: ImageNet's, <see cref="OnnxImageEmbedder.ImageNetStd"/>. Only allowed with that similarity.
    /// </summary>
    public float[]? EmbeddingStd { get; init; }

    /// <summary>lambda_e: weight of MTCNP in the score.</summary>
    public double LambdaE { get; init; } = 1.0;

    /// <summary>lambda_d: weight of the discrepancy d = 1 - similarity in the score.</summary>
    public double LambdaD { get; init; } = 1.0;

    /// <summary>scale_e: MTCNP is divided by it (a reference-set median; 1 when none is given).</summary>
    public double ScaleE { get; init; } = 1.0;

    /// <summary>scale_d: d is divided by it (a reference-set median; 1 when none is given).</summary>
    public double ScaleD { get; init; } = 1.0;

    /// <summary>
    /// +1 when memorized images regenerate farther from the input (larger d), -1 when closer. IIP.md leaves it
    /// to measurement; docs/benchmarks.md records the evidence. Default +1: the paper's similarity signal
    /// "changes" more for memorized images once the prompt is perturbed.
    /// </summary>
    public int DiscrepancySign { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (GridSteps < 1 || GridSteps > 1000) throw new ArgumentException($"grid steps must be in 1..1000, got {GridSteps}");
        if (InversionSteps < 1 || InversionSteps > GridSteps) throw new ArgumentException($"inversion steps (t_I) must be in 1..{GridSteps}, got {InversionSteps}");
        if (MtcnpSteps < 1 || MtcnpSteps > InversionSteps) throw new ArgumentException($"MTCNP steps (t_P) must be in 1..{InversionSteps} (the regeneration has t_I steps), got {MtcnpSteps}");
        if (PerturbationIterations < 0) throw new ArgumentException("perturbation iterations must be >= 0");
        if (PerturbationNoiseLatents < 1) throw new ArgumentException("perturbation noise latents must be >= 1");
        if (!(ScaleE > 0) || !(ScaleD > 0)) throw new ArgumentException("scales must be positive");
        if (DiscrepancySign is not (1 or -1)) throw new ArgumentException("discrepancy sign must be 1 or -1");
        if (Similarity == SimilarityKind.OnnxEmbedding && string.IsNullOrWhiteSpace(EmbeddingModelPath))
            throw new ArgumentException("the onnx-embedding similarity needs an embedding model path");
        if (Similarity != SimilarityKind.OnnxEmbedding && EmbeddingModelPath is not null)
            throw new ArgumentException($"an embedding model is only used by the onnx-embedding similarity, not by {Similarity}");
        if (Similarity != SimilarityKind.OnnxEmbedding && (EmbeddingMean is not null || EmbeddingStd is not null))
            throw new ArgumentException($"an embedding mean/std is only used by the onnx-embedding similarity, not by {Similarity}");
        ValidateChannels("embedding mean", EmbeddingMean, positive: false);
        ValidateChannels("embedding std", EmbeddingStd, positive: true);
    }

    /// <summary>null, or exactly 3 finite values (R, G, B), all positive when <paramref name="positive"/>.</summary>
    private static void ValidateChannels(string name, float[]? values, bool positive)
    {
        if (values is null) return;
        if (values.Length != 3) throw new ArgumentException($"{name} needs 3 values (R, G, B), got {values.Length}");
        if (values.Any(v => !float.IsFinite(v))) throw new ArgumentException($"{name} values must be finite, got {ChannelText(values)}");
        if (positive && values.Any(v => !(v > 0))) throw new ArgumentException($"{name} values must be positive, got {ChannelText(values)}");
    }

    /// <summary>The options the perturbation embedding depends on, hashed for its cache key.</summary>
    public string PerturbationKey() => Hash($"init={PerturbationInit};prompt={PerturbationPrompt};lr={PerturbationLearningRate:R};it={PerturbationIterations};noise={PerturbationNoiseLatents};seed={Seed};grid={GridSteps}");

    /// <summary>Every option that changes a score, hashed: resumed scans only reuse records with the same hash.</summary>
    public string ScoreKey() => Hash($"{PerturbationKey()};tI={InversionSteps};tP={MtcnpSteps};g={Guidance:R};sim={Similarity}{EmbeddingModelKey()};le={LambdaE:R};ld={LambdaD:R};se={ScaleE:R};sd={ScaleD:R};sign={DiscrepancySign}");

    /// <summary>
    /// ";emb=full path|size|last write UTC ticks" of the embedding model ("missing" when absent), then
    /// ";mean=R,G,B" and ";std=R,G,B" when the normalization is not ImageNet's; empty for the other similarities
    /// so their keys are unchanged (as are the keys of ImageNet-normalized scans from before the mean/std options).
    /// Path, size and time rather than the file's SHA-256: embedding models run to hundreds of MB and the key is
    /// computed per scan; a copied or touched file only costs a rescore.
    /// </summary>
    private string EmbeddingModelKey()
    {
        if (Similarity != SimilarityKind.OnnxEmbedding || EmbeddingModelPath is null) return "";
        var file = new FileInfo(Path.GetFullPath(EmbeddingModelPath));
        string model = file.Exists ? $";emb={file.FullName}|{file.Length}|{file.LastWriteTimeUtc.Ticks}" : $";emb={file.FullName}|missing";
        string mean = EmbeddingMean is { } m && !m.SequenceEqual(OnnxImageEmbedder.ImageNetMean) ? $";mean={ChannelText(m)}" : "";
        string std = EmbeddingStd is { } s && !s.SequenceEqual(OnnxImageEmbedder.ImageNetStd) ? $";std={ChannelText(s)}" : "";
        return model + mean + std;
    }

    /// <summary>"R,G,B" with round-trip invariant formatting.</summary>
    private static string ChannelText(float[] values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
