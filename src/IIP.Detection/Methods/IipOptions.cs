using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IIP.Detection.Methods;

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

/// <summary>Which regeneration steps' TCNP MTCNP averages (IIP.md step 5).</summary>
public enum MtcnpWindow
{
    /// <summary>The first t_P steps of the regeneration (IIP.md's reading of the paper): the noisiest timesteps of the trajectory.</summary>
    First,

    /// <summary>
    /// The t_P steps before the last one, where the noise is lowest (t = 81, 61, 41, 21 for t_P = 4 on the 50-step grid):
    /// where TCNP separates memorized images on every testbed (docs/detection.md). The last step (t = 1), which predicts
    /// the noise of an almost clean latent, separates less and is left out.
    /// </summary>
    Late,
}

/// <summary>What the discrepancy d = 1 - similarity enters the score as, before its centre and scale (IIP.md step 7).</summary>
public enum DiscrepancyTransform
{
    /// <summary>d itself (IIP.md).</summary>
    Linear,

    /// <summary>
    /// ln d: the discrepancy is a positive quantity that spans orders of magnitude, and its distribution over non-memorized
    /// images has a long upper tail (one held-out image of a testbed sat 144 robust standard deviations above the median);
    /// on the log scale such an image no longer outweighs MTCNP (docs/detection.md). d below 1e-12 is taken as 1e-12.
    /// </summary>
    Log,
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
/// Every IIP option of shared/docs/IIP.md. The defaults are the default preset's (<see cref="IipPresets.Default"/>), chosen
/// by measurement (docs/detection.md); <see cref="IipPresets.Paper"/> holds IIP.md's reading of the paper.
/// Notation: 50-step DDIM grid t = 981, ..., 1; s = VAE scaling factor; e0 = embedding of "".
/// </summary>
public sealed record IipOptions
{
    /// <summary>DDIM grid size (the paper: 50 steps).</summary>
    public int GridSteps { get; init; } = 50;

    /// <summary>t_I: unconditional inversion steps from z0 (20 -> latent at t = 381).</summary>
    public int InversionSteps { get; init; } = 20;

    /// <summary>t_P: how many regeneration steps' TCNP MTCNP averages (which ones: <see cref="MtcnpWindow"/>).</summary>
    public int MtcnpSteps { get; init; } = 4;

    /// <summary>Which regeneration steps MTCNP averages: the first t_P (IIP.md) or the t_P before the last (default).</summary>
    public MtcnpWindow MtcnpWindow { get; init; } = MtcnpWindow.Late;

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

    /// <summary>lambda_d: weight of the discrepancy d = 1 - similarity in the score (the paper's 1; 0.5 by default: docs/detection.md).</summary>
    public double LambdaD { get; init; } = 0.5;

    /// <summary>scale_e: MTCNP - centre_e is divided by it (from the calibration or a reference set; 1 when none is given).</summary>
    public double ScaleE { get; init; } = 1.0;

    /// <summary>scale_d: d - centre_d is divided by it (from the calibration or a reference set; 1 when none is given).</summary>
    public double ScaleD { get; init; } = 1.0;

    /// <summary>centre_e: subtracted from MTCNP before scaling (the non-memorized median under <see cref="ScaleStatistic.RobustZ"/>, else 0).</summary>
    public double CenterE { get; init; }

    /// <summary>centre_d: subtracted from d before scaling (the non-memorized median under <see cref="ScaleStatistic.RobustZ"/>, else 0).</summary>
    public double CenterD { get; init; }

    /// <summary>What the discrepancy enters the score as: ln d by default, d itself in the paper preset.</summary>
    public DiscrepancyTransform DiscrepancyTransform { get; init; } = DiscrepancyTransform.Log;

    /// <summary>What the calibration or a reference set turns into centres and scales (see <see cref="Detection.ScaleStatistic"/>).</summary>
    public ScaleStatistic ScaleStatistic { get; init; } = ScaleStatistic.RobustZ;

    /// <summary>
    /// Images the model generates from the perturbation embedding and scores to set the centres and scales when no
    /// reference set or explicit scales are given (<see cref="IipCalibration"/>); 0: no calibration (scales stay as given).
    /// </summary>
    public int CalibrationImages { get; init; } = 16;

