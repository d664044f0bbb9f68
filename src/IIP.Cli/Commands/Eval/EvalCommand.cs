using System.CommandLine;
using System.Globalization;
using IIP.Cli.Commands.Merge;
using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;

namespace IIP.Cli.Commands.Eval;

/// <summary>
/// `iip eval`: scores a results file against ground-truth labels. Prints one row per method (AUC, its 95%
/// bootstrap interval, TPR@1%FPR, accuracy, n+, n-), what was left out and the metric definitions; writes
/// roc.png, hist-&lt;method&gt;.png, metrics.csv and report.md into the output folder. --sets keeps only
/// labels of the named subsets (e.g. memorized,heldout: the testbed reports memorized vs each negative set).
/// Exit codes as every verb (<see cref="CliErrors"/>): 0 done, 2 bad input (missing or malformed file, no labels matched, a
/// class empty, unknown method, every score non-finite).
/// </summary>
public static class EvalCommand
{
    private static readonly Option<string> ResultsOption = new("--results")
    {
        Description = "Scan results (JSONL written by `iip scan`); several files (comma-separated, or a pattern such as " +
                      "out/results.shard-*.jsonl) are evaluated as one, as `iip merge` would combine them.",
        Required = true,
    };

    private static readonly Option<string> LabelsOption = new("--labels")
    {
        Description = "Ground truth: JSONL with \"image\" and \"memorized\" (or \"label\" 0/1), or CSV with image,memorized columns. Results files carry no labels, so this is required.",
        Required = true,
    };

    private static readonly Option<string?> OutOption = new("--out")
    {
        Description = "Folder for plots and report.md (default: <results>-eval next to the results file).",
    };

    private static readonly Option<string?> MethodsOption = new("--methods")
    {
        Description = "Comma-separated methods to evaluate, in this order (default: all in the file).",
    };

    private static readonly Option<string?> SetsOption = new("--sets")
    {
        Description = "Comma-separated label sets to keep (the labels file's \"set\" field), e.g. memorized,heldout (default: all labelled images).",
    };

    private static readonly Option<bool> ByAugmentationOption = new("--by-augmentation")
    {
        Description = "Also evaluate each augmentation of a robustness study separately (the labels' \"augmentation\" field, as " +
                      "`iip augment` writes it): prints AUC / TPR@1%FPR per method and augmentation and writes robustness.csv and robustness.png.",
    };

    public static Command Create()
    {
        var command = new Command("eval", "Evaluate scan results against labels: AUC, TPR@1%FPR, accuracy, ROC and histogram plots, report.md.");
        command.Options.Add(ResultsOption);
        command.Options.Add(LabelsOption);
        command.Options.Add(OutOption);
        command.Options.Add(MethodsOption);
        command.Options.Add(SetsOption);
        command.Options.Add(ByAugmentationOption);
        command.Options.Add(ShardFiles.PartialOption);
        command.SetAction(parse => Execute(
            parse.GetValue(ResultsOption)!,
            parse.GetValue(LabelsOption)!,
            parse.GetValue(OutOption),
            parse.GetValue(MethodsOption),
            parse.GetValue(SetsOption),
            parse.GetValue(ByAugmentationOption),
            parse.GetValue(ShardFiles.PartialOption)));
        return command;
    }

    private static int Execute(string resultsPath, string labelsPath, string? outDirectory, string? methods, string? sets, bool byAugmentation = false,
        bool partial = false)
    {
        try
        {
            var paths = ResultsMerge.Expand(resultsPath);
            ShardFiles.Check(paths, partial);
            foreach (string path in paths.Where(p => ResultsLock.IsHeld(p, out _)))
                Console.Error.WriteLine($"note: {path} is still being written by a scan: this evaluates the records written so far");
            var results = paths.Count == 1 ? ResultsReader.Read(paths[0]) : Merged(paths);
            var labels = LabelSet.Load(labelsPath);
            var options = new EvaluationOptions
            {
                Methods = SplitList(methods),
                Sets = SplitList(sets),
            };
            var report = EvaluationReport.Build(results, labels, options);
            string folder = outDirectory ?? EvaluationOutput.DefaultDirectory(paths.Count == 1 ? paths[0] : MergedStem(paths[0]));
            var files = EvaluationOutput.Write(report, folder);
            Print(report, files);
            if (byAugmentation) PrintRobustness(RobustnessTable.Build(results, labels, options), folder);
            Console.WriteLine($"pictures of the top images (input, reconstruction, regeneration, TCNP per step): iip explain --model MODEL --results {resultsPath} --top-k 8");
            return 0;
        }
        catch (Exception e) when (e is IOException or FormatException or EvaluationException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliErrors.BadInput;
        }
    }

