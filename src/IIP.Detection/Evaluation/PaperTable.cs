using System.Globalization;
using System.Text;
using IIP.Detection.Files;
using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>One cell of the paper-style table: a method's AUC and TPR@1%FPR in one setting, or why it has none.</summary>
public sealed record PaperCell(string Method, string Setting, int Positives, int Negatives, double Auc, double TprAtMaxFpr, string? Problem = null);

/// <summary>
/// The IIP paper's results table for `iip reproduce`: one row per method, one column per setting (the generated-image
/// setting at 4, 8, 16 images per prompt; each augmentation), each cell "AUC / TPR@1%FPR". Written as Markdown (report.md)
/// and as a long CSV (method, setting, positives, negatives, auc, tpr_at_1pct_fpr, problem) that pandas reads.
/// </summary>
public sealed class PaperTable
{
    private readonly List<PaperCell> _cells = [];

    public IReadOnlyList<PaperCell> Cells => _cells;

    public IReadOnlyList<string> Settings => _cells.Select(c => c.Setting).Distinct().ToList();

    public IReadOnlyList<string> Methods => _cells.Select(c => c.Method).Distinct().ToList();

    /// <summary>Adds every method of an evaluation as the column <paramref name="setting"/>, the skipped ones with their reason.</summary>
    public void Add(string setting, EvaluationReport report)
    {
        foreach (var m in report.Methods)
            _cells.Add(new PaperCell(m.Method, setting, m.Positives, m.Negatives, m.Auc, m.TprAtMaxFpr));
        foreach (var s in report.Skipped)
            _cells.Add(new PaperCell(s.Method, setting, 0, 0, double.NaN, double.NaN, s.Reason));
    }

    /// <summary>A method that could not be evaluated in a setting: its cell reads "n/a" and the reason is listed under the table.</summary>
    public void AddProblem(string method, string setting, string problem) =>
        _cells.Add(new PaperCell(method, setting, 0, 0, double.NaN, double.NaN, problem));

    /// <summary>Adds a robustness table's cells, one column per augmentation named "PREFIX+KIND" (the originals are left out: they are a column already).</summary>
    public void Add(string prefix, RobustnessTable robustness)
    {
        foreach (var c in robustness.Cells.Where(c => c.Augmentation != "none"))
            _cells.Add(new PaperCell(c.Method, $"{prefix}+{c.Augmentation}", c.Positives, c.Negatives, c.Auc, c.TprAtMaxFpr, c.Problem));
    }

    public PaperCell? Cell(string method, string setting) => _cells.LastOrDefault(c => c.Method == method && c.Setting == setting);

    public static string Format(PaperCell? cell) =>
        cell is null ? "" : cell.Problem is not null ? "n/a" : string.Create(CultureInfo.InvariantCulture, $"{cell.Auc:F3} / {cell.TprAtMaxFpr:F2}");

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine($"| method | {string.Join(" | ", Settings)} |");
        text.AppendLine($"| --- |{string.Concat(Settings.Select(_ => " --- |"))}");
        foreach (string method in Methods)
            text.AppendLine($"| {method} | {string.Join(" | ", Settings.Select(s => Format(Cell(method, s))))} |");
        var counts = Settings.Select(s => (s, _cells.FirstOrDefault(c => c.Setting == s && c.Problem is null))).Where(x => x.Item2 is not null);
        text.AppendLine();
        text.AppendLine("AUC / TPR@1%FPR, memorized = positive. Images per setting (memorized / not): " +
                        string.Join("; ", counts.Select(x => $"{x.s} {x.Item2!.Positives} / {x.Item2.Negatives}")) + ".");
        foreach (var c in _cells.Where(c => c.Problem is not null))
            text.AppendLine($"- {c.Method} in {c.Setting}: not evaluated: {c.Problem}");
        return text.ToString();
    }

    public void WriteCsv(string path)
    {
        var lines = new List<string> { "method,setting,positives,negatives,auc,tpr_at_1pct_fpr,problem" };
        lines.AddRange(_cells.Select(c => string.Join(",", ResultsCsv.Quote(c.Method), ResultsCsv.Quote(c.Setting), c.Positives.ToString(CultureInfo.InvariantCulture),
            c.Negatives.ToString(CultureInfo.InvariantCulture), Number(c.Auc), Number(c.TprAtMaxFpr), ResultsCsv.Quote(c.Problem ?? ""))));
        AtomicFile.WriteAllLines(path, lines);
    }

    private static string Number(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "";
}