    /// <summary>
    /// +1 when memorized images regenerate farther from the input (larger d), -1 when closer. IIP.md leaves it
    /// to measurement: +1, memorized images regenerate farther on every testbed measured (docs/detection.md).
    /// </summary>
    public int DiscrepancySign { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (GridSteps < 1 || GridSteps > 1000) throw new ArgumentException($"grid steps must be in 1..1000, got {GridSteps}");
        if (InversionSteps < 1 || InversionSteps > GridSteps) throw new ArgumentException($"inversion steps (t_I) must be in 1..{GridSteps}, got {InversionSteps}");
        if (MtcnpWindow == MtcnpWindow.Late && InversionSteps == 1)
            throw new ArgumentException("the late MTCNP window leaves out the last regeneration step, so it needs t_I >= 2; with t_I = 1 use --mtcnp-window first");
        if (MtcnpSteps < 1 || MtcnpSteps > MaxMtcnpSteps(InversionSteps))
            throw new ArgumentException(MtcnpWindow == MtcnpWindow.Late
                ? $"MTCNP steps (t_P) must be in 1..{InversionSteps - 1} (the late window takes the steps before the last of the t_I = {InversionSteps} regeneration steps), got {MtcnpSteps}"
                : $"MTCNP steps (t_P) must be in 1..{InversionSteps} (the regeneration has t_I steps), got {MtcnpSteps}");
        if (PerturbationIterations < 0) throw new ArgumentException("perturbation iterations must be >= 0");
        if (PerturbationNoiseLatents < 1) throw new ArgumentException("perturbation noise latents must be >= 1");
        if (CalibrationImages < 0) throw new ArgumentException($"calibration images must be >= 0, got {CalibrationImages}");
        if (!(ScaleE > 0) || !(ScaleD > 0) || double.IsInfinity(ScaleE) || double.IsInfinity(ScaleD)) throw new ArgumentException("scales must be positive and finite");
        if (!double.IsFinite(CenterE) || !double.IsFinite(CenterD)) throw new ArgumentException("centres must be finite");
        if (DiscrepancySign is not (1 or -1)) throw new ArgumentException("discrepancy sign must be 1 or -1");
        if (ScaleStatistic == ScaleStatistic.Median && DiscrepancyTransform == DiscrepancyTransform.Log)
            throw new ArgumentException("median scales divide by the median, which must be positive, and ln d is negative: use the linear discrepancy transform with median scales (as the paper preset does)");
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

    /// <summary>The largest t_P a regeneration of <paramref name="inversionSteps"/> steps allows under <see cref="MtcnpWindow"/>.</summary>
    public int MaxMtcnpSteps(int inversionSteps) => MtcnpWindow == MtcnpWindow.Late ? inversionSteps - 1 : inversionSteps;

    /// <summary>The discrepancy as the score takes it, before its centre and scale: d, or ln max(d, 1e-12).</summary>
    public double DiscrepancyTerm(double discrepancy) => TransformDiscrepancy(discrepancy, DiscrepancyTransform);

    /// <summary>d under <paramref name="transform"/>: d, or ln max(d, 1e-12) (a cosine rounded to 1 gives d = 0).</summary>
    public static double TransformDiscrepancy(double discrepancy, DiscrepancyTransform transform) =>
        transform == DiscrepancyTransform.Log ? Math.Log(Math.Max(discrepancy, 1e-12)) : discrepancy;

    /// <summary>MTCNP of per-step TCNP values (one per regeneration step, in order) under these options' window and t_P.</summary>
    public double Mtcnp(IReadOnlyList<double> tcnp) => MtcnpOf(tcnp, MtcnpSteps, MtcnpWindow);

    /// <summary>
    /// The mean of <paramref name="steps"/> TCNP values: the first ones (<see cref="MtcnpWindow.First"/>), or those before the last
    /// (<see cref="MtcnpWindow.Late"/>), clipped to what the regeneration has (one step: its only value).
    /// </summary>
    public static double MtcnpOf(IReadOnlyList<double> tcnp, int steps, MtcnpWindow window)
    {
        if (tcnp.Count == 0) return 0;
        int end = window == MtcnpWindow.Late ? Math.Max(1, tcnp.Count - 1) : tcnp.Count;   // exclusive
        int count = Math.Clamp(steps, 1, end);
        int start = window == MtcnpWindow.Late ? end - count : 0;
        double sum = 0;
        for (int i = start; i < start + count; i++) sum += tcnp[i];
        return sum / count;
    }

    /// <summary>The options the perturbation embedding depends on, hashed for its cache key.</summary>
    public string PerturbationKey() => Hash($"init={PerturbationInit};prompt={PerturbationPrompt};lr={PerturbationLearningRate:R};it={PerturbationIterations};noise={PerturbationNoiseLatents};seed={Seed};grid={GridSteps}");

    /// <summary>Every option that changes a score, hashed: resumed scans only reuse records with the same hash.</summary>
    public string ScoreKey() => Hash($"{PerturbationKey()};tI={InversionSteps};tP={MtcnpSteps}{WindowKey()};g={Guidance:R};sim={Similarity}{EmbeddingModelKey()};le={LambdaE:R};ld={LambdaD:R};se={ScaleE:R};sd={ScaleD:R};sign={DiscrepancySign}{CenterKey()}{(DiscrepancyTransform == DiscrepancyTransform.Linear ? "" : $";dt={DiscrepancyTransform}")}");

    /// <summary>";win=late" for the late window, empty for IIP.md's first steps (whose keys are unchanged from before the window existed).</summary>
    public string WindowKey() => MtcnpWindow == MtcnpWindow.First ? "" : $";win={MtcnpWindow}";

    // ";ce=..;cd=.." only for non-zero centres, so the keys of scans without centres are unchanged
    private string CenterKey() => CenterE == 0 && CenterD == 0 ? "" : FormattableString.Invariant($";ce={CenterE:R};cd={CenterD:R}");

    /// <summary>The options with the centres and scales of <paramref name="e"/> (MTCNP) and <paramref name="d"/> (discrepancy).</summary>
    public IipOptions WithScales(ComponentScale e, ComponentScale d) => this with { CenterE = e.Center, ScaleE = e.Scale, CenterD = d.Center, ScaleD = d.Scale };

    /// <summary>
    /// ";emb=full path|size|last write UTC ticks" of the embedding model ("missing" when absent), then
    /// ";mean=R,G,B" and ";std=R,G,B" when the normalization is not ImageNet's; empty for the other similarities
    /// so their keys are unchanged (as are the keys of ImageNet-normalized scans from before the mean/std options).
    /// Path, size and time rather than the file's SHA-256: embedding models run to hundreds of MB and the key is
    /// computed per scan; a copied or touched file only costs a rescore.
    /// </summary>
    public string EmbeddingModelKey()
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