    // the robustness table: AUC / TPR@1%FPR per method and augmentation, and its CSV and plot
    private static void PrintRobustness(RobustnessTable table, string folder)
    {
        var output = Console.Out;
        output.WriteLine();
        output.WriteLine("robustness (AUC / TPR@1%FPR per augmentation; \"none\" is the originals):");
        string[] header = ["method", .. table.Augmentations];
        var rows = table.Rows();
        WriteTable(output, header, rows);
        foreach (var cell in table.Cells.Where(c => c.Problem is not null))
            output.WriteLine($"not evaluated: {cell.Method} under {cell.Augmentation}: {cell.Problem}");
        string csv = Path.Combine(folder, "robustness.csv"), png = Path.Combine(folder, "robustness.png");
        table.WriteCsv(csv);
        table.WritePlot(png);
        output.WriteLine($"  {csv}");
        output.WriteLine($"  {png}");
    }

    // several results files as one (ResultsMerge): what it found is printed before the evaluation
    private static ResultsFile Merged(IReadOnlyList<string> paths)
    {
        var merge = ResultsMerge.Merge(paths.Select(ResultsReader.Read).ToList());
        Console.WriteLine($"merged {paths.Count} results files: {merge.Images} images, {merge.Records.Count} records" +
                          (merge.Conflicts.Count > 0 ? $", {merge.Conflicts.Count} conflicting records (the later file's kept)" : "") +
                          (merge.ImagesInSeveralFiles > 0 ? $", {merge.ImagesInSeveralFiles} images in more than one file" : ""));
        return new ResultsFile($"{paths[0]} and {paths.Count - 1} more", merge.Records, 0);
    }

    // the default output folder of a merged evaluation: NAME-eval for NAME.shard-III-of-NNN.jsonl's NAME
    private static string MergedStem(string first)
    {
        string name = Path.GetFileName(first);
        int shard = name.IndexOf(".shard-", StringComparison.Ordinal);
        return shard > 0 ? Path.Combine(Path.GetDirectoryName(first) ?? "", name[..shard] + Path.GetExtension(name)) : first;
    }

    private static string[]? SplitList(string? list) =>
        list?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal static void Print(EvaluationReport report, IReadOnlyList<string> files)
    {
        var output = Console.Out;
        output.WriteLine($"results: {report.Results.FilePath} ({report.Results.Records.Count} records)");
        output.WriteLine($"labels:  {report.Labels.FilePath} ({report.Labels.Positives} memorized, {report.Labels.Negatives} non-memorized)");
        if (report.Options.Sets is { } keptSets)
            output.WriteLine($"sets:    {string.Join(", ", keptSets)}");
        if (report.Results.IgnoredTailBytes > 0)
            output.WriteLine($"note: ignored an incomplete last line ({report.Results.IgnoredTailBytes} bytes) left by an interrupted scan");
        output.WriteLine();

        string[] header = ["method", "n+", "n-", "AUC", "AUC 95% CI", "TPR@1%FPR", "accuracy", "errors", "no label"];
        var rows = report.Methods.Select(m => new[]
        {
            m.Method, I(m.Positives), I(m.Negatives), F(m.Auc), $"[{F(m.AucInterval.Low)}, {F(m.AucInterval.High)}]",
            F(m.TprAtMaxFpr), F(m.BestAccuracy), I(m.ErrorRecords), I(m.Join.Unmatched.Count),
        }).ToList();
        WriteTable(output, header, rows);
        foreach (var m in report.Methods.Where(m => m.NonFiniteScores > 0 || m.SupersededRecords > 0 || m.OutsideSets > 0))
            output.WriteLine($"{m.Method}: also left out {m.NonFiniteScores} without a finite score, {m.OutsideSets} outside the selected sets, {m.SupersededRecords} replaced by a later record of the same image");
        foreach (var m in report.Methods)
            if (report.FewNegativesNote(m) is { } note)
                output.WriteLine($"{m.Method}: {note}");
        foreach (var m in report.Methods.Where(m => m.Join.AmbiguousFileName > 0 || m.Join.SharedLabel > 0))
            output.WriteLine($"{m.Method}: no label given to {m.Join.AmbiguousFileName} images whose file name is not unique among the labels and the " +
                             $"records, and to {m.Join.SharedLabel} that reached a label another image also reached (label paths as the scan recorded them avoid this)");
        foreach (var skipped in report.Skipped)
            output.WriteLine($"not evaluated: {skipped.Method}: {skipped.Reason}");
        output.WriteLine();

        foreach (string definition in MetricDefinitions.All(report.Options.BootstrapResamples, report.Options.BootstrapSeed))
            output.WriteLine(definition);
        output.WriteLine();
        output.WriteLine("wrote:");
        foreach (string file in files)
            output.WriteLine($"  {file}");
    }

    // a header, a rule and the rows, each column as wide as its widest cell
    private static void WriteTable(TextWriter output, string[] header, IReadOnlyList<string[]> rows)
    {
        var widths = header.Select((h, c) => rows.Select(r => r[c].Length).Append(h.Length).Max()).ToArray();
        output.WriteLine(Row(header, widths));
        output.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
            output.WriteLine(Row(row, widths));
    }

    private static string Row(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd();

    private static string F(double value) => value.ToString("F3", CultureInfo.InvariantCulture);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
