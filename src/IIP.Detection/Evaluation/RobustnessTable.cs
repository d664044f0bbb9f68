using System.Globalization;
using IIP.Detection.Files;
using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>One method under one augmentation: its AUC and TPR@1%FPR, or why it could not be evaluated.</summary>
public sealed record RobustnessCell(string Method, string Augmentation, int Positives, int Negatives, double Auc, double TprAtMaxFpr, string? Problem);

/// <summary>
/// A robustness study's table: every method evaluated separately on the images of each augmentation (the labels'
/// "augmentation" field, as `iip augment` writes it; "none" is the originals). Each augmentation's records are those
/// whose image is one of its labelled images (by full path, or exactly as written), so a copy is never joined to
/// another augmentation's label by its file name.
/// </summary>
public sealed class RobustnessTable
{
    private RobustnessTable(IReadOnlyList<string> augmentations, IReadOnlyList<string> methods, IReadOnlyList<RobustnessCell> cells)
    {
        Augmentations = augmentations;
        Methods = methods;
        Cells = cells;
    }

    /// <summary>In the order of the labels file ("none" first where present).</summary>
    public IReadOnlyList<string> Augmentations { get; }

    public IReadOnlyList<string> Methods { get; }

    public IReadOnlyList<RobustnessCell> Cells { get; }

    public RobustnessCell Cell(string method, string augmentation) => Cells.Single(c => c.Method == method && c.Augmentation == augmentation);

    public static RobustnessTable Build(ResultsFile results, LabelSet labels, EvaluationOptions options)
    {
        var augmentations = labels.Entries.Select(e => e.Augmentation).OfType<string>().Distinct().OrderBy(a => a == "none" ? 0 : 1).ToList();
        if (augmentations.Count == 0)
            throw new EvaluationException($"{labels.FilePath}: no \"augmentation\" field in the labels; a robustness table needs the manifest `iip augment` writes");
        var cells = new List<RobustnessCell>();
        var methods = new List<string>();
        foreach (string augmentation in augmentations)
        {
            var subset = labels.Where(e => e.Augmentation == augmentation);
            var fullPaths = subset.Entries.Select(subset.FullPathOf).ToHashSet(StringComparer.Ordinal);
            var written = subset.Entries.Select(e => e.Image).ToHashSet(StringComparer.Ordinal);
            var records = results.Records.Where(r => written.Contains(r.Image) || (r.Path is { } p && fullPaths.Contains(Path.GetFullPath(p)))).ToList();
            try
            {
                var report = EvaluationReport.Build(results with { Records = records }, subset, options);
                foreach (var m in report.Methods)
                {
                    cells.Add(new RobustnessCell(m.Method, augmentation, m.Positives, m.Negatives, m.Auc, m.TprAtMaxFpr, null));
                    if (!methods.Contains(m.Method)) methods.Add(m.Method);
                }
                foreach (var s in report.Skipped)
                {
                    cells.Add(new RobustnessCell(s.Method, augmentation, 0, 0, double.NaN, double.NaN, s.Reason));
                    if (!methods.Contains(s.Method)) methods.Add(s.Method);
                }
            }
            catch (EvaluationException e)
            {
                foreach (string method in options.Methods ?? results.Records.Select(r => r.Method).Distinct())
                    cells.Add(new RobustnessCell(method, augmentation, 0, 0, double.NaN, double.NaN, e.Message));
            }
        }
        foreach (var method in cells.Select(c => c.Method).Distinct().Where(m => !methods.Contains(m)).ToList()) methods.Add(method);
        // every (method, augmentation) pair has one cell: one an exception left out is filled in as not evaluated
        foreach (string method in methods)
            foreach (string augmentation in augmentations.Where(a => !cells.Any(c => c.Method == method && c.Augmentation == a)))
                cells.Add(new RobustnessCell(method, augmentation, 0, 0, double.NaN, double.NaN, "no scored records"));
        return new RobustnessTable(augmentations, methods, cells);
    }

    /// <summary>"AUC / TPR@1%FPR" per method (rows) and augmentation (columns), as printed.</summary>
    public IReadOnlyList<string[]> Rows() =>
        Methods.Select(m => new[] { m }.Concat(Augmentations.Select(a => Cell(m, a) is { Problem: null } c ? $"{F(c.Auc)} / {F(c.TprAtMaxFpr)}" : "n/a")).ToArray()).ToList();

    /// <summary>robustness.csv: one row per method and augmentation (pandas-readable).</summary>
    public void WriteCsv(string path)
    {
        var lines = new List<string> { "method,augmentation,positives,negatives,auc,tpr_at_1pct_fpr,problem" };
        foreach (var c in Cells.OrderBy(c => Methods.ToList().IndexOf(c.Method)).ThenBy(c => Augmentations.ToList().IndexOf(c.Augmentation)))
            lines.Add(string.Join(",", ResultsCsv.Quote(c.Method), ResultsCsv.Quote(c.Augmentation), c.Positives, c.Negatives, F(c.Auc), F(c.TprAtMaxFpr), ResultsCsv.Quote(c.Problem ?? "")));
        AtomicFile.WriteAllLines(path, lines);
    }

    /// <summary>robustness.png: AUC against augmentation, one line per method.</summary>
    public void WritePlot(string path) =>
        EvaluationPlots.WriteAucLines("AUC by augmentation", "augmentation",
            Methods.Select(m => (m, Augmentations.Select((_, i) => (double)i).ToArray(), Augmentations.Select(a => Cell(m, a).Auc).ToArray())).ToList(),
            path, Augmentations);

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString("F3", CultureInfo.InvariantCulture);
}
