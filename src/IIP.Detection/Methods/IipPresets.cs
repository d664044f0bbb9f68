namespace IIP.Detection.Methods;

/// <summary>Named sets of IIP options: what <c>--preset</c> selects before single options override it.</summary>
public enum IipPreset
{
    /// <summary>The defaults chosen by measurement across the testbed family (docs/detection.md, "Defaults and their evidence").</summary>
    Default,

    /// <summary>
    /// shared/docs/IIP.md's reading of the paper: t_I = 20, t_P = 10, guidance 7.5, "ata" optimized 10 steps, latent
    /// cosine, lambda_e = lambda_d = 1, each component divided by its median over a reference set, or by 1 (no self-calibration).
    /// </summary>
    Paper,
}

/// <summary>The options of each <see cref="IipPreset"/>.</summary>
public static class IipPresets
{
    /// <summary>
    /// The default detector. Differs from <see cref="Paper"/> where the evidence of docs/detection.md says so: MTCNP over
    /// the 4 regeneration steps before the last (t = 81 to 21; TCNP separates memorized images at low noise on every
    /// testbed, and not at the first steps of the regeneration from t = 381), robust z-scores (centre the median, scale
    /// 1.4826 MAD) from a self-calibration on generated images when no reference set is given, the discrepancy on a log scale
    /// (its long upper tail among non-memorized images otherwise decides the score) and at half MTCNP's weight (in those
    /// units it is the weaker signal on every testbed).
    /// </summary>
    public static IipOptions Default { get; } = new();

    /// <summary>IIP.md's settings (see <see cref="IipPreset.Paper"/>).</summary>
    public static IipOptions Paper { get; } = new()
    {
        InversionSteps = 20, MtcnpSteps = 10, MtcnpWindow = MtcnpWindow.First, LambdaD = 1, CalibrationImages = 0, ScaleStatistic = ScaleStatistic.Median,
        DiscrepancyTransform = DiscrepancyTransform.Linear,
    };

    public static IipOptions Of(IipPreset preset) => preset switch
    {
        IipPreset.Default => Default,
        IipPreset.Paper => Paper,
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, "unknown preset"),
    };
}
