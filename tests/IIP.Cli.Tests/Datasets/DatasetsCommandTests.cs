using System.Text.Json.Nodes;

namespace IIP.Cli.Tests.Datasets;

/// <summary>`iip datasets list | show | fetch` on the shipped recipes and on a catalog folder with a local file.</summary>
[Collection("Console")]
public sealed class DatasetsCommandTests
{
    [Fact]
    public void ListAndShowPrintTheRecipesAndWhetherTheyArePinned()
    {
        var list = CliRunner.Run("datasets", "list");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("wen-500-memorized", list.Stdout);
        Assert.Matches(@"wen-500-memorized\s+prompts\s+paper uses 500\s+pinned", list.Stdout);
        Assert.Matches(@"lexica-prompts\s+.*NOT pinned", list.Stdout);
        Assert.Contains("7 recipes", list.Stdout);

        var show = CliRunner.Run("datasets", "show", "wen-500-memorized");
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("sha256 8eb16c6ff1c7195cddf26b3207bdc7c6a905a20162c6070d79fe60336a525c60, 116357 bytes", show.Stdout);
        Assert.Contains("every row memorized", show.Stdout);

        var unknown = CliRunner.Run("datasets", "show", "nope");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no dataset named 'nope'", unknown.Stderr);
    }

    /// <summary>A catalog folder holding the testbed recipe with the label file's absolute path (tests do not run from the repository root).</summary>
    internal static string TestbedCatalog()
    {
        string catalog = TestPaths.NewTempDir("catalog");
        var recipe = JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "datasets", "testbed-v2-captions.json")))!;
        recipe["files"]![0]!["url"] = Path.Combine(TestPaths.TestbedV2, "labels.jsonl");
        File.WriteAllText(Path.Combine(catalog, "testbed-v2-captions.json"), recipe.ToJsonString());
        return catalog;
    }

    [Fact]
    public void FetchWritesALabelledManifestAndTheRecordOfWhatWasFetched()
    {
        string outDir = TestPaths.NewTempDir("datasets-fetch");
        var result = CliRunner.Run("datasets", "fetch", "testbed-v2-captions", "--out", outDir, "--catalog", TestbedCatalog());
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("110 labelled rows (10 memorized); 100 rows of sets the recipe does not label left out", result.Stdout);
        var rows = File.ReadAllLines(Path.Combine(outDir, "testbed-v2-captions.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(10, rows.Count(r => (bool)r["memorized"]!));
        Assert.All(rows, r => Assert.Equal((string)r["prompt"]!, (string)r["caption"]!));
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "testbed-v2-captions.fetch.json")))!;
        Assert.Equal("78c8bba5929b399db3c0adaff2671731b6e138dcb7514f7d2a8c92808d8962ee", (string)record["files"]![0]!["sha256"]!);
        Assert.True((bool)record["files"]![0]!["pinned"]!);

        var again = CliRunner.Run("datasets", "fetch", "testbed-v2-captions", "--out", outDir, "--catalog", TestbedCatalog());
        Assert.Contains("already there, verified", again.Stdout);
    }

    [Fact]
    public void AnUnpinnedRecipeIsRefusedWithoutAllowUnpinnedAndRandomPromptsNeedATokenizer()
    {
        string outDir = TestPaths.NewTempDir("datasets-refused");
        var unpinned = CliRunner.Run("datasets", "fetch", "lexica-prompts", "--out", outDir);
        Assert.Equal(2, unpinned.ExitCode);
        Assert.Contains("no pinned sha256", unpinned.Stderr);

        var random = CliRunner.Run("datasets", "fetch", "random-prompts", "--out", outDir);
        Assert.Equal(2, random.ExitCode);
        Assert.Contains("--tokenizer", random.Stderr);
        var made = CliRunner.Run("datasets", "fetch", "random-prompts", "--out", outDir, "--tokenizer", Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"));
        Assert.True(made.ExitCode == 0, made.Stderr);
        Assert.Equal(2000, File.ReadAllLines(Path.Combine(outDir, "random-prompts.jsonl")).Length);
    }
}
