using IIP.Detection.Methods.Baselines;
using IIP.Detection.Methods;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Scanning;
using IIP.Detection;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Scan;

/// <summary>Turns --method names into detection methods over one loaded model.</summary>
public static class MethodFactory
{
    public static string Describe() => string.Join("; ", MethodCatalog.All.Select(m => $"{m.Name}: {m.Description}"));

    public static IReadOnlyList<string> ParseNames(IEnumerable<string> values)
    {
        var names = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct().ToList();
        var unknown = names.Where(n => MethodCatalog.Find(n) is null).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown method(s) {string.Join(", ", unknown)}; known: {string.Join(", ", MethodCatalog.Names)}");
        return names;
    }

    /// <summary>
    /// IIP's session for a model (perturbation embedding from the cache or optimized) and the options with their scales,
    /// from the first of: the medians over <paramref name="reference"/> images; the given --scale-e/--scale-d
    /// (<paramref name="scalesGiven"/>); the self-calibration (<see cref="IipOptions.CalibrationImages"/> > 0, also returned); else 1.
    /// </summary>
    /// <param name="fingerprint">the model's <see cref="ModelFingerprint"/> (the caches' key)</param>
    public static (IipSession Session, IipOptions Options, CalibrationResult? Calibration) OpenIip(StableDiffusion model, string fingerprint, IipOptions iip,
        string cacheDirectory, string? reference, bool scalesGiven, Func<string, Tensor> loadImage, ConsoleProgress progress, Tensor? empty = null)
    {
        var session = new IipSession(model, iip, fingerprint, cacheDirectory, progress, empty);
        if (reference is not null)
        {
            var listed = ScanSource.Read(reference);
            var readable = listed.Where(i => i.Unsupported is null).ToList();
            if (readable.Count < listed.Count)
                Console.Error.WriteLine($"warning: --reference {reference}: {listed.Count - readable.Count} files in formats the decoder cannot read are left out");
            var options = session.WithReferenceScales(readable.Select(i => i.FullPath).ToList(), loadImage, progress);
            progress.Report($"reference scales ({OptionText.Kebab(options.ScaleStatistic)}): {ScalesText(options)}");
            return (session, options, null);
        }
        if (!scalesGiven && iip.CalibrationImages > 0)
        {
            var (options, calibration) = session.WithCalibratedScales(progress);
            progress.Report($"calibrated scales ({OptionText.Kebab(options.ScaleStatistic)}, {iip.CalibrationImages} generated images): {ScalesText(options)}");
            return (session, options, calibration);
        }
        return (session, iip, null);
    }

    /// <summary>"MTCNP (x - c) / s, ln discrepancy (x - c) / s" with the options' values, for messages and reports.</summary>
    public static string ScalesText(IipOptions o) =>
        FormattableString.Invariant($"MTCNP (x - {o.CenterE:G5}) / {o.ScaleE:G5}, {(o.DiscrepancyTransform == DiscrepancyTransform.Log ? "ln discrepancy" : "discrepancy")} (x - {o.CenterD:G5}) / {o.ScaleD:G5}");

    // the images iip-fit scales the fit gain on: the --reference images, else the calibration images IIP generated
    private static IReadOnlyList<string> NonMemorizedImages(string fingerprint, IipOptions options, string cacheDirectory, string? reference)
    {
        if (reference is not null)
            return ScanSource.Read(reference).Where(i => i.Unsupported is null).Select(i => i.FullPath).ToList();
        if (options.CalibrationImages < 1)
            throw new ArgumentException("iip-fit scales the fit gain on IIP's calibration images or on --reference images; with --calibration-images 0 pass --reference DIR");
        string folder = IipCalibration.ImageFolder(cacheDirectory, fingerprint, options);
        if (!Directory.Exists(folder)) throw new InvalidOperationException($"{folder}: the calibration images are not there (the calibration was cached without them); remove the calibration JSON beside it to make them again");
        return Directory.GetFiles(folder, "*.png").Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The methods called <paramref name="names"/>. IIP's scales as <see cref="OpenIip"/> sets them: reference medians,
    /// given scales, self-calibration or 1.
    /// </summary>
    public static IReadOnlyList<IDetectionMethod> Create(IReadOnlyList<string> names, StableDiffusion model, string fingerprint, IipOptions iip,
        BaselineSettings baselines, string cacheDirectory, string? reference, Func<string, Tensor> loadImage, ConsoleProgress progress,
        bool scalesGiven = false)
    {
        var methods = new List<IDetectionMethod>();
        var empty = model.Backend.ToHost(model.EncodePrompts([""]));   // e0, shared by IIP and the baselines
        // iip-fit computes IIP and the fit gain once for every name it can emit; otherwise IIP's three share one detector
        var sharedNames = names.Contains(IipFitMethod.Name) ? names.Where(IipFitMethod.Emits.Contains).ToList() : names.Where(IipMethod.All.Contains).ToList();
        if (sharedNames.Count > 0)
        {
            var (session, options, _) = OpenIip(model, fingerprint, iip, cacheDirectory, reference, scalesGiven, loadImage, progress, empty);
            if (names.Contains(IipFitMethod.Name))
            {
                var fit = new FitGainMethod(model, baselines.FitGain, empty);
                var scale = FitGainCalibration.Compute(fit, NonMemorizedImages(fingerprint, options, cacheDirectory, reference), loadImage,
                    fingerprint, cacheDirectory, progress);
                methods.Add(new IipFitMethod(session.CreateDetector(options), fit, scale, sharedNames));
            }
            else
                methods.Add(new IipMethod(session.CreateDetector(options), sharedNames));
        }
        foreach (var name in names.Where(n => !sharedNames.Contains(n)))
        {
            methods.Add(name switch
            {
                OriPromptMethod.Name => new OriPromptMethod(model, baselines.OriPrompt, empty),
                DenoisingLossMethod.Name => new DenoisingLossMethod(model, baselines.DenoisingLoss, empty),
                PiaMethod.Name => new PiaMethod(model, baselines.Pia, empty),
                SecMiMethod.Name => new SecMiMethod(model, baselines.SecMi, empty),
                PiaMethod.StableDiffusionName => new PiaMethod(model, PiaOptions.AuthorsStableDiffusion, empty, PiaMethod.StableDiffusionName),
                SecMiMethod.StableDiffusionName => new SecMiMethod(model, SecMiOptions.AuthorsStableDiffusion, empty, SecMiMethod.StableDiffusionName),
                FitGainMethod.Name => new FitGainMethod(model, baselines.FitGain, empty),
                _ => throw new ArgumentException($"method {name} has no factory"),
            });
        }
        return methods;
    }
}
