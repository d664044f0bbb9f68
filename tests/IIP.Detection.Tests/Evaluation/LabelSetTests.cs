using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Evaluation;

public sealed class LabelSetTests
{
    private static string Write(string name, string text)
    {
        string path = Path.Combine(TestPaths.NewTempDir("labels"), name);
        File.WriteAllText(path, text);
        return path;
    }

    private static ScanRecord Record(string image) => new() { Image = image, Sha256 = "", Method = "m", Score = 1 };

    [Fact]
    public void Loads_the_testbed_labels()
    {
        // testbed/README.md: 24 memorized images, 100 train_unique and 100 heldout (not memorized).
        var labels = LabelSet.Load(Path.Combine(TestPaths.Testbed, "labels.jsonl"));
        Assert.Equal(24, labels.Positives);
        Assert.Equal(200, labels.Negatives);
        Assert.Equal(100, labels.Entries.Count(e => e.Set == "heldout"));
        Assert.All(labels.Entries.Where(e => e.Memorized), e => Assert.Equal("memorized", e.Set));
    }

    [Fact]
    public void Jsonl_accepts_memorized_or_label_and_keeps_the_set()
    {
        string path = Write("l.jsonl",
            "{\"image\": \"a.png\", \"memorized\": true, \"set\": \"memorized\"}\n" +
            "\n" +
            "{\"image\": \"b.png\", \"label\": 0}\r\n" +
            "{\"image\": \"c.png\", \"label\": 1, \"memorized\": true, \"caption\": \"x\"}\n" +
            "{\"image\": \"a.png\", \"memorized\": true}\n"); // a repeat that agrees is fine
        var labels = LabelSet.Load(path);
        Assert.Equal(
            [new LabelEntry("a.png", true, "memorized"), new LabelEntry("b.png", false), new LabelEntry("c.png", true)],
            labels.Entries);
    }

    [Fact]
    public void Csv_with_quoted_paths_and_a_label_column()
    {
        string path = Write("l.csv", "Image,label,set\r\n\"x/a,b \"\"q\"\".png\",1,mem\r\ny/b.png,false,\r\n");
        Assert.Equal([new LabelEntry("x/a,b \"q\".png", true, "mem"), new LabelEntry("y/b.png", false)], LabelSet.Load(path).Entries);
    }

    [Fact]
    public void The_format_is_sniffed_when_the_extension_says_nothing()
    {
        Assert.Single(LabelSet.Load(Write("labels.txt", "{\"image\": \"a.png\", \"memorized\": false}\n")).Entries);
        Assert.Single(LabelSet.Load(Write("labels.txt", "image,memorized\na.png,true\n")).Entries);
    }

