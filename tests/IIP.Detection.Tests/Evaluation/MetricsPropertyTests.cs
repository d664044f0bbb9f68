using IIP.Detection.Evaluation;

namespace IIP.Detection.Tests.Evaluation;

/// <summary>
/// Random score lists (many ties) against direct definitions: AUC against the O(P N) pairwise Mann-Whitney
/// count, TPR@FPR and accuracy against a scan of every threshold counted from scratch. Both sides compute
/// the same integer ratio, so they must agree exactly.
/// </summary>
public sealed class MetricsPropertyTests
{
    private const int Cases = 400;

    private static (double[] Scores, bool[] Labels) RandomCase(Random random)
    {
        int n = random.Next(2, 80);
        // Half the cases draw scores from few values (heavy ties), half from a continuum.
        int levels = random.Next(2) == 0 ? random.Next(1, 6) : 0;
        var scores = new double[n];
        var labels = new bool[n];
        for (int i = 0; i < n; i++)
        {
            scores[i] = levels > 0 ? random.Next(levels) * 0.25 : random.NextDouble() * 10 - 5;
            labels[i] = random.NextDouble() < 0.3;
        }
        labels[0] = true;   // both classes present
        labels[1] = false;
        return (scores, labels);
    }

    private static string Describe(double[] scores, bool[] labels) =>
        "scores [" + string.Join(", ", scores.Select(s => s.ToString("R"))) + "] labels [" + string.Join(", ", labels.Select(l => l ? 1 : 0)) + "]";

    /// <summary>U / (P N) with U = #{pos &gt; neg} + 0.5 #{pos == neg}, as 2U / (2 P N).</summary>
    private static double PairwiseAuc(double[] scores, bool[] labels)
    {
        long twiceU = 0;
        int p = 0, n = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!labels[i]) { n++; continue; }
            p++;
            for (int j = 0; j < scores.Length; j++)
                if (!labels[j])
                    twiceU += scores[i] > scores[j] ? 2 : scores[i] == scores[j] ? 1 : 0;
        }
        return twiceU / (2.0 * p * n);
    }

    /// <summary>(TPR, FPR) for every threshold t in {+inf} and the distinct scores: predict memorized when score &gt;= t.</summary>
    private static IEnumerable<(double Tpr, double Fpr)> EveryThreshold(double[] scores, bool[] labels)
    {
        int p = labels.Count(l => l), n = labels.Length - p;
        foreach (double t in scores.Distinct().Append(double.PositiveInfinity))
        {
            int tp = 0, fp = 0;
            for (int i = 0; i < scores.Length; i++)
                if (scores[i] >= t)
                {
                    if (labels[i]) tp++;
                    else fp++;
                }
            yield return ((double)tp / p, (double)fp / n);
        }
    }

    [Fact]
    public void Auc_equals_the_pairwise_mann_whitney_count()
    {
        var random = new Random(12345);
        for (int c = 0; c < Cases; c++)
        {
            var (scores, labels) = RandomCase(random);
            double expected = PairwiseAuc(scores, labels);
            double actual = Metrics.Auc(scores, labels);
            Assert.True(expected == actual, $"case {c}: AUC {actual:R} vs pairwise {expected:R}, error {actual - expected:R}; {Describe(scores, labels)}");
        }
    }

    [Fact]
    public void Auc_is_invariant_to_monotone_transforms_and_symmetric_under_label_flip()
    {
        var random = new Random(777);
        for (int c = 0; c < Cases; c++)
        {
            var (scores, labels) = RandomCase(random);
            double auc = Metrics.Auc(scores, labels);
            // exp is strictly increasing: same ranking, same ties.
            double transformed = Metrics.Auc(scores.Select(Math.Exp).ToArray(), labels);
            // Negating scores and swapping classes maps every pair to itself.
            double flipped = Metrics.Auc(scores.Select(s => -s).ToArray(), labels.Select(l => !l).ToArray());
            Assert.True(auc == transformed && auc == flipped,
                $"case {c}: AUC {auc:R}, after exp {transformed:R}, flipped {flipped:R}; {Describe(scores, labels)}");
        }
    }

    [Fact]
    public void Tpr_at_fpr_and_accuracy_match_a_scan_of_every_threshold()
    {
        var random = new Random(4242);
        double[] bounds = [0.0, 0.01, 0.1, 0.25, 0.5, 1.0];
        for (int c = 0; c < Cases; c++)
        {
            var (scores, labels) = RandomCase(random);
            double maxFpr = bounds[random.Next(bounds.Length)];
            var points = EveryThreshold(scores, labels).ToList();
            double expectedTpr = points.Where(pt => pt.Fpr <= maxFpr).Max(pt => pt.Tpr);
            double expectedAccuracy = points.Max(pt => (pt.Tpr + 1.0 - pt.Fpr) / 2.0);
            double tpr = Metrics.TprAtFpr(scores, labels, maxFpr);
            double accuracy = Metrics.BestAccuracy(scores, labels);
            Assert.True(expectedTpr == tpr, $"case {c}: TPR@FPR<={maxFpr} {tpr:R} vs scan {expectedTpr:R}; {Describe(scores, labels)}");
            Assert.True(expectedAccuracy == accuracy, $"case {c}: accuracy {accuracy:R} vs scan {expectedAccuracy:R}; {Describe(scores, labels)}");
        }
    }
}
