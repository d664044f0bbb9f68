namespace IIP.Detection.Evaluation;

/// <summary>A two-sided confidence interval.</summary>
public readonly record struct ConfidenceInterval(double Low, double High);

/// <summary>
/// Percentile bootstrap confidence interval of the AUC. Stratified: each resample draws P positives from the
/// positives and N negatives from the negatives, with replacement, so every resample has both classes and the
/// class balance of the data. The interval is the ((1-level)/2, (1+level)/2) quantiles of the resampled AUCs,
/// linear interpolation between order statistics (numpy.percentile's default). Seeded, so reports are reproducible.
/// </summary>
public static class AucBootstrap
{
    public const int DefaultResamples = 1000;
    public const int DefaultSeed = 0;
    public const double DefaultLevel = 0.95;

    public static ConfidenceInterval Interval(
        IReadOnlyList<double> scores, IReadOnlyList<bool> memorized,
        int resamples = DefaultResamples, int seed = DefaultSeed, double level = DefaultLevel)
    {
        var (positives, negatives) = ScoredLabels.Validate(scores, memorized);
        if (resamples < 2)
            throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "need at least 2 resamples");
        if (!(level > 0 && level < 1))
            throw new ArgumentOutOfRangeException(nameof(level), level, "confidence level lies in (0, 1)");

        double[] pos = Enumerable.Range(0, scores.Count).Where(i => memorized[i]).Select(i => scores[i]).ToArray();
        double[] neg = Enumerable.Range(0, scores.Count).Where(i => !memorized[i]).Select(i => scores[i]).ToArray();
        var random = new Random(seed);
        var sampleScores = new double[positives + negatives];
        var sampleLabels = new bool[positives + negatives];
        for (int i = 0; i < positives; i++)
            sampleLabels[i] = true;

        var aucs = new double[resamples];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < positives; i++)
                sampleScores[i] = pos[random.Next(positives)];
            for (int i = 0; i < negatives; i++)
                sampleScores[positives + i] = neg[random.Next(negatives)];
            aucs[r] = Metrics.Auc(sampleScores, sampleLabels);
        }
        Array.Sort(aucs);
        double tail = (1 - level) / 2;
        return new ConfidenceInterval(Quantile(aucs, tail), Quantile(aucs, 1 - tail));
    }

    /// <summary>Quantile q of sorted values, linear between order statistics at position q (n - 1).</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        double fraction = position - below;
        return sorted[below] + (sorted[above] - sorted[below]) * fraction;
    }
}