    [Theory]
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"memorized\": true}\n{not json\n", "line 2")]
    [InlineData("l.jsonl", "{\"memorized\": true}\n", "\"image\"")]
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"label\": 2}\n", "\"label\" must be")]
    [InlineData("l.jsonl", "{\"image\": \"a.png\"}\n", "needs \"memorized\"")]
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"label\": 1, \"memorized\": false}\n", "disagree")]
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"label\": 1}\n{\"image\": \"a.png\", \"label\": 0}\n", "on line 1")]
    [InlineData("l.jsonl", "\n\n", "no labels")]
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"label\": 1}\n[1, 2]\n", "line 2: expected a JSON object")]
    [InlineData("l.jsonl", "{\"image\": \"a\\ud800.png\", \"label\": 1}\n", "line 1: a string holds an invalid \\u escape")]       // half a surrogate pair
    [InlineData("l.jsonl", "{\"image\": \"a.png\", \"label\": 1, \"set\": \"\\udc00\"}\n", "line 1: a string holds an invalid")]
    [InlineData("l.txt", "{\"image\": \"a.png\", \"memorized\": true}\n{\"image\": \"\\ud83d\"}\n", "line 2: a string holds an invalid")]
    [InlineData("l.csv", "path,memorized\na.png,1\n", "'image' column")]
    [InlineData("l.csv", "image,memorized\na.png,maybe\n", "line 2")]
    [InlineData("l.csv", "image,memorized\na.png\n", "1 fields but the header has 2")]
    [InlineData("l.csv", "image,memorized\n\"a.png,1\n", "never closed")]
    public void Bad_labels_are_errors_naming_the_file_and_problem(string name, string text, string expected)
    {
        string path = Write(name, text);
        var e = Assert.Throws<FormatException>(() => LabelSet.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_missing_labels_file_is_a_clear_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => LabelSet.Load("/nonexistent/labels.jsonl"));
        Assert.Contains("/nonexistent/labels.jsonl", e.Message);
    }

    [Fact]
    public void Join_by_recorded_path_then_exact_path_then_full_path_then_unique_file_name()
    {
        string dir = TestPaths.NewTempDir("join");
        string labelsPath = Path.Combine(dir, "data", "labels.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(labelsPath)!);
        File.WriteAllText(labelsPath,
            "{\"image\": \"mem/a.png\", \"memorized\": true}\n" +
            "{\"image\": \"held/b.png\", \"memorized\": false}\n" +
            "{\"image\": \"held/c.png\", \"memorized\": false}\n" +
            "{\"image\": \"x/dup.png\", \"memorized\": false}\n" +
            "{\"image\": \"y/dup.png\", \"memorized\": true}\n" +
            "{\"image\": \"mem/e.png\", \"memorized\": true}\n" +
            "{\"image\": \"held/f.png\", \"memorized\": false}\n");
        var labels = LabelSet.Load(labelsPath);

        ScanRecord[] records =
        [
            Record("mem/a.png"),                                  // exact string
            Record(Path.Combine(dir, "data", "held", "b.png")),    // absolute path = labels folder + relative label path
            Record("data/./held/../held/c.png"),                  // relative to the scan's folder (dir), normalized
            Record("/elsewhere/copy/e.png"),                      // only the file name matches, and uniquely
            Record("f.png") with { Path = Path.Combine(dir, "data", "held", "f.png") },   // the path the scan recorded
            Record("/elsewhere/copy/a.png"),                      // a.png's label is mem/a.png's already: not this image's
            Record("/elsewhere/dup.png"),                         // file name shared by two labels: ambiguous
            Record("unknown.png"),                                // nothing matches
        ];
        var join = LabelJoin.Create(labels, records, recordBaseDirectory: dir);
        Assert.Equal(["mem/a.png", Path.Combine(dir, "data", "held", "b.png"), "data/./held/../held/c.png", "/elsewhere/copy/e.png", "f.png"],
            join.Matched.Select(m => m.Record.Image));
        Assert.Equal([true, false, false, true, false], join.Matched.Select(m => m.Memorized));
        Assert.Equal((1, 3, 1), (join.ByExactPath, join.ByFullPath, join.ByFileName));
        Assert.Equal(["/elsewhere/copy/a.png", "/elsewhere/dup.png", "unknown.png"], join.Unmatched.Select(r => r.Image));
        Assert.Equal(2, join.AmbiguousFileName);
        Assert.Equal(0, join.SharedLabel);
    }

    [Fact]
    public void Two_images_that_reach_one_label_get_no_label()
    {
        // labels for memorized/0001.png; the scan saw it and extra/0001.png, and a second spelling of held/0002.png
        string dir = TestPaths.NewTempDir("join-shared");
        string labelsPath = Path.Combine(dir, "labels.jsonl");
        File.WriteAllText(labelsPath, "{\"image\": \"memorized/0001.png\", \"memorized\": true}\n{\"image\": \"held/0002.png\", \"memorized\": false}\n");
        var join = LabelJoin.Create(LabelSet.Load(labelsPath),
            [Record("extra/0001.png"), Record("memorized/0001.png"), Record("held/0002.png"), Record("./held/0002.png") with { Path = Path.Combine(dir, "held", "0002.png") }],
            recordBaseDirectory: dir);
        Assert.Equal(["memorized/0001.png"], join.Matched.Select(m => m.Record.Image));   // extra/0001.png does not borrow its label
        Assert.Equal(1, join.AmbiguousFileName);
        Assert.Equal(2, join.SharedLabel);                                                 // held/0002.png twice: counted once in neither
        Assert.Equal(["extra/0001.png", "held/0002.png", "./held/0002.png"], join.Unmatched.Select(r => r.Image));
    }
}
