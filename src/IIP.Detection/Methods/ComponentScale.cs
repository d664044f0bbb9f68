namespace IIP.Detection.Methods;

/// <summary>How IIP puts MTCNP and the discrepancy on comparable scales before adding them (IIP.md step 7).</summary>
public enum ScaleStatistic
{
    /// <summary>
    /// IIP.md's reading of the paper: divide each component by its median over non-memorized images, centre 0:
    /// score = lambda_e MTCNP / med_e + lambda_d sign d / med_d. Weighs a component by its relative spread, so the one whose
    /// values vary most relative to their median (the discrepancy, on every testbed measured) dominates the sum.
    /// </summary>
    Median,

    /// <summary>
    /// Robust z-scores: subtract each component's median over non-memorized images and divide by its robust standard
    /// deviation 1.4826 MAD; score = lambda_e (MTCNP - med_e) / s_e + lambda_d sign (T(d) - med_d) / s_d, T the
    /// <see cref="DiscrepancyTransform"/> (ln by default). Each component counts
    /// in units of its own spread among non-memorized images, so lambda_e = lambda_d = 1 weighs them alike; 0 is a typical
    /// non-memorized image (docs/detection.md, "Calibration").
    /// </summary>
    RobustZ,
}

/// <summary>The centre and scale of one score component under a <see cref="ScaleStatistic"/>.</summary>
public readonly record struct ComponentScale(double Center, double Scale)
{
    /// <summary>1.4826: MAD times this estimates the standard deviation of a normal distribution.</summary>
    public const double MadToSigma = 1.482602218505602;

    /// <summary>
    /// From the component's values over images known (or made) to be non-memorized: (0, median) or (median, 1.4826 MAD).
    /// Throws <see cref="InvalidOperationException"/> naming the component when the values are not finite or the scale is not positive.
    /// </summary>
    public static ComponentScale From(IReadOnlyList<double> values, ScaleStatistic statistic, string component)
    {
        if (values.Count == 0) throw new InvalidOperationException($"no {component} values to take a scale from");
        if (values.Any(v => !double.IsFinite(v))) throw new InvalidOperationException($"a non-finite {component} value cannot set a scale");
        double median = IipSession.Median(values);
        var scale = statistic switch
        {
            ScaleStatistic.Median => new ComponentScale(0, median),
            ScaleStatistic.RobustZ => new ComponentScale(median, MadToSigma * IipSession.Median(values.Select(v => Math.Abs(v - median)).ToList())),
            _ => throw new ArgumentOutOfRangeException(nameof(statistic), statistic, "unknown scale statistic"),
        };
        if (!(scale.Scale > 0))
            throw new InvalidOperationException($"the {component} scale ({statistic}) over {values.Count} images is {scale.Scale}, not positive: the values do not vary");
        return scale;
    }

    /// <summary>(value - centre) / scale.</summary>
    public double Apply(double value) => (value - Center) / Scale;
}
