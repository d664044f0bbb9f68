using System.CommandLine;
using System.Globalization;
using IIP.Detection.Methods;

namespace IIP.Cli.Commands.Scan;

/// <summary>The IIP method's options as command-line options (defaults: <see cref="IipPresets"/>), shared by scan, ablate and explain.</summary>
public sealed class IipOptionSet
{
    private static readonly IipOptions Defaults = IipPresets.Default;
    private static readonly IipOptions Paper = IipPresets.Paper;

    // "(default X; --preset paper: Y)" for the options the presets set
    private static string Preset<T>(Func<IipOptions, T> value) =>
        Equals(value(Defaults), value(Paper)) ? $"(default {Text(value(Defaults))})" : $"(default {Text(value(Defaults))}; --preset paper: {Text(value(Paper))})";

    private static string Text(object? value) => value switch
    {
        Enum e => OptionText.Kebab(e.ToString()),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "",
    };

    public Option<IipPreset> PresetOption { get; } = new("--preset") { Description = "default: the settings chosen by measurement on the testbed family (docs/detection.md); paper: shared/docs/IIP.md's reading of the paper (MTCNP over the first 10 steps, median scales, no self-calibration). Any option below given explicitly overrides the preset", DefaultValueFactory = _ => IipPreset.Default, CustomParser = r => ParseEnum<IipPreset>(r.Tokens[0].Value) };
    public Option<int> InversionSteps { get; } = new("--inversion-steps") { Description = $"t_I: unconditional DDIM inversion steps on the {Defaults.GridSteps}-step grid (20 ends the latent at t = 381) " + Preset(o => o.InversionSteps) };
    public Option<int> MtcnpSteps { get; } = new("--mtcnp-steps") { Description = "t_P: how many regeneration steps' TCNP is averaged into MTCNP " + Preset(o => o.MtcnpSteps) };
    public Option<MtcnpWindow> MtcnpWindow { get; } = new("--mtcnp-window") { Description = "which t_P steps: late: those before the last (low noise, where memorized images stand out: t = 81 to 21 for t_P 4); first: the first t_P of the regeneration (IIP.md) " + Preset(o => o.MtcnpWindow), CustomParser = r => ParseEnum<MtcnpWindow>(r.Tokens[0].Value) };
    public Option<float> Guidance { get; } = new("--guidance") { Description = "classifier-free guidance of the perturbed regeneration " + Preset(o => o.Guidance) };
    public Option<SimilarityKind> Similarity { get; } = new("--similarity") { Description = "latent-cosine: cos(z0, regenerated latent); pixel-ssim: SSIM of the input and the decoded regeneration; onnx-embedding: cosine of --embedding-model's embeddings of the input and the decoded regeneration " + Preset(o => o.Similarity), CustomParser = r => ParseEnum<SimilarityKind>(r.Tokens[0].Value) };
    public Option<string?> EmbeddingModel { get; } = new("--embedding-model") { Description = "ONNX image-embedding model (SSCD, CLIP, DINO: one float input [1, 3, H, W]; [0, 1] pixels normalized by --embedding-mean and --embedding-std) for --similarity onnx-embedding", HelpName = "PATH" };
    public Option<string?> EmbeddingMean { get; } = new("--embedding-mean") { Description = "per-channel mean subtracted from the [0, 1] RGB pixels before --embedding-model, comma-separated (default: ImageNet's 0.485,0.456,0.406; OpenAI CLIP wants 0.48145466,0.4578275,0.40821073)", HelpName = "R,G,B" };
    public Option<string?> EmbeddingStd { get; } = new("--embedding-std") { Description = "per-channel standard deviation the centred pixels are divided by before --embedding-model, comma-separated, positive (default: ImageNet's 0.229,0.224,0.225; OpenAI CLIP wants 0.26862954,0.26130258,0.27577711)", HelpName = "R,G,B" };
    public Option<PerturbationInit> PerturbationInit { get; } = new("--perturbation-init") { Description = "prompt: start from the embedding of --perturbation-prompt; random: Gaussian rows " + Preset(o => o.PerturbationInit), CustomParser = r => ParseEnum<PerturbationInit>(r.Tokens[0].Value) };
    public Option<string> PerturbationPrompt { get; } = new("--perturbation-prompt") { Description = "the meaningless prompt the perturbation embedding starts from " + Preset(o => o.PerturbationPrompt) };
    public Option<double> LearningRate { get; } = new("--perturbation-lr") { Description = "AdamW learning rate of the perturbation embedding " + Preset(o => o.PerturbationLearningRate) };
    public Option<int> Iterations { get; } = new("--perturbation-iterations") { Description = "AdamW iterations of the perturbation embedding (0 keeps the start embedding) " + Preset(o => o.PerturbationIterations) };
    public Option<int> NoiseLatents { get; } = new("--perturbation-noise") { Description = "noise latents the TCNP objective averages over " + Preset(o => o.PerturbationNoiseLatents) };
    public Option<double> LambdaE { get; } = new("--lambda-e") { Description = "weight of MTCNP in the score " + Preset(o => o.LambdaE) };
    public Option<double> LambdaD { get; } = new("--lambda-d") { Description = "weight of the discrepancy 1 - similarity in the score " + Preset(o => o.LambdaD) };
    public Option<double?> ScaleE { get; } = new("--scale-e") { Description = "divide MTCNP by this, centre 0, instead of the calibration (give --scale-d with it; not with --reference) (default: from --reference images, else from the self-calibration; see --scale-statistic)" };
    public Option<double?> ScaleD { get; } = new("--scale-d") { Description = "divide the discrepancy by this, centre 0, instead of the calibration (give --scale-e with it; not with --reference) (default: from --reference images, else from the self-calibration; see --scale-statistic)" };
    public Option<ScaleStatistic> ScaleStatistic { get; } = new("--scale-statistic") { Description = "how the calibration or --reference images set each component's centre and scale: robust-z: (x - median) / (1.4826 MAD), so both components count in units of their spread among non-memorized images; median: x / median, IIP.md's reading of the paper " + Preset(o => o.ScaleStatistic), CustomParser = r => ParseEnum<ScaleStatistic>(r.Tokens[0].Value) };
    public Option<DiscrepancyTransform> DiscrepancyTransform { get; } = new("--discrepancy-transform") { Description = "what the discrepancy d = 1 - similarity enters the score as: log: ln d (its long upper tail among non-memorized images no longer decides the score); linear: d (IIP.md) " + Preset(o => o.DiscrepancyTransform), CustomParser = r => ParseEnum<DiscrepancyTransform>(r.Tokens[0].Value) };
    public Option<int> CalibrationImages { get; } = new("--calibration-images") { Description = "without --reference or --scale-e/--scale-d, the centres and scales come from this many images the model generates from the perturbation embedding, scored like the scan's (cached with it); 0: no calibration, centres 0 and scales 1 " + Preset(o => o.CalibrationImages) };
    public Option<int> Sign { get; } = new("--discrepancy-sign") { Description = "+1: memorized images regenerate farther from the input; -1: closer (docs/detection.md has the evidence) " + Preset(o => o.DiscrepancySign) };
    public Option<string?> Reference { get; } = new("--reference") { Description = "images known not to be memorized (folder, list or manifest): their MTCNP and discrepancy set the centres and scales (see --scale-statistic) instead of the self-calibration" };

