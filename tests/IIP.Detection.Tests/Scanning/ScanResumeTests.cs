using System.Globalization;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.Scanning;

/// <summary>A resumed scan reuses a record only while it is still true, and never records a score that is not a number.</summary>
public sealed class ScanResumeTests
{
    // scores an "image" (a text file holding a number) by that number
    private sealed class NumberMethod : IDetectionMethod
    {
        public int Calls { get; private set; }
        public IReadOnlyList<string> Methods => ["number"];
        public string OptionsKey => "k";
        public bool NeedsCaption => false;

        public IReadOnlyList<MethodResult> Score(ScanInput input)
        {
            Calls++;
            double v = input.Image.Data[0];
            return [new MethodResult("number", v, new Dictionary<string, double> { ["value"] = v })];
        }
    }

    private static Tensor Load(string path) => Tensor.From([float.Parse(File.ReadAllText(path), CultureInfo.InvariantCulture)], 1);

    private static List<ScanRecord> Scan(NumberMethod method, IReadOnlyList<ScanItem> items, string results, string? model = "aaaa")
    {
        using (var writer = ResultsWriter.Open(results))
            new Scanner([method], Load, null, 1, model).Run(items, writer, ResumeSet.Load(results));
        return ResultsReader.Read(results).Records.ToList();
    }

    [Fact]
    public void An_image_replaced_in_place_is_scored_again_and_an_unchanged_one_is_not()
    {
        string dir = TestPaths.NewTempDir("resume-replaced");
        string a = Path.Combine(dir, "a.png"), b = Path.Combine(dir, "b.png"), results = Path.Combine(dir, "r.jsonl");
        File.WriteAllText(a, "1");
        File.WriteAllText(b, "2");
        var items = new List<ScanItem> { new("a.png", a, null), new("b.png", b, null) };
        var method = new NumberMethod();
        Scan(method, items, results);
        Assert.Equal(2, method.Calls);

        File.WriteAllText(a, "5");   // replaced in place: same name, other contents
        var records = Scan(method, items, results);
        Assert.Equal(3, method.Calls);   // a again, b not
        Assert.Equal(3, records.Count);
        var latest = ResultsCsv.Latest(records);
        Assert.Equal(5.0, latest.Single(r => r.Image == "a.png").Score);
        Assert.Equal(ScanHashes.Sha256OfFile(a), latest.Single(r => r.Image == "a.png").Sha256);
        Assert.All(records, r => Assert.Equal("aaaa", r.Model));
        Assert.All(records, r => Assert.True(Path.IsPathFullyQualified(r.Path!)));
    }

    [Fact]
    public void The_same_file_through_another_spelling_is_the_same_image()
    {
        string dir = TestPaths.NewTempDir("resume-spelling");
        string a = Path.Combine(dir, "a.png"), results = Path.Combine(dir, "r.jsonl");
        File.WriteAllText(a, "1");
        var method = new NumberMethod();
        Scan(method, [new ScanItem("a.png", a, null)], results);
        // the list now names it ./sub/../a.png; ScanSource resolves both to the same absolute path
        Scan(method, [new ScanItem("./sub/../a.png", Path.GetFullPath(Path.Combine(dir, "sub", "..", "a.png")), null)], results);
        Assert.Equal(1, method.Calls);
    }

    [Fact]
    public void A_score_that_is_not_finite_is_an_error_record_not_a_NaN_score()
    {
        string dir = TestPaths.NewTempDir("resume-nonfinite");
        string a = Path.Combine(dir, "a.png"), results = Path.Combine(dir, "r.jsonl");
        File.WriteAllText(a, "Infinity");
        var record = Scan(new NumberMethod(), [new ScanItem("a.png", a, null)], results).Single();
        Assert.Null(record.Score);
        Assert.Contains("not a finite number", record.Error);
        Assert.Contains("value = Infinity", record.Error);
    }
}
