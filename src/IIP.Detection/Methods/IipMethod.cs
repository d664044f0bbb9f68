namespace IIP.Detection.Methods;

/// <summary>
/// IIP and its single-signal ablations from one computation: "iip" (the combined score), "iip-mtcnp"
/// (MTCNP alone) and "iip-similarity" (sign x discrepancy alone), IIP.md's "MTCNP-only and similarity-only".
/// </summary>
public sealed class IipMethod : IBatchDetectionMethod
{
    public const string Combined = "iip";
    public const string MtcnpOnly = "iip-mtcnp";
    public const string SimilarityOnly = "iip-similarity";
    public static readonly string[] All = [Combined, MtcnpOnly, SimilarityOnly];

    private readonly IipDetector _detector;

    public IipMethod(IipDetector detector, IEnumerable<string> methods)
    {
        _detector = detector;
        Methods = All.Intersect(methods).ToArray();
        if (Methods.Count == 0) throw new ArgumentException($"IIP emits {string.Join(", ", All)}");
    }

    public IReadOnlyList<string> Methods { get; }

    public string OptionsKey => _detector.Options.ScoreKey();

    public bool NeedsCaption => false;

    public IReadOnlyList<MethodResult> Score(ScanInput input) => Results(_detector.Score(input.Image));

    public IReadOnlyList<IReadOnlyList<MethodResult>> ScoreBatch(IReadOnlyList<ScanInput> inputs) =>
        _detector.ScoreBatch(inputs.Select(i => i.Image).ToList()).Select(Results).ToList();

    /// <summary>This instance's results from a computed score (also what iip-fit reports for IIP's names).</summary>
    internal IReadOnlyList<MethodResult> Results(IipScore s)
    {
        var o = _detector.Options;
        // the scales the score used, so a results file says how its components were weighed
        var components = new Dictionary<string, double>(s.Components)
        {
            ["discrepancy_term"] = o.DiscrepancyTerm(s.Discrepancy),
            ["center_e"] = o.CenterE, ["scale_e"] = o.ScaleE, ["center_d"] = o.CenterD, ["scale_d"] = o.ScaleD,
        };
        return Methods.Select(m => new MethodResult(m, m switch
        {
            MtcnpOnly => s.Mtcnp,
            SimilarityOnly => o.DiscrepancySign * s.Discrepancy,
            _ => s.Score,
        }, components, s.Tcnp)).ToList();
    }
}
