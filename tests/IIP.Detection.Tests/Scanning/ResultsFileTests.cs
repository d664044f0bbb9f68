using System.Text;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

public sealed class ResultsFileTests
{
    private static ScanRecord Record(string image, string method = "iip", double? score = 0.5, string? error = null, string? options = "opt1") => new()
    {
        Image = image,
        Sha256 = new string('a', 64),
        Method = method,
        Score = score,
        Components = new Dictionary<string, double> { ["mtcnp"] = 1.25, ["similarity"] = 0.875 },
        Tcnp = [3.5, 2.25, 1.0],
        Seconds = 1.5,
        Error = error,
        Seed = 7,
        Options = options,
    };

    private static void AssertSame(ScanRecord expected, ScanRecord actual)
    {
        Assert.Equal(expected.Image, actual.Image);
        Assert.Equal(expected.Sha256, actual.Sha256);
        Assert.Equal(expected.Method, actual.Method);
        Assert.Equal(expected.Score, actual.Score);
        Assert.Equal(expected.Components.OrderBy(c => c.Key), actual.Components.OrderBy(c => c.Key));
        Assert.Equal(expected.Tcnp, actual.Tcnp);
        Assert.Equal(expected.Seconds, actual.Seconds);
        Assert.Equal(expected.Error, actual.Error);
        Assert.Equal(expected.Seed, actual.Seed);
        Assert.Equal(expected.Options, actual.Options);
    }

