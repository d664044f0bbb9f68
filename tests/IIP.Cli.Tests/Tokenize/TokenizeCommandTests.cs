using System.Text.Json;

namespace IIP.Cli.Tests.Tokenize;

[Collection("Console")]
public sealed class TokenizeCommandTests
{
    private static string TokenizerDir => Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");

    private static (string Text, int[] Ids)[] GoldenCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.GoldenJson));
        return doc.RootElement.GetProperty("tokenizer").EnumerateArray()
            .Select(c => (c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()))
            .ToArray();
    }

    private static void AssertPrintsIds(CliResult result, string text, int[] expected)
    {
        Assert.True(result.ExitCode == 0, $"text \"{text}\": exit {result.ExitCode}, stderr: {result.Stderr}");
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"text \"{text}\": expected one line, got {lines.Length}: {result.Stdout}");
        Assert.Equal(string.Join(' ', expected), lines[0].TrimEnd('\r'));
    }

    [Fact]
    public void TokenizerFolderPrintsGoldenIds()
    {
        var cases = GoldenCases();
        Assert.True(cases.Length >= 9, $"golden.json has {cases.Length} tokenizer cases");
        foreach (var (text, ids) in cases)
            AssertPrintsIds(CliRunner.Run("tokenize", "--tokenizer", TokenizerDir, text), text, ids);
    }

    [Fact]
    public void ModelFolderUsesItsTokenizer()
    {
        var (text, ids) = GoldenCases().First(c => c.Text == "a photo of a cat");
        AssertPrintsIds(CliRunner.Run("tokenize", "--model", TestPaths.TinySdDiffusers, text), text, ids);
    }

    [Fact]
    public void SeveralWordsAreJoined()
    {
        var (text, ids) = GoldenCases().First(c => c.Text == "a photo of a cat");
        AssertPrintsIds(CliRunner.Run(["tokenize", "--tokenizer", TokenizerDir, .. text.Split(' ')]), text, ids);
    }

    [Fact]
    public void SingleFileCheckpointIsRefused()
    {
        CliResult result = CliRunner.Run("tokenize", "--model", TestPaths.TinySdLdm, "a cat");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("single-file checkpoints carry no tokenizer; pass --tokenizer DIR", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("neither")]
    [InlineData("both")]
    [InlineData("missing model")]
    [InlineData("model without tokenizer")]
    [InlineData("tokenizer folder without files")]
    public void BadInputExitsTwoWithAMessage(string problem)
    {
        string empty = TestPaths.NewTempDir("tokenize-cli");
        try
        {
            string[] options = problem switch
            {
                "neither" => [],
                "both" => ["--model", TestPaths.TinySdDiffusers, "--tokenizer", TokenizerDir],
                "missing model" => ["--model", Path.Combine(empty, "absent")],
                "model without tokenizer" => ["--model", empty],
                _ => ["--tokenizer", empty],
            };
            string expected = problem switch
            {
                "neither" => "pass --model PATH",
                "both" => "not both",
                "missing model" => "does not exist",
                "model without tokenizer" => "no tokenizer/ subfolder",
                _ => "vocab.json",
            };
            CliResult result = CliRunner.Run(["tokenize", .. options, "a cat"]);
            Assert.True(result.ExitCode == 2, $"{problem}: exit {result.ExitCode}, stderr {result.Stderr}");
            Assert.Contains(expected, result.Stderr);
            Assert.StartsWith("error: ", result.Stderr);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public void MissingTextIsAParseError()
    {
        CliResult result = CliRunner.Run("tokenize", "--tokenizer", TokenizerDir);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Required argument 'text' missing", result.Stderr);
        // stdout carries the usage text, never an id line
        Assert.DoesNotContain(result.Stdout.Split('\n'), line => line.Trim().StartsWith("49406 ", StringComparison.Ordinal));
    }

    [Fact]
    public void HelpExplainsTheOptions()
    {
        CliResult result = CliRunner.Run("tokenize", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (string expected in new[] { "--model", "--tokenizer", "77", "vocab.json", "Single-file checkpoints carry no tokenizer" })
            Assert.Contains(expected, result.Stdout);
    }
}