    public IEnumerable<Option> All => [PresetOption, InversionSteps, MtcnpSteps, MtcnpWindow, Guidance, Similarity, EmbeddingModel, EmbeddingMean, EmbeddingStd, PerturbationInit, PerturbationPrompt, LearningRate, Iterations, NoiseLatents, LambdaE, LambdaD, ScaleE, ScaleD, ScaleStatistic, DiscrepancyTransform, CalibrationImages, Sign, Reference];

    public void AddTo(Command command)
    {
        foreach (var option in All) command.Options.Add(option);
    }

    /// <summary>
    /// Whether --scale-e and --scale-d were given: then neither a reference set nor the calibration sets the scales. One
    /// without the other (the other would stay 1, uncalibrated) and either with --reference (two sources for one number)
    /// are refused.
    /// </summary>
    public bool ScalesGiven(ParseResult parse)
    {
        bool e = parse.GetValue(ScaleE) is not null, d = parse.GetValue(ScaleD) is not null;
        if (e != d)
            throw new ArgumentException($"{(e ? "--scale-e" : "--scale-d")} without {(e ? "--scale-d" : "--scale-e")}: give both (the other component would be left unscaled), or neither to calibrate both");
        if (e && parse.GetValue(Reference) is not null)
            throw new ArgumentException("--scale-e/--scale-d and --reference both set the scales: give one of them");
        return e;
    }