    [Fact]
    public void Records_round_trip_through_the_writer_and_reader_one_line_each()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "sub", "r.jsonl");
        ScanRecord[] records =
        [
            Record("images/a.png"),
            Record("bilder/straße/日本語 画像.png", "mtcnp", 0.1 + 0.2), // unicode path, a score with a long decimal expansion
            Record("we,ird \"name\"\nwith newline.png", score: null, error: "corrupt image: bad \"PNG\" header"),
            Record("nan.png", score: double.NaN),
            Record("plain.png") with { Tcnp = null, Seed = null, Options = null, Components = new Dictionary<string, double>() },
        ];
        using (var writer = ResultsWriter.Open(path))
        {
            Assert.Null(writer.RepairNote);
            foreach (var r in records)
                writer.Append(r);
        }

        Assert.Equal(records.Length, File.ReadAllLines(path).Length);
        Assert.Contains("straße/日本語", File.ReadAllText(path)); // written as UTF-8 characters, not \u escapes
        var read = ResultsReader.Read(path);
        Assert.Equal(0, read.IgnoredTailBytes);
        Assert.Equal(records.Length, read.Records.Count);
        for (int i = 0; i < records.Length; i++)
            AssertSame(records[i], read.Records[i]);
    }

    [Fact]
    public void A_record_is_readable_while_the_writer_is_still_open()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        using var writer = ResultsWriter.Open(path);
        writer.Append(Record("a.png"));
        // Another process (here: a reader) sees the flushed line before the writer is closed.
        Assert.Single(ResultsReader.Read(path).Records);
    }

    [Fact]
    public void A_crash_mid_write_leaves_a_partial_line_that_the_reader_ignores_and_the_writer_trims()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        using (var writer = ResultsWriter.Open(path))
            writer.Append(Record("first.png"));
        long goodLength = new FileInfo(path).Length;
        // Simulate a kill in the middle of the second write: half of its bytes, no newline.
        byte[] second = ScanRecordJson.Serialize(Record("second.png"));
        byte[] half = second[..(second.Length / 2)];
        using (var stream = new FileStream(path, FileMode.Append))
            stream.Write(half);

        var read = ResultsReader.Read(path);
        Assert.Single(read.Records);
        Assert.Equal(half.Length, read.IgnoredTailBytes);

        using (var writer = ResultsWriter.Open(path))
        {
            Assert.NotNull(writer.RepairNote);
            Assert.Contains($"{half.Length} bytes", writer.RepairNote);
            Assert.Equal(goodLength, new FileInfo(path).Length);
            writer.Append(Record("second.png"));
        }
        var after = ResultsReader.Read(path);
        Assert.Equal(0, after.IgnoredTailBytes);
        Assert.Equal(["first.png", "second.png"], after.Records.Select(r => r.Image));
    }

    [Fact]
    public void A_complete_last_record_missing_only_its_newline_is_kept()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        var bytes = new List<byte>();
        bytes.AddRange(ScanRecordJson.Serialize(Record("first.png")));
        bytes.Add((byte)'\n');
        bytes.AddRange(ScanRecordJson.Serialize(Record("second.png")));
        File.WriteAllBytes(path, bytes.ToArray());

        Assert.Equal(2, ResultsReader.Read(path).Records.Count);
        using (var writer = ResultsWriter.Open(path))
        {
            Assert.Contains("kept it", writer.RepairNote);
            writer.Append(Record("third.png"));
        }
        Assert.Equal(["first.png", "second.png", "third.png"], ResultsReader.Read(path).Records.Select(r => r.Image));
    }

    [Fact]
    public void A_file_holding_only_a_partial_line_is_emptied()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        File.WriteAllText(path, "{\"image\":\"a.png\",\"sha2");
        Assert.Empty(ResultsReader.Read(path).Records);
        using (var writer = ResultsWriter.Open(path))
            Assert.NotNull(writer.RepairNote);
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void Trimming_finds_the_last_newline_across_64_KiB_read_chunks()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        var longRecord = Record("long.png") with { Tcnp = Enumerable.Range(0, 20_000).Select(i => i * 0.1).ToArray() };
        using (var writer = ResultsWriter.Open(path))
            for (int i = 0; i < 3; i++)
                writer.Append(longRecord);
        long goodLength = new FileInfo(path).Length;
        byte[] partial = ScanRecordJson.Serialize(longRecord)[..100_000]; // a tail longer than one read chunk
        using (var stream = new FileStream(path, FileMode.Append))
            stream.Write(partial);

        using (var writer = ResultsWriter.Open(path))
            Assert.NotNull(writer.RepairNote);
        Assert.Equal(goodLength, new FileInfo(path).Length);
        Assert.Equal(3, ResultsReader.Read(path).Records.Count);
    }

    [Fact]
    public void A_corrupt_middle_line_is_an_error_naming_the_file_and_line()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        string good = Encoding.UTF8.GetString(ScanRecordJson.Serialize(Record("a.png")));
        File.WriteAllText(path, good + "\n\n{\"image\": \"b.png\", garbage\n" + good + "\n");
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Read(path));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains($"{path} line 3", e.Message);
    }

    [Fact]
    public void A_line_missing_a_required_field_is_an_error()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        File.WriteAllText(path, "{\"image\": \"a.png\", \"sha256\": \"\", \"score\": 1.0}\n");
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Read(path));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("method", e.Message);
    }

    [Theory]
    [InlineData("5")]
    [InlineData("[1, 2]")]
    [InlineData("\"a.png\"")]
    [InlineData("null")]
    [InlineData("{\"image\": \"a\\ud800.png\", \"sha256\": \"\", \"method\": \"iip\"}")]   // half a surrogate pair
    [InlineData("{\"image\": \"a.png\", \"sha256\": \"\", \"method\": \"iip\", \"seed\": 1e30}")]
    [InlineData("{\"image\": \"a.png\", \"sha256\": \"\", \"method\": \"iip\", \"components\": {\"a\": null}}")]
    [InlineData("{\"image\": \"a.png\", \"sha256\": null, \"method\": \"iip\"}")]
    public void A_terminated_line_that_is_not_a_record_names_the_file_and_line(string line)
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        string good = Encoding.UTF8.GetString(ScanRecordJson.Serialize(Record("a.png")));
        File.WriteAllText(path, good + "\n" + line + "\n");
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Read(path));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains($"{path} line 2: not a valid scan record", e.Message);
    }

    [Fact]
    public void Invalid_utf8_inside_a_record_names_the_file_and_line()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        byte[] line = [.. "{\"image\": \"a"u8, 0xFF, .. ".png\", \"sha256\": \"\", \"method\": \"iip\"}\n"u8];
        File.WriteAllBytes(path, line);
        var e = Assert.Throws<ResultsFormatException>(() => ResultsReader.Read(path));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_missing_results_file_is_a_clear_error()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "absent.jsonl");
        var e = Assert.Throws<FileNotFoundException>(() => ResultsReader.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Concurrent_appends_write_whole_lines()
    {
        string path = Path.Combine(TestPaths.NewTempDir("results"), "r.jsonl");
        using (var writer = ResultsWriter.Open(path))
            Parallel.For(0, 4, t =>
            {
                for (int i = 0; i < 25; i++)
                    writer.Append(Record($"t{t}-{i}.png"));
            });
        var images = ResultsReader.Read(path).Records.Select(r => r.Image).ToHashSet();
        Assert.Equal(100, images.Count);
    }
}
