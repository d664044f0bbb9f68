using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Evaluation;

public sealed class EvaluationReportTests
{
    private static ScanRecord R(string image, string method, double? score, string? options = "h", string? error = null) =>
        new() { Image = image, Sha256 = "", Method = method, Score = score, Options = options, Error = error };

    /// <summary>Labels: m0..m2 memorized (set "mem"), h0..h2 and t0..t1 not (sets "held", "train").</summary>
    private static LabelSet Labels()
    {
        string path = Path.Combine(TestPaths.NewTempDir("report"), "labels.jsonl");
        var lines = new List<string>();
        for (int i = 0; i < 3; i++)
            lines.Add($"{{\"image\": \"m{i}.png\", \"memorized\": true, \"set\": \"mem\"}}");
        for (int i = 0; i < 3; i++)
            lines.Add($"{{\"image\": \"h{i}.png\", \"memorized\": false, \"set\": \"held\"}}");
        for (int i = 0; i < 2; i++)
            lines.Add($"{{\"image\": \"t{i}.png\", \"memorized\": false, \"set\": \"train\"}}");
        File.WriteAllLines(path, lines);
        return LabelSet.Load(path);
    }

    private static ResultsFile Results(params ScanRecord[] records) => new("results.jsonl", records, 0);

    [Fact]
    public void Excludes_errors_non_finite_scores_unlabelled_and_superseded_records_and_counts_them()
    {
        var results = Results(
            R("m0.png", "a", 0.0),            // superseded by the later m0 record
            R("m0.png", "a", 0.9),
            R("m1.png", "a", 0.8),
            R("m2.png", "a", null, error: "corrupt image"),
            R("h0.png", "a", 0.1),
            R("h1.png", "a", double.NaN),
            R("h2.png", "a", 0.85),
            R("t0.png", "a", 0.2),
            R("other.png", "a", 0.5));
        var report = EvaluationReport.Build(results, Labels());
        var a = Assert.Single(report.Methods);
        // Left: m0 0.9, m1 0.8 (P = 2); h0 0.1, h2 0.85, t0 0.2 (N = 3).
        // Pairs: 0.9 beats all 3; 0.8 beats 0.1 and 0.2, loses to 0.85 -> U = 5, AUC = 5/6.
        Assert.Equal((2, 3), (a.Positives, a.Negatives));
        Assert.Equal(5.0 / 6.0, a.Auc);
        // FPR 0: only 0.9 above every negative -> TPR 1/2.
        Assert.Equal(0.5, a.TprAtMaxFpr);
        Assert.Equal((1, 1, 1), (a.ErrorRecords, a.NonFiniteScores, a.SupersededRecords));
        Assert.Single(a.Join.Unmatched);
        Assert.Equal([0.9, 0.8], a.MemorizedScores);
    }

    [Fact]
    public void A_method_with_several_options_hashes_is_split_into_series()
    {
        var results = Results(
            R("m0.png", "a", 0.9, "h1"), R("h0.png", "a", 0.1, "h1"),
            R("m0.png", "a", 0.1, "h2"), R("h0.png", "a", 0.9, "h2"),
            R("m0.png", "b", 0.9, "x"), R("h0.png", "b", 0.1, "x"),
            R("zz.png", "b", null, options: null, error: "unreadable")); // a failed record without options does not split b
        var report = EvaluationReport.Build(results, Labels());
        Assert.Equal(["a[h1]", "a[h2]", "b"], report.Methods.Select(m => m.Method));
        Assert.Equal([1.0, 0.0, 1.0], report.Methods.Select(m => m.Auc));
        Assert.Equal(1, report.Methods[2].ErrorRecords);

        var onlyA = EvaluationReport.Build(results, Labels(), new EvaluationOptions { Methods = ["b", "a"] });
        Assert.Equal(["b", "a[h1]", "a[h2]"], onlyA.Methods.Select(m => m.Method));
        var one = EvaluationReport.Build(results, Labels(), new EvaluationOptions { Methods = ["a[h2]"] });
        Assert.Equal("a[h2]", Assert.Single(one.Methods).Method);
    }

