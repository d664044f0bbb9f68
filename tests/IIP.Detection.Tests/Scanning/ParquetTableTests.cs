using IIP.Detection.Scanning;
using Parquet;
using Parquet.Schema;

namespace IIP.Detection.Tests.Scanning;

/// <summary>Parquet tables as scan input, on tables the tests write with Parquet.Net.</summary>
public class ParquetTableTests
{
    private static async Task Write(string path, params (string Name, string?[] Values)[] columns)
    {
        var fields = columns.Select(c => new DataField<string>(c.Name)).ToArray();
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
        using var group = writer.CreateRowGroup();
        for (int i = 0; i < columns.Length; i++) await group.WriteAsync(fields[i], columns[i].Values!);
    }

    [Fact]
    public async Task AColumnOfPathsWithCaptionsAndStatus()
    {
        string dir = TestPaths.NewTempDir("parquet-paths");
        File.Copy(Path.Combine(TestPaths.Testbed, "memorized", "000000.png"), Path.Combine(dir, "a.png"));
        string table = Path.Combine(dir, "images.parquet");
        await Write(table, ("path", ["a.png", "b.png", ""]), ("caption", ["a ring", "a square", "none"]), ("status", ["success", "failed_to_download", "success"]));

        var listing = ScanSource.Walk(table);

        var item = Assert.Single(listing.Items);
        Assert.Equal(("a.png", Path.Combine(dir, "a.png"), "a ring"), (item.Image, item.FullPath, item.Caption));
        Assert.Contains(listing.Warnings, w => w.Contains("2 rows without an image"));
    }

    [Fact]
    public async Task Img2datasetKeysNameTheSamplesOfTheShardBesideTheTable()
    {
        string dir = TestPaths.NewTempDir("parquet-keys");
        WebDatasetFixture.WriteShard(dir, "00000.tar");
        string table = Path.Combine(dir, "00000.parquet");
        await Write(table, ("key", ["000", "002", "009"]), ("caption", ["from the table", null, "missing"]), ("status", ["success", "success", "success"]));

        var listing = ScanSource.Walk(table);

        Assert.Equal(["00000.tar#000", "00000.tar#002"], listing.Items.Select(i => i.Image));
        Assert.Equal(["from the table", "a small white square"], listing.Items.Select(i => i.Caption));   // the shard's .json where the table has none
        Assert.Contains(listing.Warnings, w => w.Contains("key '009' has no image"));
    }

    [Fact]
    public async Task ATableWithoutAnImageColumnOrNotParquetIsAnErrorNamingTheFile()
    {
        string dir = TestPaths.NewTempDir("parquet-bad");
        string table = Path.Combine(dir, "t.parquet");
        await Write(table, ("url", ["http://x/a.jpg"]));
        var e = Assert.Throws<InvalidDataException>(() => ScanSource.Walk(table));
        Assert.Contains("no image column", e.Message);
        Assert.Contains("the table has url", e.Message);
        File.WriteAllText(table, "not parquet");
        e = Assert.Throws<InvalidDataException>(() => ScanSource.Walk(table));
        Assert.Contains("not a readable Parquet table", e.Message);
        Assert.Contains(table, e.Message);
    }
}
