namespace IIP.Detection.Evaluation;

/// <summary>
/// The ROC curve of scores against labels (memorized = positive, higher score = more likely memorized),
/// as sklearn.metrics.roc_curve(y, score, drop_intermediate=False) computes it: point i predicts "memorized"
/// for every score &gt;= Thresholds[i]; Thresholds[0] = +infinity gives the point (0, 0), then one point per
/// distinct score in decreasing order, the last being (1, 1). Tied scores enter together (one point per tie group).
/// Counts are kept as integers so the area and rates are exact up to one final division.
/// </summary>
public sealed class RocCurve
{
    private RocCurve(int positives, int negatives, double[] thresholds, int[] truePositives, int[] falsePositives)
    {
        Positives = positives;
        Negatives = negatives;
        Thresholds = thresholds;
        TruePositives = truePositives;
        FalsePositives = falsePositives;
    }

    /// <summary>P: number of memorized images.</summary>
    public int Positives { get; }

    /// <summary>N: number of non-memorized images.</summary>
    public int Negatives { get; }

    /// <summary>Decreasing; [0] is +infinity.</summary>
    public IReadOnlyList<double> Thresholds { get; }

    /// <summary>TP count at each threshold (scores &gt;= threshold that are memorized).</summary>
    public IReadOnlyList<int> TruePositives { get; }

    /// <summary>FP count at each threshold.</summary>
    public IReadOnlyList<int> FalsePositives { get; }

    public int Count => Thresholds.Count;

    /// <summary>TPR = TP / P at point i.</summary>
    public double Tpr(int i) => (double)TruePositives[i] / Positives;

    /// <summary>FPR = FP / N at point i.</summary>
    public double Fpr(int i) => (double)FalsePositives[i] / Negatives;

    public double[] TprValues() => Enumerable.Range(0, Count).Select(Tpr).ToArray();

    public double[] FprValues() => Enumerable.Range(0, Count).Select(Fpr).ToArray();

    /// <summary>Builds the curve; throws <see cref="ArgumentException"/> for non-finite scores or an empty class.</summary>
    public static RocCurve Compute(IReadOnlyList<double> scores, IReadOnlyList<bool> memorized)
    {
        var (positives, negatives) = ScoredLabels.Validate(scores, memorized);
        int n = scores.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++)
            order[i] = i;
        var keys = scores.ToArray();
        // Decreasing score; the order inside a tie group does not matter because a group enters as one point.
        Array.Sort(keys, order, Comparer<double>.Create((a, b) => b.CompareTo(a)));

        var thresholds = new List<double> { double.PositiveInfinity };
        var tps = new List<int> { 0 };
        var fps = new List<int> { 0 };
        int tp = 0, fp = 0;
        for (int k = 0; k < n; k++)
        {
            if (memorized[order[k]])
                tp++;
            else
                fp++;
            bool lastOfGroup = k == n - 1 || keys[k + 1] != keys[k];
            if (lastOfGroup)
            {
                thresholds.Add(keys[k]);
                tps.Add(tp);
                fps.Add(fp);
            }
        }
        return new RocCurve(positives, negatives, thresholds.ToArray(), tps.ToArray(), fps.ToArray());
    }
}
