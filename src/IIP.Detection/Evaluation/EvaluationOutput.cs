using System.Text;
using IIP.Detection.Files;
using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>Writes an evaluation's files into one folder: roc.png, hist-&lt;method&gt;.png per method, metrics.csv, report.md.</summary>
public static class EvaluationOutput
{
    /// <summary>Writes every file; returns their full paths (report.md last).</summary>
    public static IReadOnlyList<string> Write(EvaluationReport report, string outDirectory)
    {
        Directory.CreateDirectory(outDirectory);
        var figures = new List<string> { "roc.png" };
        EvaluationPlots.WriteRoc(report.Methods, Path.Combine(outDirectory, "roc.png"));
        var usedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var method in report.Methods)
        {
            string name = UniqueFileName($"hist-{SafeName(method.Method)}", usedNames) + ".png";
            EvaluationPlots.WriteHistogram(method, Path.Combine(outDirectory, name));
            figures.Add(name);
        }

        string metricsCsv = Path.Combine(outDirectory, "metrics.csv");
        WriteMetricsCsv(report, metricsCsv);
        string reportMd = Path.Combine(outDirectory, "report.md");
        AtomicFile.WriteAllText(reportMd, ReportMarkdown.Render(report, figures));

        return [.. figures.Select(f => Path.GetFullPath(Path.Combine(outDirectory, f))), Path.GetFullPath(metricsCsv), Path.GetFullPath(reportMd)];
    }

    /// <summary>The default output folder: "&lt;results file without extension&gt;-eval" next to the results file.</summary>
    public static string DefaultDirectory(string resultsPath)
    {
        string full = Path.GetFullPath(resultsPath);
        return Path.Combine(Path.GetDirectoryName(full) ?? ".", Path.GetFileNameWithoutExtension(full) + "-eval");
    }

    /// <summary>A method name as a file name: characters other than letters, digits, '.', '-', '_' become '_'.</summary>
    public static string SafeName(string method)
    {
        var safe = new StringBuilder(method.Length);
        foreach (char c in method)
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_');
        return safe.ToString();
    }

    private static string UniqueFileName(string stem, HashSet<string> used)
    {
        string name = stem;
        for (int i = 2; !used.Add(name); i++)
            name = $"{stem}-{i}";
        return name;
    }

    private static void WriteMetricsCsv(EvaluationReport report, string path)
    {
        var csv = new StringBuilder("method,positives,negatives,auc,auc_ci_low,auc_ci_high,tpr_at_fpr,max_fpr,accuracy,errors,non_finite,unlabelled\r\n");
        foreach (var m in report.Methods)
        {
            string[] fields =
            [
                m.Method, I(m.Positives), I(m.Negatives), R(m.Auc), R(m.AucInterval.Low), R(m.AucInterval.High),
                R(m.TprAtMaxFpr), R(report.Options.MaxFpr), R(m.BestAccuracy), I(m.ErrorRecords), I(m.NonFiniteScores), I(m.Join.Unmatched.Count),
            ];
            csv.Append(string.Join(',', fields.Select(ResultsCsv.Quote))).Append("\r\n");
        }
        AtomicFile.WriteAllText(path, csv.ToString());

        static string I(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        static string R(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
    }
}
