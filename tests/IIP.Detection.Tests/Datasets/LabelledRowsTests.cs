using IIP.Detection.Datasets;
using Parquet;
using Parquet.Schema;

namespace IIP.Detection.Tests.Datasets;

/// <summary>Recipe files read into labelled rows: JSONL with a set column, Parquet with a constant label, the errors.</summary>
public class LabelledRowsTests
{
    private static DatasetRecipe Recipe(DatasetFile file, string kind = DatasetRecipe.PromptsKind) => new()
    {
        Name = "t", Version = "1", Kind = kind, Description = "d", Licence = "l", Citation = "c", Files = [file],
    };

    [Fact]
    public void ASetColumnLabelsEachRowAndLeavesOutSetsTheRecipeDoesNotMap()
    {
        string path = Path.Combine(TestPaths.NewTempDir("rows"), "labels.jsonl");
        File.WriteAllLines(path, [
            """{"caption": "a red ring", "set": "memorized"}""",
            """{"caption": "a blue cross", "set": "heldout"}""",
            """{"caption": "a green square", "set": "train_unique"}""",
            """{"caption": "", "set": "heldout"}""",
        ]);
        var file = new DatasetFile { Url = path, SaveAs = "labels.jsonl", Format = "jsonl", Text = "caption", SetColumn = "set", Sets = new Dictionary<string, bool> { ["memorized"] = true, ["heldout"] = false } };
        var reading = LabelledRows.Read(Recipe(file), file, path);
        Assert.Equal(["a red ring", "a blue cross"], reading.Rows.Select(r => r.Text).ToArray());
        Assert.Equal([true, false], reading.Rows.Select(r => r.Memorized).ToArray());
        Assert.Equal(["memorized", "heldout"], reading.Rows.Select(r => r.Set).ToArray());
        Assert.Equal(1, reading.OtherSets);
        Assert.Equal(1, reading.WithoutText);
        Assert.Equal(1, reading.Rows[1].Row);   // the row number in the file, for the record
    }

    [Fact]
    public async Task AParquetImageTableGivesCaptionsUrlsAndTheFilesLabel()
    {
        string path = Path.Combine(TestPaths.NewTempDir("rows"), "members.parquet");
        var fields = new[] { new DataField<string>("url"), new DataField<string>("caption") };
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], new string?[] { "https://a/1.jpg", "https://a/2.jpg" });
            await group.WriteAsync(fields[1], new string?[] { "one", "two" });
        }
        var file = new DatasetFile { Url = path, SaveAs = "m.parquet", Format = "parquet", Text = "caption", UrlColumn = "url", Memorized = false, Set = "member" };
        var rows = LabelledRows.Read(Recipe(file, DatasetRecipe.ImagesKind), file, path).Rows;
        Assert.Equal(new string?[] { "https://a/1.jpg", "https://a/2.jpg" }, rows.Select(r => r.Url).ToArray());
        Assert.All(rows, r => Assert.Equal("member", r.Set));
        Assert.Contains("\"url\":\"https://a/2.jpg\"", rows[1].ToJsonLine());
    }

    [Fact]
    public void AMissingTextColumnIsNamedWithTheColumnsThereAre()
    {
        string path = Path.Combine(TestPaths.NewTempDir("rows"), "p.jsonl");
        File.WriteAllLines(path, ["""{"Prompt": "x"}"""]);
        var file = new DatasetFile { Url = path, SaveAs = "p.jsonl", Format = "jsonl", Text = "caption", Memorized = false };
        var error = Assert.Throws<FormatException>(() => LabelledRows.Read(Recipe(file), file, path));
        Assert.Contains("no column 'caption'", error.Message);
    }

    [Fact]
    public void RandomPromptsAreWensRecipeDrawnTheSameWayEveryTime()
    {
        var recipe = DatasetCatalog.Shipped().Find("random-prompts") with { Generator = new DatasetGenerator { Kind = DatasetGenerator.RandomClipTokens, Count = 50, Seed = 3, Set = "random" } };
        string tokenizer = Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");
        var first = RandomPrompts.Generate(recipe, tokenizer);
        var again = RandomPrompts.Generate(recipe, tokenizer);
        Assert.Equal(50, first.Count);
        Assert.Equal(first.Select(r => r.Text), again.Select(r => r.Text));
        Assert.All(first, r => Assert.False(r.Memorized));
        Assert.DoesNotContain(first, r => r.Text.Contains("<|"));
        // k is uniform in [0, 76]: the word counts spread (decoded tokens are words or pieces of words)
        Assert.True(first.Select(r => r.Text.Length).Distinct().Count() > 20);
    }

    [Fact]
    public void DecodingFollowsClipsByteLevelBpe()
    {
        var byteOf = RandomPrompts.UnicodeToByte();
        Assert.Equal(256, byteOf.Count);
        Assert.Equal("hello world", RandomPrompts.Decode(["hel", "lo</w>", "world</w>"], byteOf));
        // "é" is two UTF-8 bytes, 0xC3 0xA9; bytes_to_unicode keeps both printable (Ã, ©)
        Assert.Equal("café", RandomPrompts.Decode(["caf", "\u00c3\u00a9</w>"], byteOf));
        Assert.Equal((byte)' ', byteOf['\u0120']);   // Ġ: the space, 256 + 32
    }
}