    /// <summary>
    /// The options from the command line: the --preset's, each overridden by the options given explicitly; scales left
    /// at 1 when not given (a reference set or the calibration fills them later).
    /// </summary>
    public IipOptions Read(ParseResult parse, int seed)
    {
        var preset = IipPresets.Of(parse.GetValue(PresetOption));
        T Value<T>(Option<T> option, T fromPreset) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : fromPreset;
        int sign = Value(Sign, preset.DiscrepancySign);
        if (sign is not (1 or -1)) throw new ArgumentException("--discrepancy-sign must be 1 or -1");
        var similarity = Value(Similarity, preset.Similarity);
        var embeddingModel = parse.GetValue(EmbeddingModel);
        if (similarity == SimilarityKind.OnnxEmbedding && embeddingModel is null)
            throw new ArgumentException("--similarity onnx-embedding needs --embedding-model PATH");
        if (similarity != SimilarityKind.OnnxEmbedding && embeddingModel is not null)
            throw new ArgumentException("--embedding-model is only used with --similarity onnx-embedding");
        if (embeddingModel is not null && !File.Exists(embeddingModel))   // before the perturbation embedding is optimized
            throw new ArgumentException($"--embedding-model {Path.GetFullPath(embeddingModel)}: file not found");
        var embeddingMean = ParseChannels(EmbeddingMean, parse.GetValue(EmbeddingMean), similarity, positive: false);
        var embeddingStd = ParseChannels(EmbeddingStd, parse.GetValue(EmbeddingStd), similarity, positive: true);
        var options = preset with
        {
            InversionSteps = Value(InversionSteps, preset.InversionSteps),
            MtcnpSteps = Value(MtcnpSteps, preset.MtcnpSteps),
            MtcnpWindow = Value(MtcnpWindow, preset.MtcnpWindow),
            Guidance = Value(Guidance, preset.Guidance),
            Similarity = similarity,
            EmbeddingModelPath = embeddingModel,
            EmbeddingMean = embeddingMean,
            EmbeddingStd = embeddingStd,
            PerturbationInit = Value(PerturbationInit, preset.PerturbationInit),
            PerturbationPrompt = Value(PerturbationPrompt, preset.PerturbationPrompt),
            PerturbationLearningRate = Value(LearningRate, preset.PerturbationLearningRate),
            PerturbationIterations = Value(Iterations, preset.PerturbationIterations),
            PerturbationNoiseLatents = Value(NoiseLatents, preset.PerturbationNoiseLatents),
            LambdaE = Value(LambdaE, preset.LambdaE),
            LambdaD = Value(LambdaD, preset.LambdaD),
            ScaleE = parse.GetValue(ScaleE) ?? 1.0,
            ScaleD = parse.GetValue(ScaleD) ?? 1.0,
            CalibrationImages = Value(CalibrationImages, preset.CalibrationImages),
            ScaleStatistic = Value(ScaleStatistic, preset.ScaleStatistic),
            DiscrepancyTransform = Value(DiscrepancyTransform, preset.DiscrepancyTransform),
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
            : throw new ArgumentException($"'{text}' is not one of: {string.Join(", ", Enum.GetNames<T>().Select(OptionText.Kebab))}");
    }
}
