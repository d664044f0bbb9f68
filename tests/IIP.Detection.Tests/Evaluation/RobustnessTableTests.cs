using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Evaluation;

/// <summary>The robustness table evaluates each augmentation's copies on their own, never joining one to another's label.</summary>
public sealed class RobustnessTableTests
{
    private static ScanRecord R(string image, string method, double score) =>
        new() { Image = image, Sha256 = "", Method = method, Score = score, Options = "h" };

    // two memorized (m0, m1) and two not (h0, h1), as originals ("none") and flipped copies under flip/ with the same file names
    private static LabelSet Labels()
    {
        string path = Path.Combine(TestPaths.NewTempDir("robustness"), "augmented.jsonl");
        var lines = new List<string>();
        foreach (var (name, memorized) in new[] { ("m0", true), ("m1", true), ("h0", false), ("h1", false) })
        {
            lines.Add($$"""{"image": "{{name}}.png", "memorized": {{(memorized ? "true" : "false")}}, "augmentation": "none"}""");
            lines.Add($$"""{"image": "flip/{{name}}.png", "memorized": {{(memorized ? "true" : "false")}}, "augmentation": "flip"}""");
        }
        File.WriteAllLines(path, lines);
        return LabelSet.Load(path);
    }

    [Fact]
    public void EachAugmentationIsEvaluatedOnItsOwnCopies()
    {
        // method a separates the originals perfectly and the flipped copies in reverse; method b is perfect on both
        var results = new ResultsFile("results.jsonl",
        [
            R("m0.png", "a", 0.9), R("m1.png", "a", 0.8), R("h0.png", "a", 0.1), R("h1.png", "a", 0.2),
            R("flip/m0.png", "a", 0.1), R("flip/m1.png", "a", 0.2), R("flip/h0.png", "a", 0.9), R("flip/h1.png", "a", 0.8),
            R("m0.png", "b", 5), R("m1.png", "b", 6), R("h0.png", "b", 1), R("h1.png", "b", 2),
            R("flip/m0.png", "b", 5), R("flip/m1.png", "b", 6), R("flip/h0.png", "b", 1), R("flip/h1.png", "b", 2),
        ], 0);
        var table = RobustnessTable.Build(results, Labels(), new EvaluationOptions());
        Assert.Equal(["none", "flip"], table.Augmentations);
        Assert.Equal(["a", "b"], table.Methods);
        Assert.Equal(1.0, table.Cell("a", "none").Auc);
        Assert.Equal(0.0, table.Cell("a", "flip").Auc);     // its own copies only: had flip/m0.png been joined to m0.png's label it would not be 0
        Assert.Equal(1.0, table.Cell("b", "flip").Auc);
        Assert.Equal((2, 2), (table.Cell("a", "flip").Positives, table.Cell("a", "flip").Negatives));
        Assert.Equal(["a", "1.000 / 1.000", "0.000 / 0.000"], table.Rows()[0]);

        string dir = TestPaths.NewTempDir("robustness-out");
        table.WriteCsv(Path.Combine(dir, "robustness.csv"));
        var csv = File.ReadAllLines(Path.Combine(dir, "robustness.csv"));
        Assert.Equal("method,augmentation,positives,negatives,auc,tpr_at_1pct_fpr,problem", csv[0]);
        Assert.Contains("a,flip,2,2,0.000,0.000,", csv);
        table.WritePlot(Path.Combine(dir, "robustness.png"));
        Assert.True(new FileInfo(Path.Combine(dir, "robustness.png")).Length > 0);
    }

    [Fact]
    public void AnAugmentationWithoutScoresIsReportedNotDropped()
    {
        var results = new ResultsFile("results.jsonl", [R("m0.png", "a", 0.9), R("m1.png", "a", 0.8), R("h0.png", "a", 0.1), R("h1.png", "a", 0.2)], 0);
        var table = RobustnessTable.Build(results, Labels(), new EvaluationOptions());
        var flip = table.Cell("a", "flip");
        Assert.True(double.IsNaN(flip.Auc));
        Assert.NotNull(flip.Problem);
        Assert.Equal(["a", "1.000 / 1.000", "n/a"], table.Rows()[0]);
    }

    [Fact]
    public void LabelsWithoutAnAugmentationFieldAreRefusedSayingWhatIsNeeded()
    {
        string path = Path.Combine(TestPaths.NewTempDir("robustness-plain"), "labels.jsonl");
        File.WriteAllLines(path, ["""{"image": "m0.png", "memorized": true}""", """{"image": "h0.png", "memorized": false}"""]);
        var e = Assert.Throws<EvaluationException>(() => RobustnessTable.Build(new ResultsFile("r.jsonl", [], 0), LabelSet.Load(path), new EvaluationOptions()));
        Assert.Contains("no \"augmentation\" field", e.Message);
    }

    [Fact]
    public void TheAugmentationFieldIsReadFromJsonlAndCsv()
    {
        string dir = TestPaths.NewTempDir("robustness-labels");
        File.WriteAllText(Path.Combine(dir, "labels.csv"), "image,memorized,augmentation\na.png,1,jpeg\nb.png,0,\n");
        var csv = LabelSet.Load(Path.Combine(dir, "labels.csv"));
        Assert.Equal(["jpeg", null], csv.Entries.Select(e => e.Augmentation));
        Assert.Equal(["none", "flip"], Labels().Entries.Take(2).Select(e => e.Augmentation));
    }
}
