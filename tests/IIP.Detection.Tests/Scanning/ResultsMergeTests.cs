using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

/// <summary>ResultsMerge: the results of several tasks as one; conflicts, overlaps and mixed models.</summary>
public class ResultsMergeTests
{
    private static ScanRecord Record(string image, string method, double? score, double seconds = 1, string model = "m1", string? error = null) => new()
    {
        Image = image, Path = "/data/" + image, Model = model, Sha256 = "h", Method = method, Score = score, Seconds = seconds, Error = error, Options = "o",
        Device = "cpu",
    };

    private static ResultsFile File(string name, params ScanRecord[] records) => new(name, records, 0);

    [Fact]
    public void DisjointShardsMergeIntoEveryRecordWithEachTasksThroughput()
    {
        var merge = ResultsMerge.Merge([
            File("a", Record("1.png", "iip", 0.5, 2), Record("1.png", "iip-mtcnp", 0.4, 2), Record("2.png", "iip", 0.1, 2), Record("2.png", "iip-mtcnp", 0.2, 2)),
            File("b", Record("3.png", "iip", 0.9, 4)),
        ]);
        Assert.Equal(5, merge.Records.Count);
        Assert.Equal(3, merge.Images);
        Assert.Empty(merge.Conflicts);
        Assert.Equal(0, merge.ImagesInSeveralFiles);
        // methods computed together share one seconds figure, counted once per image: file a is 2 images in 4 s
        Assert.Equal(0.5, merge.Files[0].ImagesPerSecond, 12);
        Assert.Equal(0.25, merge.Files[1].ImagesPerSecond, 12);
        Assert.Equal(3 / 8.0, merge.ImagesPerSecondPerTask, 12);
        Assert.Equal("cpu", merge.Files[1].Device);
    }

    [Fact]
    public void AnImageInTwoFilesKeepsTheLaterFilesRecordAndADifferentScoreIsAConflict()
    {
        var merge = ResultsMerge.Merge([
            File("a", Record("1.png", "iip", 0.5), Record("2.png", "iip", 0.7)),
            File("b", Record("1.png", "iip", 0.6), Record("2.png", "iip", 0.7)),
        ]);
        Assert.Equal(2, merge.Records.Count);
        Assert.Equal(0.6, merge.Records.Single(r => r.Image == "1.png").Score);
        Assert.Equal(2, merge.ImagesInSeveralFiles);
        var conflict = Assert.Single(merge.Conflicts);   // 2.png agrees in both
        Assert.Contains("1.png iip: 0.5 in a, 0.6 in b", conflict);
    }

    [Fact]
    public void ResultsOfDifferentModelsAreRefusedNamingThem()
    {
        var e = Assert.Throws<ArgumentException>(() => ResultsMerge.Merge([File("a", Record("1.png", "iip", 0.5, model: "m1")), File("b", Record("2.png", "iip", 0.5, model: "m2"))]));
        Assert.Contains("different models", e.Message);
        Assert.Contains("m2 in b", e.Message);
    }

    [Fact]
    public void APatternExpandsToTheMatchingFilesInOrderAndAnEmptyOneIsAnError()
    {
        string dir = TestPaths.NewTempDir("merge-expand");
        foreach (string name in new[] { "r.shard-001-of-002.jsonl", "r.shard-000-of-002.jsonl", "r.shard-000-of-002.csv", "other.jsonl" })
            System.IO.File.WriteAllText(Path.Combine(dir, name), "");
        Assert.Equal([Path.Combine(dir, "r.shard-000-of-002.jsonl"), Path.Combine(dir, "r.shard-001-of-002.jsonl")],
            ResultsMerge.Expand(Path.Combine(dir, "r.shard-*.jsonl")));
        Assert.Equal(["a.jsonl", "b.jsonl"], ResultsMerge.Expand("a.jsonl, b.jsonl"));
        var e = Assert.Throws<ArgumentException>(() => ResultsMerge.Expand(Path.Combine(dir, "none-*.jsonl")));
        Assert.Contains("no results files match", e.Message);
    }
}
