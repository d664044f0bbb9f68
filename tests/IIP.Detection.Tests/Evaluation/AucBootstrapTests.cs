using IIP.Detection.Evaluation;

namespace IIP.Detection.Tests.Evaluation;

public sealed class AucBootstrapTests
{
    private static (double[] Scores, bool[] Labels) Overlapping(int seed)
    {
        var random = new Random(seed);
        var scores = new double[200];
        var labels = new bool[200];
        for (int i = 0; i < 200; i++)
        {
            labels[i] = i < 40;
            scores[i] = random.NextDouble() + (labels[i] ? 0.3 : 0.0);
        }
        return (scores, labels);
    }

    [Fact]
    public void Interval_is_reproducible_and_brackets_the_auc()
    {
        var (scores, labels) = Overlapping(1);
        var first = AucBootstrap.Interval(scores, labels);
        var second = AucBootstrap.Interval(scores, labels);
        Assert.Equal(first, second); // fixed seed: same interval every run
        double auc = Metrics.Auc(scores, labels);
        Assert.True(first.Low < auc && auc < first.High, $"AUC {auc} outside [{first.Low}, {first.High}]");
        // 40 vs 160 samples: the standard error of an AUC near 0.75 is about 0.04 (Hanley-McNeil), so the
        // 95% interval is roughly 0.16 wide; bound it loosely on both sides.
        double width = first.High - first.Low;
        Assert.InRange(width, 0.08, 0.30);
        Assert.NotEqual(first, AucBootstrap.Interval(scores, labels, seed: 99));
    }

    [Fact]
    public void Perfect_separation_stays_perfect_in_every_resample()
    {
        // Stratified resampling keeps both classes, and any resample of separated classes is separated.
        var interval = AucBootstrap.Interval([0.9, 0.8, 0.7, 0.2, 0.1], [true, true, true, false, false]);
        Assert.Equal(new ConfidenceInterval(1.0, 1.0), interval);
    }

    [Fact]
    public void Quantile_interpolates_linearly_between_order_statistics()
    {
        // numpy.percentile([1, 2, 3, 4], q): position q * 3; 50% -> 2.5; 2.5% -> 1 + 0.075 = 1.075; 100% -> 4.
        double[] sorted = [1, 2, 3, 4];
        Assert.Equal(2.5, AucBootstrap.Quantile(sorted, 0.5));
        Assert.Equal(1.075, AucBootstrap.Quantile(sorted, 0.025), 1e-15); // 0.025 * 3 is not exact in binary
        Assert.Equal(4.0, AucBootstrap.Quantile(sorted, 1.0));
        Assert.Equal(1.0, AucBootstrap.Quantile(sorted, 0.0));
    }
}
