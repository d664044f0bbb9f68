using IIP.Detection.Evaluation;

namespace IIP.Detection.Tests.Evaluation;

/// <summary>
/// Metrics on small score lists whose values are worked out by hand in the comments. Label 1 = memorized.
/// Exact equality is asserted: every metric is a ratio of small integers computed with one division, so the
/// hand value written as the same ratio is the same double.
/// </summary>
public sealed class MetricsTests
{
    private static bool[] L(params int[] labels) => labels.Select(l => l == 1).ToArray();

    [Fact]
    public void Sklearn_docs_example()
    {
        // sklearn roc_curve / roc_auc_score docs: y = [0, 0, 1, 1], scores = [0.1, 0.4, 0.35, 0.8].
        // Descending: 0.8 (P), 0.4 (N), 0.35 (P), 0.1 (N); P = N = 2.
        // Points (FPR, TPR): inf (0, 0), 0.8 (0, .5), 0.4 (.5, .5), 0.35 (.5, 1), 0.1 (1, 1).
        // Trapezoids: 0 + 0.5 * (0.5 + 0.5) / 2 + 0 + 0.5 * (1 + 1) / 2 = 0.25 + 0.5 = 0.75.
        // TPR@1%FPR: points with FPR = 0 are (0, 0) and (0, .5) -> 0.5.
        // Accuracy: (0, .5) -> (0.5 + 1) / 2 = 0.75; (.5, 1) -> (1 + 0.5) / 2 = 0.75 -> 0.75.
        double[] scores = [0.1, 0.4, 0.35, 0.8];
        var labels = L(0, 0, 1, 1);
        var roc = RocCurve.Compute(scores, labels);
        Assert.Equal([double.PositiveInfinity, 0.8, 0.4, 0.35, 0.1], roc.Thresholds);
        Assert.Equal([0, 0, 0.5, 0.5, 1], roc.FprValues());
        Assert.Equal([0, 0.5, 0.5, 1, 1], roc.TprValues());
        Assert.Equal(0.75, Metrics.Auc(scores, labels));
        Assert.Equal(0.5, Metrics.TprAtFpr(scores, labels));
        Assert.Equal(0.75, Metrics.BestAccuracy(scores, labels));
    }

    [Fact]
    public void All_scores_tied_is_chance()
    {
        // One tie group: points (0, 0) and (1, 1); area 1 * (0 + 1) / 2 = 0.5. Only FPR 0 is (0, 0): TPR 0.
        double[] scores = [0.5, 0.5, 0.5, 0.5];
        var labels = L(1, 0, 1, 0);
        Assert.Equal(2, RocCurve.Compute(scores, labels).Count);
        Assert.Equal(0.5, Metrics.Auc(scores, labels));
        Assert.Equal(0.0, Metrics.TprAtFpr(scores, labels));
        Assert.Equal(0.5, Metrics.BestAccuracy(scores, labels));
    }

    [Fact]
    public void Perfect_and_inverted_rankings()
    {
        // Perfect: every positive above every negative -> AUC 1, TPR 1 at FPR 0, accuracy 1.
        double[] scores = [0.9, 0.8, 0.2, 0.1];
        Assert.Equal(1.0, Metrics.Auc(scores, L(1, 1, 0, 0)));
        Assert.Equal(1.0, Metrics.TprAtFpr(scores, L(1, 1, 0, 0)));
        Assert.Equal(1.0, Metrics.BestAccuracy(scores, L(1, 1, 0, 0)));
        // Inverted: AUC 0; at FPR 0 no positive is found; accuracy is at least 0.5 (the all-negative threshold).
        Assert.Equal(0.0, Metrics.Auc(scores, L(0, 0, 1, 1)));
        Assert.Equal(0.0, Metrics.TprAtFpr(scores, L(0, 0, 1, 1)));
        Assert.Equal(0.5, Metrics.BestAccuracy(scores, L(0, 0, 1, 1)));
    }

    [Fact]
    public void Ties_across_classes_get_half_credit()
    {
        // scores [0.9, 0.5, 0.5, 0.5, 0.1], labels [1, 1, 0, 0, 0]: P = 2, N = 3.
        // Pairs: 0.9 beats all 3 negatives (3); the positive 0.5 ties two negatives (2 * 0.5 = 1) and beats 0.1 (1).
        // U = 5, AUC = 5 / 6. Points: (0,0), (0, 1/2), (2/3, 1), (1, 1).
        // TPR@1%FPR = 1/2 (at FPR 0). Accuracy: (0, 1/2) -> 3/4; (2/3, 1) -> (1 + 1/3) / 2 = 2/3 -> 3/4.
        double[] scores = [0.9, 0.5, 0.5, 0.5, 0.1];
        var labels = L(1, 1, 0, 0, 0);
        Assert.Equal(5.0 / 6.0, Metrics.Auc(scores, labels));
        Assert.Equal(0.5, Metrics.TprAtFpr(scores, labels));
        Assert.Equal(0.75, Metrics.BestAccuracy(scores, labels));
        Assert.Equal([0, 1.0 / 2, 1, 1], RocCurve.Compute(scores, labels).TprValues());
    }

    [Theory]
    [InlineData(100)]
    [InlineData(300)]
    public void Tpr_at_one_percent_fpr_includes_an_fpr_of_exactly_one_percent(int negatives)
    {
        // Negatives score 1..N. Positives: 3 above every negative, 2 just below the top N/100 negatives,
        // 5 below every negative (P = 10). At threshold N - N/100 + 0.5 the FP count is N/100 (FPR exactly 1%) and
        // TP = 5 -> TPR@1%FPR = 0.5; the next threshold adds a negative (FPR > 1%). At FPR 0 the TPR is 0.3.
        int atOnePercent = negatives / 100;
        var scores = new List<double>();
        var labels = new List<bool>();
        for (int k = 1; k <= negatives; k++) { scores.Add(k); labels.Add(false); }
        for (int i = 0; i < 3; i++) { scores.Add(negatives + 0.5); labels.Add(true); }
        for (int i = 0; i < 2; i++) { scores.Add(negatives - atOnePercent + 0.5); labels.Add(true); }
        for (int i = 0; i < 5; i++) { scores.Add(0); labels.Add(true); }
        Assert.Equal(0.5, Metrics.TprAtFpr(scores, labels, 0.01));
        Assert.Equal(0.3, Metrics.TprAtFpr(scores, labels, 0.0));
    }

    [Fact]
    public void An_empty_class_or_a_bad_score_is_a_clear_error()
    {
        var e = Assert.Throws<ArgumentException>(() => Metrics.Auc([0.1, 0.2], L(1, 1)));
        Assert.Contains("2 positive and 0 negative", e.Message);
        e = Assert.Throws<ArgumentException>(() => Metrics.TprAtFpr([0.1, 0.2], L(0, 0)));
        Assert.Contains("0 positive and 2 negative", e.Message);
        Assert.Throws<ArgumentException>(() => Metrics.Auc([], []));
        e = Assert.Throws<ArgumentException>(() => Metrics.Auc([0.1, double.NaN], L(1, 0)));
        Assert.Contains("finite", e.Message);
        Assert.Throws<ArgumentException>(() => Metrics.Auc([0.1, 0.2, 0.3], L(1, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.TprAtFpr([0.1, 0.2], L(1, 0), 1.5));
    }
}
