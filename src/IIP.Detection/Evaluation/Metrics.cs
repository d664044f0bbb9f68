namespace IIP.Detection.Evaluation;

/// <summary>
/// Detection metrics (docs/IIP.md, Metrics). Label convention: memorized = positive; a higher score means
/// more likely memorized. Every function throws <see cref="ArgumentException"/> when a class is empty or a
/// score is not finite.
/// </summary>
public static class Metrics
{
    /// <summary>
    /// Area under the ROC curve by the trapezoid rule over <see cref="RocCurve"/>, as sklearn.metrics.roc_auc_score:
    /// AUC = sum_i (FP_i - FP_{i-1}) (TP_i + TP_{i-1}) / (2 P N). A tie group of a positives and b negatives
    /// contributes a trapezoid, i.e. half credit a*b/2 for its tied pairs, so AUC equals the Mann-Whitney
    /// statistic U / (P N) with U = #{pos &gt; neg} + 0.5 #{pos == neg}.
    /// </summary>
    public static double Auc(IReadOnlyList<double> scores, IReadOnlyList<bool> memorized) =>
        Auc(RocCurve.Compute(scores, memorized));

    public static double Auc(RocCurve roc)
    {
        // Twice the area in count units, exact in integers (at most 2 P N).
        long twiceArea = 0;
        for (int i = 1; i < roc.Count; i++)
            twiceArea += (long)(roc.FalsePositives[i] - roc.FalsePositives[i - 1]) * (roc.TruePositives[i] + roc.TruePositives[i - 1]);
        return twiceArea / (2.0 * roc.Positives * roc.Negatives);
    }

    /// <summary>
    /// The largest TPR over all thresholds whose FPR &lt;= <paramref name="maxFpr"/> (the threshold +infinity,
    /// FPR 0, always qualifies). With fewer than 1/maxFpr negatives only FPR = 0 qualifies.
    /// </summary>
    public static double TprAtFpr(IReadOnlyList<double> scores, IReadOnlyList<bool> memorized, double maxFpr = 0.01) =>
        TprAtFpr(RocCurve.Compute(scores, memorized), maxFpr);

    public static double TprAtFpr(RocCurve roc, double maxFpr = 0.01)
    {
        if (!(maxFpr >= 0 && maxFpr <= 1))
            throw new ArgumentOutOfRangeException(nameof(maxFpr), maxFpr, "a false-positive rate lies in [0, 1]");
        double best = 0;
        // FP/N and maxFpr are both correctly rounded, so FP/N <= maxFpr holds exactly when the rational does
        // (for N < 1e14, a rational FP/N above 0.01 differs from it by >= 1/(100 N), far more than an ulp).
        for (int i = 0; i < roc.Count; i++)
            if (roc.Fpr(i) <= maxFpr)
                best = Math.Max(best, roc.Tpr(i));
        return best;
    }

    /// <summary>Max over thresholds of balanced accuracy (TPR + TNR) / 2, with TNR = 1 - FPR; at least 0.5.</summary>
    public static double BestAccuracy(IReadOnlyList<double> scores, IReadOnlyList<bool> memorized) =>
        BestAccuracy(RocCurve.Compute(scores, memorized));

    public static double BestAccuracy(RocCurve roc)
    {
        double best = 0;
        for (int i = 0; i < roc.Count; i++)
            best = Math.Max(best, (roc.Tpr(i) + 1.0 - roc.Fpr(i)) / 2.0);
        return best;
    }
}
