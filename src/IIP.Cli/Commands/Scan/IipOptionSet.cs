using System.CommandLine;
using System.Globalization;
using IIP.Runtime.Detection;

namespace IIP.Cli.Commands.Scan;

/// <summary>The IIP method's options as command-line options (defaults from shared/docs/IIP.md), shared by scan and ablate.</summary>
public sealed class IipOptionSet
{
    private static readonly IipOptions Defaults = new();

    public Option<int> InversionSteps { get; } = new("--inversion-steps") { Description = $"t_I: unconditional DDIM inversion steps on the {Defaults.GridSteps}-step grid (20 ends the latent at t = 381)", DefaultValueFactory = _ => Defaults.InversionSteps };
    public Option<int> MtcnpSteps { get; } = new("--mtcnp-steps") { Description = $"t_P: regeneration steps whose TCNP is averaged into MTCNP", DefaultValueFactory = _ => Defaults.MtcnpSteps };
    public Option<float> Guidance { get; } = new("--guidance") { Description = $"classifier-free guidance of the perturbed regeneration", DefaultValueFactory = _ => Defaults.Guidance };
    public Option<SimilarityKind> Similarity { get; } = new("--similarity") { Description = "latent-cosine: cos(z0, regenerated latent); pixel-ssim: SSIM of the input and the decoded regeneration; onnx-embedding: cosine of --embedding-model's embeddings of the input and the decoded regeneration", DefaultValueFactory = _ => Defaults.Similarity, CustomParser = r => ParseEnum<SimilarityKind>(r.Tokens[0].Value) };
    public Option<string?> EmbeddingModel { get; } = new("--embedding-model") { Description = "ONNX image-embedding model (SSCD, CLIP, DINO: one float input [1, 3, H, W]; [0, 1] pixels normalized by --embedding-mean and --embedding-std) for --similarity onnx-embedding", HelpName = "PATH" };
    public Option<string?> EmbeddingMean { get; } = new("--embedding-mean") { Description = "per-channel mean subtracted from the [0, 1] RGB pixels before --embedding-model, comma-separated (default: ImageNet's 0.485,0.456,0.406; OpenAI CLIP wants 0.48145466,0.4578275,0.40821073)", HelpName = "R,G,B" };
    public Option<string?> EmbeddingStd { get; } = new("--embedding-std") { Description = "per-channel standard deviation the centred pixels are divided by before --embedding-model, comma-separated, positive (default: ImageNet's 0.229,0.224,0.225; OpenAI CLIP wants 0.26862954,0.26130258,0.27577711)", HelpName = "R,G,B" };
    public Option<PerturbationInit> PerturbationInit { get; } = new("--perturbation-init") { Description = "prompt: start from the embedding of --perturbation-prompt ; random: Gaussian rows", DefaultValueFactory = _ => Defaults.PerturbationInit, CustomParser = r => ParseEnum<PerturbationInit>(r.Tokens[0].Value) };
    public Option<string> PerturbationPrompt { get; } = new("--perturbation-prompt") { Description = $"the meaningless prompt the perturbation embedding starts from", DefaultValueFactory = _ => Defaults.PerturbationPrompt };
    public Option<double> LearningRate { get; } = new("--perturbation-lr") { Description = $"AdamW learning rate of the perturbation embedding", DefaultValueFactory = _ => Defaults.PerturbationLearningRate };
    public Option<int> Iterations { get; } = new("--perturbation-iterations") { Description = $"AdamW iterations of the perturbation embedding (0 keeps the start embedding)", DefaultValueFactory = _ => Defaults.PerturbationIterations };
    public Option<int> NoiseLatents { get; } = new("--perturbation-noise") { Description = $"noise latents the TCNP objective averages over", DefaultValueFactory = _ => Defaults.PerturbationNoiseLatents };
    public Option<double> LambdaE { get; } = new("--lambda-e") { Description = "weight of MTCNP in the score", DefaultValueFactory = _ => Defaults.LambdaE };
    public Option<double> LambdaD { get; } = new("--lambda-d") { Description = "weight of the discrepancy 1 - similarity in the score", DefaultValueFactory = _ => Defaults.LambdaD };
    public Option<double?> ScaleE { get; } = new("--scale-e") { Description = "divide MTCNP by this (default: the median over --reference images, else 1)" };
    public Option<double?> ScaleD { get; } = new("--scale-d") { Description = "divide the discrepancy by this (default: the median over --reference images, else 1)" };
    public Option<int> Sign { get; } = new("--discrepancy-sign") { Description = "+1: memorized images regenerate farther from the input; -1: closer (see docs/benchmarks.md for the evidence)", DefaultValueFactory = _ => Defaults.DiscrepancySign };
    public Option<string?> Reference { get; } = new("--reference") { Description = "images known not to be memorized (folder, list or manifest): the medians of their MTCNP and discrepancy become the scales" };

