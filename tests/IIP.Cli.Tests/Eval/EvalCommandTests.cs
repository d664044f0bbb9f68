using IIP.Detection.Scanning;

namespace IIP.Cli.Tests.Eval;

[Collection("Console")]
public sealed class EvalCommandTests
{
    /// <summary>
    /// A results file with two methods on 3 memorized + 3 non-memorized images, one failed record, and a
    /// labels file beside it that names the images relative to its folder.
    /// iip: memorized 0.9, 0.8, 0.7 vs 0.6, 0.75, 0.1 -> pairs lost: 0.7 < 0.75 -> U = 8, AUC = 8/9 = 0.889;
    /// at FPR 0 (threshold above 0.75) TPR = 2/3 = 0.667; accuracy: (2/3 + 1) / 2 = 0.833 (also 3/3 at FPR 1/3: 0.833).
    /// mtcnp: scores equal for all -> AUC 0.5.
    /// </summary>
    private static (string Dir, string Results, string Labels) Files()
    {
        string dir = TestPaths.NewTempDir("cli-eval");
        Directory.CreateDirectory(Path.Combine(dir, "imgs"));
        string labels = Path.Combine(dir, "labels.jsonl");
        File.WriteAllLines(labels,
        [
            .. new[] { "m0", "m1", "m2" }.Select(n => $"{{\"image\": \"imgs/{n}.png\", \"memorized\": true}}"),
            .. new[] { "h0", "h1", "h2" }.Select(n => $"{{\"image\": \"imgs/{n}.png\", \"memorized\": false}}"),
        ]);
        string results = Path.Combine(dir, "scan.jsonl");
        using (var writer = ResultsWriter.Open(results))
        {
            double[] iip = [0.9, 0.8, 0.7, 0.6, 0.75, 0.1];
            string[] names = ["m0", "m1", "m2", "h0", "h1", "h2"];
            for (int i = 0; i < names.Length; i++)
            {
                string image = Path.Combine(dir, "imgs", names[i] + ".png");
                writer.Append(new ScanRecord { Image = image, Sha256 = "", Method = "iip", Score = iip[i], Options = "o" });
                writer.Append(new ScanRecord { Image = image, Sha256 = "", Method = "mtcnp", Score = 1.0, Options = "o" });
            }
            writer.Append(new ScanRecord { Image = Path.Combine(dir, "imgs", "bad.png"), Sha256 = "", Method = "iip", Error = "corrupt image", Options = "o" });
        }
        return (dir, results, labels);
    }

    [Fact]
    public void Prints_the_table_and_definitions_and_writes_the_report_next_to_the_results()
    {
        var (dir, results, labels) = Files();
        var run = CliRunner.Run("eval", "--results", results, "--labels", labels);
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        string[] iipRow = run.Stdout.Split('\n').Single(l => l.StartsWith("iip ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // method, n+, n-, AUC, CI low, CI high, TPR@1%FPR, accuracy, errors, no label
        Assert.Equal(["iip", "3", "3", "0.889"], iipRow[..4]);
        Assert.Equal(["0.667", "0.833", "1", "0"], iipRow[^4..]);
        Assert.Contains("mtcnp", run.Stdout);
        Assert.Contains("AUC: area under the ROC curve, ties in scores handled as sklearn's `roc_auc_score` does.", run.Stdout);
        Assert.Contains("TPR@1%FPR: the largest true-positive rate over all thresholds whose false-positive rate is <= 1%.", run.Stdout);
        Assert.Contains("Accuracy: max over thresholds of (TPR + TNR) / 2.", run.Stdout);
        Assert.Contains("iip: with 3 negatives no threshold has 0 < FPR <= 1%, so TPR@1%FPR is the TPR at FPR = 0", run.Stdout);

        string outDir = Path.Combine(dir, "scan-eval");
        foreach (string file in new[] { "roc.png", "hist-iip.png", "hist-mtcnp.png", "metrics.csv", "report.md" })
            Assert.True(new FileInfo(Path.Combine(outDir, file)) is { Exists: true, Length: > 0 }, $"{file} missing or empty in {outDir}");
        Assert.Contains("- iip: with 3 negatives no threshold has 0 < FPR <= 1%, so TPR@1%FPR is the TPR at FPR = 0.", File.ReadAllText(Path.Combine(outDir, "report.md")));
    }

    [Fact]
    public void Methods_and_out_choose_what_is_evaluated_and_where()
    {
        var (dir, results, labels) = Files();
        string outDir = Path.Combine(dir, "elsewhere");
        var run = CliRunner.Run("eval", "--results", results, "--labels", labels, "--out", outDir, "--methods", "mtcnp");
        Assert.True(run.ExitCode == 0, run.Stderr + run.Stdout);
        Assert.DoesNotContain("\niip ", run.Stdout);
        Assert.Contains("mtcnp", run.Stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "hist-mtcnp.png")));
        Assert.False(File.Exists(Path.Combine(outDir, "hist-iip.png")));
        Assert.False(Directory.Exists(Path.Combine(dir, "scan-eval")));
    }

    [Fact]
    public void A_missing_results_file_is_named()
    {
        var (dir, _, labels) = Files();
        string missing = Path.Combine(dir, "nope.jsonl");
        var run = CliRunner.Run("eval", "--results", missing, "--labels", labels);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"results file not found: {missing}", run.Stderr);
    }

    [Fact]
    public void Labels_are_required()
    {
        var (_, results, _) = Files();
        var run = CliRunner.Run("eval", "--results", results);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--labels", run.Stderr + run.Stdout);
    }

    [Fact]
    public void Labels_that_match_nothing_are_an_error()
    {
        var (dir, results, _) = Files();
        string labels = Path.Combine(dir, "other.jsonl");
        File.WriteAllText(labels, "{\"image\": \"zzz.png\", \"memorized\": true}\n{\"image\": \"yyy.png\", \"memorized\": false}\n");
        var run = CliRunner.Run("eval", "--results", results, "--labels", labels);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no scan record with a score matched a label", run.Stderr);
    }

    [Fact]
    public void One_empty_class_is_an_error_naming_the_method()
    {
        var (dir, results, _) = Files();
        string labels = Path.Combine(dir, "all-memorized.csv");
        File.WriteAllText(labels, "image,memorized\n" + string.Join("\n", new[] { "m0", "m1", "m2", "h0", "h1", "h2" }.Select(n => $"imgs/{n}.png,1")) + "\n");
        var run = CliRunner.Run("eval", "--results", results, "--labels", labels);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("method 'iip': 6 memorized and 0 non-memorized", run.Stderr);
    }

    [Fact]
    public void An_unknown_method_lists_the_ones_present()
    {
        var (_, results, labels) = Files();
        var run = CliRunner.Run("eval", "--results", results, "--labels", labels, "--methods", "secmi");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("it has: iip, mtcnp", run.Stderr);
    }
}
