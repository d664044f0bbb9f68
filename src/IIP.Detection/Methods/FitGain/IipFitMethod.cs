namespace IIP.Detection.Methods.FitGain;

/// <summary>
/// IIP with the fit gain as a third component (`iip-fit`, beyond the paper): score = IIP's score + lambda_f (g - c_f) / s_f,
/// g the fit gain and (c_f, s_f) its robust centre and scale (median, 1.4826 MAD) over the same non-memorized images IIP's
/// scales come from (the calibration images the tool generates from the perturbation prompt, or --reference images), so
/// each of the three components counts in units of its own spread. One inversion, regeneration and fit per image: this
/// instance also emits iip, iip-mtcnp, iip-similarity and fit-gain when they are asked for with it (one latent z0 shared).
/// </summary>
public sealed class IipFitMethod : IDetectionMethod
{
    public const string Name = "iip-fit";

    /// <summary>The methods one instance can emit.</summary>
    public static readonly string[] Emits = [.. IipMethod.All, FitGainMethod.Name, Name];

    private readonly IipDetector _detector;
    private readonly FitGainMethod _fit;
    private readonly IipMethod _iip;

    public IipFitMethod(IipDetector detector, FitGainMethod fit, ComponentScale fitScale, IEnumerable<string> methods, double lambdaF = 1.0)
    {
        if (!(fitScale.Scale > 0) || !double.IsFinite(fitScale.Center))
            throw new InvalidOperationException($"iip-fit: the fit gain's scale ({fitScale.Center:G4}, {fitScale.Scale:G4}) is not usable");
        _detector = detector;
        _fit = fit;
        FitScale = fitScale;
        LambdaF = lambdaF;
        Methods = methods.ToList();
        var unknown = Methods.Where(m => !Emits.Contains(m)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"iip-fit cannot emit {string.Join(", ", unknown)}");
        _iip = new IipMethod(detector, Methods.Where(IipMethod.All.Contains).DefaultIfEmpty(IipMethod.Combined));
    }

    public ComponentScale FitScale { get; }

    public double LambdaF { get; }

    public IReadOnlyList<string> Methods { get; }

    public string OptionsKey => OptionsKeys.Hash(new Dictionary<string, string>
    {
        ["iip"] = _detector.Options.ScoreKey(),
        ["fit"] = _fit.OptionsKey,
        ["fit_scale"] = FormattableString.Invariant($"{FitScale.Center:R},{FitScale.Scale:R},{LambdaF:R}"),
    });

    public bool NeedsCaption => false;

    public IReadOnlyList<MethodResult> Score(ScanInput input)
    {
        var trace = _detector.Trace(input.Image);
        var iipResults = _iip.Results(trace.Score);
        var fit = _fit.ScoreLatent(trace.Latent);
        double fitTerm = LambdaF * (fit.Score - FitScale.Center) / FitScale.Scale;
        var components = new Dictionary<string, double>(iipResults[0].Components)
        {
            ["fit_gain"] = fit.Score, ["fit_term"] = fitTerm, ["center_f"] = FitScale.Center, ["scale_f"] = FitScale.Scale,
        };
        foreach (var (key, value) in fit.Components) components[key] = value;
        return Methods.Select(m => m switch
        {
            Name => new MethodResult(Name, trace.Score.Score + fitTerm, components, trace.Score.Tcnp),
            FitGainMethod.Name => fit,
            _ => iipResults.Single(r => r.Method == m),
        }).ToList();
    }
}