    public IEnumerable<Option> All => [InversionSteps, MtcnpSteps, Guidance, Similarity, EmbeddingModel, EmbeddingMean, EmbeddingStd, PerturbationInit, PerturbationPrompt, LearningRate, Iterations, NoiseLatents, LambdaE, LambdaD, ScaleE, ScaleD, Sign, Reference];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>The options from the command line; scales left at 1 when not given (the reference set fills them later).</summary>
    public IipOptions Read(ParseResult parse, int seed)
    {
        int sign = parse.GetValue(Sign);
        if (sign is not (1 or -1)) throw new ArgumentException("--discrepancy-sign must be 1 or -1");
        var similarity = parse.GetValue(Similarity);
        var embeddingModel = parse.GetValue(EmbeddingModel);
        if (similarity == SimilarityKind.OnnxEmbedding && embeddingModel is null)
            throw new ArgumentException("--similarity onnx-embedding needs --embedding-model PATH");
        if (similarity != SimilarityKind.OnnxEmbedding && embeddingModel is not null)
            throw new ArgumentException("--embedding-model is only used with --similarity onnx-embedding");
        if (embeddingModel is not null && !File.Exists(embeddingModel))   // before the perturbation embedding is optimized
            throw new ArgumentException($"--embedding-model {Path.GetFullPath(embeddingModel)}: file not found");
        var embeddingMean = ParseChannels(EmbeddingMean, parse.GetValue(EmbeddingMean), similarity, positive: false);
        var embeddingStd = ParseChannels(EmbeddingStd, parse.GetValue(EmbeddingStd), similarity, positive: true);
        var options = new IipOptions
        {
            InversionSteps = parse.GetValue(InversionSteps),
            MtcnpSteps = parse.GetValue(MtcnpSteps),
            Guidance = parse.GetValue(Guidance),
            Similarity = similarity,
            EmbeddingModelPath = embeddingModel,
            EmbeddingMean = embeddingMean,
            EmbeddingStd = embeddingStd,
            PerturbationInit = parse.GetValue(PerturbationInit),
            PerturbationPrompt = parse.GetValue(PerturbationPrompt)!,
            PerturbationLearningRate = parse.GetValue(LearningRate),
            PerturbationIterations = parse.GetValue(Iterations),
            PerturbationNoiseLatents = parse.GetValue(NoiseLatents),
            LambdaE = parse.GetValue(LambdaE),
            LambdaD = parse.GetValue(LambdaD),
            ScaleE = parse.GetValue(ScaleE) ?? 1.0,
            ScaleD = parse.GetValue(ScaleD) ?? 1.0,
            DiscrepancySign = sign,
            Seed = seed,
        };
        options.Validate();
        return options;
    }

    /// <summary>"R,G,B" (invariant culture) -> 3 finite floats, positive when <paramref name="positive"/>; null when the option is absent.</summary>
    private static float[]? ParseChannels(Option<string?> option, string? text, SimilarityKind similarity, bool positive)
    {
        if (text is null) return null;
        if (similarity != SimilarityKind.OnnxEmbedding)
            throw new ArgumentException($"{option.Name} is only used with --similarity onnx-embedding");
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 3)
            throw new ArgumentException($"{option.Name} '{text}': needs 3 comma-separated values R,G,B, got {parts.Length}");
        var values = new float[3];
        for (int c = 0; c < 3; c++)
        {
            if (!float.TryParse(parts[c], NumberStyles.Float, CultureInfo.InvariantCulture, out values[c]) || !float.IsFinite(values[c]))
                throw new ArgumentException($"{option.Name} '{text}': '{parts[c]}' is not a finite number");
            if (positive && !(values[c] > 0))
                throw new ArgumentException($"{option.Name} '{text}': {parts[c]} must be positive");
        }
        return values;
    }

    private static T ParseEnum<T>(string text) where T : struct, Enum
    {
        var normalized = text.Replace("-", "").Replace("_", "");
        return Enum.TryParse<T>(normalized, ignoreCase: true, out var value)
            ? value
            : throw new ArgumentException($"'{text}' is not one of: {string.Join(", ", Enum.GetNames<T>().Select(Kebab))}");
    }

    internal static string Kebab(string name) => string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
