using ScottPlot;

namespace IIP.Detection.Evaluation;

/// <summary>PNG figures of an evaluation (ScottPlot 5, rendered by SkiaSharp).</summary>
public static class EvaluationPlots
{
    private const int Width = 800;
    private const int Height = 600;

    /// <summary>All methods' ROC curves on one plot, with the chance diagonal; the legend gives each AUC.</summary>
    public static void WriteRoc(IReadOnlyList<MethodEvaluation> methods, string path)
    {
        var plot = new Plot();
        var chance = plot.Add.Line(0, 0, 1, 1);
        chance.LinePattern = LinePattern.Dashed;
        chance.Color = Colors.Gray;
        chance.LegendText = "chance";
        foreach (var method in methods)
        {
            // Straight segments between ROC points: the area under them is the trapezoid AUC.
            var curve = plot.Add.Scatter(method.Roc.FprValues(), method.Roc.TprValues());
            curve.MarkerSize = 0;
            curve.LineWidth = 2;
            curve.LegendText = $"{method.Method} (AUC {method.Auc:F3})";
        }
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Title("ROC: memorized (positive) vs non-memorized");
        plot.XLabel("false-positive rate");
        plot.YLabel("true-positive rate");
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path);
    }

    /// <summary>Score histograms of the two classes on shared bins, each normalized to its class size.</summary>
    public static void WriteHistogram(MethodEvaluation method, string path)
    {
        double[] all = [.. method.MemorizedScores, .. method.NonMemorizedScores];
        double min = all.Min(), max = all.Max();
        // sqrt(n) bins, 5 to 50; one unit-wide bin when every score is equal.
        int binCount = Math.Clamp((int)Math.Ceiling(Math.Sqrt(all.Length)), 5, 50);
        double width = max > min ? (max - min) / binCount : 1.0;
        if (max == min)
        {
            binCount = 1;
            min -= 0.5;
        }

        var plot = new Plot();
        AddClass(plot, method.NonMemorizedScores, min, width, binCount, Colors.Blue, $"non-memorized (n = {method.Negatives})");
        AddClass(plot, method.MemorizedScores, min, width, binCount, Colors.Red, $"memorized (n = {method.Positives})");
        plot.Title($"{method.Method}: score by class (AUC {method.Auc:F3})");
        plot.XLabel("score (higher = more likely memorized)");
        plot.YLabel("fraction of the class");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    /// <summary>
    /// Lines of (x, y) points, one per named series, with markers; the y axis spans [0, 1] (AUCs) with the chance level
    /// 0.5 dashed. For the ablation's AUC-against-t_I and AUC-against-timestep figures, and the robustness table's AUC
    /// against augmentation (<paramref name="xNames"/>: the categories at x = 0, 1, ...).
    /// </summary>
    public static void WriteAucLines(string title, string xLabel, IReadOnlyList<(string Name, double[] X, double[] Y)> series, string path,
        IReadOnlyList<string>? xNames = null)
    {
        var plot = new Plot();
        double xMin = series.SelectMany(s => s.X).DefaultIfEmpty(0).Min(), xMax = series.SelectMany(s => s.X).DefaultIfEmpty(1).Max();
        var chance = plot.Add.Line(xMin, 0.5, xMax, 0.5);
        chance.LinePattern = LinePattern.Dashed;
        chance.Color = Colors.Gray;
        chance.LegendText = "chance";
        foreach (var (name, x, y) in series)
        {
            var line = plot.Add.Scatter(x, y);
            line.MarkerSize = 6;
            line.LineWidth = 2;
            line.LegendText = name;
        }
        plot.Axes.SetLimitsY(0, 1.02);
        if (xNames is not null)
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, xNames.Count).Select(i => (double)i).ToArray(), [.. xNames]);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("AUC (memorized vs non-memorized)");
        plot.ShowLegend(Alignment.LowerLeft);
        Save(plot, path);
    }

    private static void AddClass(Plot plot, double[] scores, double min, double width, int binCount, Color color, string label)
    {
        var fractions = new double[binCount];
        foreach (double s in scores)
            fractions[Math.Clamp((int)((s - min) / width), 0, binCount - 1)] += 1.0 / scores.Length;
        var centers = Enumerable.Range(0, binCount).Select(b => min + (b + 0.5) * width).ToArray();
        var bars = plot.Add.Bars(centers, fractions);
        foreach (var bar in bars.Bars)
        {
            bar.Size = width;
            bar.FillColor = color.WithAlpha(0.45);
            bar.LineWidth = 0;
        }
        bars.LegendText = label;
    }

    private static void Save(Plot plot, string path)
    {
        plot.SavePng(path, Width, Height);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length == 0)
            throw new IOException($"{path}: the plot was not written (SkiaSharp's native library may be missing)");
    }
}
