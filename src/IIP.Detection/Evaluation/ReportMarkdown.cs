using System.Globalization;
using System.Text;

namespace IIP.Detection.Evaluation;

/// <summary>report.md: the metrics table, what was excluded, the metric definitions and the input files.</summary>
public static class ReportMarkdown
{
    public static string Render(EvaluationReport report, IReadOnlyList<string> figureFiles)
    {
        var md = new StringBuilder();
        md.AppendLine("# Memorization detection: evaluation");
        md.AppendLine();
        md.AppendLine("| method | n+ (memorized) | n- (non-memorized) | AUC | AUC 95% CI | TPR@1%FPR | accuracy |");
        md.AppendLine("| --- | ---: | ---: | ---: | --- | ---: | ---: |");
        foreach (var m in report.Methods)
            md.AppendLine($"| {Cell(m.Method)} | {m.Positives} | {m.Negatives} | {F(m.Auc)} | [{F(m.AucInterval.Low)}, {F(m.AucInterval.High)}] | {F(m.TprAtMaxFpr)} | {F(m.BestAccuracy)} |");
        md.AppendLine();
        if (report.Options.MaxFpr != 0.01)
            md.AppendLine($"TPR@1%FPR column computed at FPR <= {report.Options.MaxFpr.ToString(CultureInfo.InvariantCulture)}.").AppendLine();
        foreach (var m in report.Methods)
            if (report.FewNegativesNote(m) is { } note)
                md.AppendLine($"- {Cell(m.Method)}: {note}.");

        md.AppendLine("## Records left out");
        md.AppendLine();
        md.AppendLine("| method | with an error | no finite score | no label (of which ambiguous file name; label reached by two images) | outside the selected sets | replaced by a later record | label matched by exact path / full path / file name |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
        foreach (var m in report.Methods)
            md.AppendLine($"| {Cell(m.Method)} | {m.ErrorRecords} | {m.NonFiniteScores} | {m.Join.Unmatched.Count} ({m.Join.AmbiguousFileName}; {m.Join.SharedLabel}) | {m.OutsideSets} | {m.SupersededRecords} | {m.Join.ByExactPath} / {m.Join.ByFullPath} / {m.Join.ByFileName} |");
        foreach (var skipped in report.Skipped)
            md.AppendLine().Append($"Not evaluated: {Cell(skipped.Method)}: {skipped.Reason}.");
        if (report.Skipped.Count > 0)
            md.AppendLine();
        if (report.Results.IgnoredTailBytes > 0)
            md.AppendLine().AppendLine($"The results file ends with an incomplete line ({report.Results.IgnoredTailBytes} bytes, an interrupted scan); it was ignored.");
        md.AppendLine();

        md.AppendLine("## Metric definitions");
        md.AppendLine();
        foreach (string definition in MetricDefinitions.All(report.Options.BootstrapResamples, report.Options.BootstrapSeed))
            md.AppendLine($"- {definition}");
        md.AppendLine();

        md.AppendLine("## Made from");
        md.AppendLine();
        md.AppendLine($"- results: `{Path.GetFullPath(report.Results.FilePath)}` ({report.Results.Records.Count} records)");
        md.AppendLine($"- labels: `{Path.GetFullPath(report.Labels.FilePath)}` ({report.Labels.Positives} memorized, {report.Labels.Negatives} non-memorized)");
        if (report.Options.Sets is { } sets)
            md.AppendLine($"- label sets kept: {string.Join(", ", sets)}");
        md.AppendLine();
        md.AppendLine("## Figures");
        md.AppendLine();
        foreach (string figure in figureFiles)
            md.AppendLine($"![{figure}]({figure})");
        md.AppendLine();
        md.AppendLine("## Pictures of the images");
        md.AppendLine();
        md.AppendLine("For each of the top-scoring images, its input, VAE reconstruction and perturbed regeneration and its TCNP per step " +
                      "against the model's calibration band (the evaluation has no model, so this is a separate command):");
        md.AppendLine();
        md.AppendLine($"    iip explain --model MODEL --results {Path.GetFullPath(report.Results.FilePath)} --top-k 8");
        return md.ToString();
    }

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

    private static string Cell(string text) => text.Replace("|", "\\|");
}