    [Fact]
    public void Sets_keep_only_the_chosen_label_subsets()
    {
        var results = Results(R("m0.png", "a", 0.5), R("h0.png", "a", 0.1), R("t0.png", "a", 0.9), R("t1.png", "a", 0.9));
        var held = Assert.Single(EvaluationReport.Build(results, Labels(), new EvaluationOptions { Sets = ["mem", "held"] }).Methods);
        Assert.Equal((1, 1, 1.0, 2), (held.Positives, held.Negatives, held.Auc, held.OutsideSets));
        var train = Assert.Single(EvaluationReport.Build(results, Labels(), new EvaluationOptions { Sets = ["mem", "train"] }).Methods);
        Assert.Equal((1, 2, 0.0), (train.Positives, train.Negatives, train.Auc));
        var e = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(results, Labels(), new EvaluationOptions { Sets = ["nope"] }));
        Assert.Contains("mem, held, train", e.Message);
    }

    [Fact]
    public void A_method_whose_records_all_failed_is_skipped_with_its_reason()
    {
        var results = Results(R("m0.png", "a", 0.9), R("h0.png", "a", 0.1), R("m0.png", "b", null, error: "out of memory"));
        var report = EvaluationReport.Build(results, Labels());
        Assert.Equal("a", Assert.Single(report.Methods).Method);
        var skipped = Assert.Single(report.Skipped);
        Assert.Equal("b", skipped.Method);
        Assert.Contains("1 with an error", skipped.Reason);
    }

    [Fact]
    public void A_method_whose_every_score_is_not_finite_says_so_plainly()
    {
        var results = Results(R("m0.png", "a", 0.9), R("h0.png", "a", 0.1), R("m0.png", "b", double.NaN), R("h0.png", "b", double.PositiveInfinity));
        var skipped = Assert.Single(EvaluationReport.Build(results, Labels()).Skipped);
        Assert.Equal("b", skipped.Method);
        Assert.Contains("every score is non-finite (NaN or infinity: 2 records)", skipped.Reason);
        var only = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(Results(R("m0.png", "b", double.NaN), R("h0.png", "b", double.NaN)), Labels()));
        Assert.Contains("every score is non-finite", only.Message);
    }

    [Fact]
    public void Clear_errors_for_no_match_one_class_and_unknown_methods()
    {
        var labels = Labels();
        var e = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(Results(R("x.png", "a", 1), R("y.png", "a", 2)), labels));
        Assert.Contains("no scan record with a score matched a label", e.Message);
        Assert.Contains("x.png", e.Message);

        e = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(Results(R("m0.png", "a", 1), R("m1.png", "a", 2)), labels));
        Assert.Contains("method 'a': 2 memorized and 0 non-memorized", e.Message);

        e = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(Results(R("m0.png", "a", 1), R("h0.png", "a", 0)), labels,
            new EvaluationOptions { Methods = ["iip"] }));
        Assert.Contains("method 'iip' is not in results.jsonl; it has: a", e.Message);

        e = Assert.Throws<EvaluationException>(() => EvaluationReport.Build(Results(), labels));
        Assert.Contains("no scan records", e.Message);
    }

    [Fact]
    public void Output_writes_non_empty_pngs_metrics_and_a_report_with_the_definitions()
    {
        var records = new List<ScanRecord>();
        var random = new Random(5);
        foreach (string method in new[] { "iip", "mtcnp/only" })
        {
            for (int i = 0; i < 3; i++)
                records.Add(R($"m{i}.png", method, random.NextDouble() + 0.5));
            for (int i = 0; i < 3; i++)
                records.Add(R($"h{i}.png", method, random.NextDouble()));
        }
        var report = EvaluationReport.Build(Results([.. records]), Labels());
        string dir = Path.Combine(TestPaths.NewTempDir("report-out"), "eval");
        var files = EvaluationOutput.Write(report, dir);

        Assert.Equal(["roc.png", "hist-iip.png", "hist-mtcnp_only.png", "metrics.csv", "report.md"], files.Select(Path.GetFileName));
        foreach (string png in files.Where(f => f.EndsWith(".png")))
        {
            byte[] bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 5_000, $"{png}: only {bytes.Length} bytes");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }
        string md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains(MetricDefinitions.Auc, md);
        Assert.Contains(MetricDefinitions.TprAtFpr, md);
        Assert.Contains(MetricDefinitions.Accuracy, md);
        Assert.Contains(MetricDefinitions.LabelConvention, md);
        Assert.Contains($"| iip | 3 | 3 | {report.Methods[0].Auc:F3} |", md);
        Assert.Contains(Path.GetFullPath(report.Labels.FilePath), md);
        string[] csv = File.ReadAllLines(Path.Combine(dir, "metrics.csv"));
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("iip,3,3,", csv[1]);
    }

    [Fact]
    public void Default_output_folder_sits_next_to_the_results()
    {
        Assert.Equal("/data/run1/results-eval", EvaluationOutput.DefaultDirectory("/data/run1/results.jsonl"));
    }
}
