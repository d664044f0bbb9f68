namespace IIP.Detection.Evaluation;

/// <summary>The metric definitions every evaluation output states, worded as docs/IIP.md (Metrics) states them.</summary>
public static class MetricDefinitions
{
    public const string Auc = "AUC: area under the ROC curve, ties in scores handled as sklearn's `roc_auc_score` does.";

    public const string TprAtFpr = "TPR@1%FPR: the largest true-positive rate over all thresholds whose false-positive rate is <= 1%.";

    public const string Accuracy = "Accuracy: max over thresholds of (TPR + TNR) / 2.";

    public const string LabelConvention = "Label convention: memorized = positive; a higher score means more likely memorized.";

    /// <summary>How the AUC interval is made (ours, not in IIP.md).</summary>
    public static string AucInterval(int resamples, int seed) =>
        $"AUC 95% CI: percentile bootstrap, {resamples} resamples stratified by class (positives and negatives resampled separately), seed {seed}.";

    public static IReadOnlyList<string> All(int resamples, int seed) => [Auc, TprAtFpr, Accuracy, LabelConvention, AucInterval(resamples, seed)];
}
