using IIP.Detection.Datasets;

namespace IIP.Detection.Tests.Datasets;

/// <summary>The shipped recipes (datasets/*.json) and the checks a recipe gets.</summary>
public class DatasetRecipeTests
{
    [Fact]
    public void EveryShippedRecipeParsesAndTheCatalogHasThePapersSets()
    {
        var catalog = DatasetCatalog.Shipped();
        string[] expected = ["coco-captions", "laion-captions", "laion-mi", "lexica-prompts", "random-prompts", "testbed-v2-captions", "wen-500-memorized"];
        Assert.Equal(expected, catalog.Recipes.Select(r => r.Name).ToArray());
        // the shipped recipes are the repository's datasets/ folder, compiled in
        Assert.Equal(expected, DatasetCatalog.FromFolder(Path.Combine(TestPaths.RepoRoot, "datasets")).Recipes.Select(r => r.Name).ToArray());
        Assert.All(catalog.Recipes, r => Assert.False(string.IsNullOrWhiteSpace(r.Licence + r.Citation)));
    }

    [Fact]
    public void ThePinnedChecksumsAreTheFilesChecksums()
    {
        // wen-500-memorized was pinned from the git blob of YuxinWenRick/diffusion_memorization at c8fe471 (116,357 bytes);
        // the testbed's recipe points into this repository, so its pin is checked against the file itself
        var catalog = DatasetCatalog.Shipped();
        var wen = catalog.Find("wen-500-memorized").Files.Single();
        Assert.Equal("8eb16c6ff1c7195cddf26b3207bdc7c6a905a20162c6070d79fe60336a525c60", wen.Sha256);
        Assert.Contains("c8fe471d80b62213bdc8a384543ff44b44c62020", wen.Url);
        var testbed = catalog.Find("testbed-v2-captions").Files.Single();
        string file = Path.Combine(TestPaths.RepoRoot, testbed.Url);
        Assert.Equal(testbed.Sha256, DatasetDownload.Sha256Of(file));
        Assert.Equal(testbed.Bytes, new FileInfo(file).Length);
    }

    private const string Valid = """
        { "name": "x", "version": "1", "kind": "prompts", "description": "d", "licence": "l", "citation": "c",
          "files": [ { "url": "https://example.org/a.jsonl", "sha256": null, "save_as": "a.jsonl", "format": "jsonl", "text": "caption", "memorized": false } ] }
        """;

    [Fact]
    public void AValidRecipeParses()
    {
        var recipe = DatasetRecipe.Parse(Valid, "x.json");
        Assert.Equal("caption", recipe.Files.Single().Text);
        Assert.Null(recipe.Files.Single().Sha256);
    }

    [Theory]
    [InlineData("\"sha256\": null", "\"sha256\": \"ABC\"", "sha256 must be 64")]
    [InlineData("\"memorized\": false", "\"memorized\": false, \"set_column\": \"set\", \"sets\": {\"a\": true}", "not both")]
    [InlineData("\"save_as\": \"a.jsonl\"", "\"save_as\": \"../a.jsonl\"", "plain file name")]
    [InlineData("\"format\": \"jsonl\"", "\"format\": \"csv\"", "format 'csv'")]
    [InlineData("\"kind\": \"prompts\"", "\"kind\": \"images\"", "url_column")]
    [InlineData("\"name\": \"x\"", "\"name\": \"X Y\"", "lower-case")]
    [InlineData("\"version\": \"1\"", "\"version\": \"1\", \"colour\": \"red\"", "colour")]
    public void ABadRecipeIsRefusedNamingItsSourceAndTheProblem(string from, string to, string problem)
    {
        var error = Assert.Throws<FormatException>(() => DatasetRecipe.Parse(Valid.Replace(from, to), "bad.json"));
        Assert.StartsWith("bad.json: ", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void AnUnknownNameListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => DatasetCatalog.Shipped().Find("nope"));
        Assert.Contains("wen-500-memorized", error.Message);
    }
}
