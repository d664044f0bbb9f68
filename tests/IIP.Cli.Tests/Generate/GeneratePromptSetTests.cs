using System.Text.Json.Nodes;
using IIP.Engine.Imaging;

namespace IIP.Cli.Tests.Generate;

/// <summary>
/// `iip generate --prompts`: a labelled prompt set on the synthesized small-test model (16x16 images, 2 steps): the labels
/// and seeds recorded per image, nested per-prompt subsets, batches equal to one image at a time, resume after a crash,
/// and a rerun with other settings refused.
/// </summary>
[Collection("Console")]
public sealed class GeneratePromptSetTests
{
    private static string Prompts()
    {
        string path = Path.Combine(TestPaths.NewTempDir("prompt-set"), "prompts.jsonl");
        File.WriteAllLines(path, [
            """{"prompt": "a photo of a cat", "memorized": true, "set": "memorized", "source": "t"}""",
            """{"caption": "a red ring at the top", "memorized": false, "set": "heldout"}""",
            """{"prompt": "an astronaut", "memorized": false}""",
        ]);
        return path;
    }

    private static CliResult Run(string prompts, string outDir, params string[] options) =>
        CliRunner.Run(["generate", "--model", GenerateCommandTests.SmallTestModel.Value, "--prompts", prompts, "--out", outDir, "--steps", "2", .. options]);

    private static List<JsonObject> Lines(string path) => File.ReadAllLines(path).Select(l => (JsonObject)JsonNode.Parse(l)!).ToList();

    [Fact]
    public void EveryImageCarriesItsPromptsLabelAndSeedAndTheSubsetsAreNested()
    {
        string prompts = Prompts(), outDir = TestPaths.NewTempDir("prompt-set-out");
        var result = Run(prompts, outDir, "--per-prompt", "1,2", "--batch", "4", "--seed", "7");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var all = Lines(Path.Combine(outDir, "generated.jsonl"));
        Assert.Equal(6, all.Count);
        var first = all.Single(l => (int)l["prompt_index"]! == 1 && (int)l["sample"]! == 1);
        Assert.Equal("a red ring at the top", (string)first["caption"]!);
        Assert.False((bool)first["memorized"]!);
        Assert.Equal("heldout", (string)first["set"]!);
        Assert.Equal(7 + 1 * 1000 + 1, (long)first["seed"]!);
        Assert.Equal("images/p00001-001.png", (string)first["image"]!);
        Assert.Equal("non-memorized", (string)all.Single(l => (int)l["prompt_index"]! == 2 && (int)l["sample"]! == 0)["set"]!);
        Assert.All(all, l => Assert.Equal((16, 16), Size(Path.Combine(outDir, (string)l["image"]!))));
        var one = Lines(Path.Combine(outDir, "generated-per-prompt-1.jsonl"));
        Assert.Equal([0, 1, 2], one.Select(l => (int)l["prompt_index"]!).ToArray());
        Assert.All(one, l => Assert.Equal(0, (int)l["sample"]!));
        Assert.Equal(6, Lines(Path.Combine(outDir, "generated-per-prompt-2.jsonl")).Count);
        Assert.Contains("6 images: 6 generated, 0 already there", result.Stdout);

        // the evaluation reads the manifest as labels
        var labels = IIP.Detection.Evaluation.LabelSet.Load(Path.Combine(outDir, "generated.jsonl"));
        Assert.Equal(2, labels.Entries.Count(e => e.Memorized));
    }

    private static (int, int) Size(string png)
    {
        var image = ImageFile.Load(png);
        return (image.Width, image.Height);
    }

    [Fact]
    public void ABatchGivesTheImagesOfOneAtATime()
    {
        string prompts = Prompts(), single = TestPaths.NewTempDir("prompt-set-b1"), batched = TestPaths.NewTempDir("prompt-set-b3");
        Assert.Equal(0, Run(prompts, single, "--per-prompt", "2", "--batch", "1").ExitCode);
        Assert.Equal(0, Run(prompts, batched, "--per-prompt", "2", "--batch", "3").ExitCode);
        foreach (string png in Directory.GetFiles(Path.Combine(single, "images")))
        {
            var a = ImageFile.Load(png).Pixels;
            var b = ImageFile.Load(Path.Combine(batched, "images", Path.GetFileName(png))).Pixels;
            // the CPU backend computes each batch item with the same arithmetic; an 8-bit level of slack for summation order
            int worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 1, $"{Path.GetFileName(png)}: batch 3 differs from batch 1 by {worst} levels");
        }
    }

    [Fact]
    public void AKilledRunGoesOnFromWhereItStoppedAndOtherSettingsAreRefused()
    {
        string prompts = Prompts(), outDir = TestPaths.NewTempDir("prompt-set-resume");
        Assert.Equal(0, Run(prompts, outDir, "--per-prompt", "2").ExitCode);
        string manifest = Path.Combine(outDir, "generated.jsonl");
        var lines = File.ReadAllLines(manifest);
        byte[] kept = File.ReadAllBytes(Path.Combine(outDir, "images", "p00000-000.png"));
        // a crash: the last line cut in half, and the image of the line before it never renamed into place
        File.WriteAllLines(manifest, lines[..^1].Append(lines[^1][..20]));
        File.Delete(Path.Combine(outDir, "images", "p00002-000.png"));

        var again = Run(prompts, outDir, "--per-prompt", "2");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("6 images: 2 generated, 4 already there", again.Stdout);
        Assert.Equal(6, Lines(manifest).Count);
        Assert.Equal(kept, File.ReadAllBytes(Path.Combine(outDir, "images", "p00000-000.png")));

        var more = Run(prompts, outDir, "--per-prompt", "3");   // more images per prompt: the same seeds, three more images
        Assert.Contains("9 images: 3 generated, 6 already there", more.Stdout);

        var other = Run(prompts, outDir, "--per-prompt", "2", "--guidance", "3");
        Assert.Equal(2, other.ExitCode);
        Assert.Contains("other settings", other.Stderr);
        Assert.Contains("guidance 7.5 -> 3", other.Stderr);
    }

    [Fact]
    public void BadInputIsRefusedWithTheFileAndTheProblem()
    {
        string outDir = TestPaths.NewTempDir("prompt-set-bad");
        string unlabelled = Path.Combine(outDir, "unlabelled.jsonl");
        File.WriteAllLines(unlabelled, ["""{"prompt": "x"}"""]);
        var result = Run(unlabelled, Path.Combine(outDir, "out"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{unlabelled} line 1: needs \"memorized\"", result.Stderr);

        var both = CliRunner.Run("generate", "--model", GenerateCommandTests.SmallTestModel.Value, "--prompt", "a", "--prompts", unlabelled, "--out", outDir);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("either --prompt", both.Stderr);
        Assert.Contains("not a positive whole number", Run(Prompts(), Path.Combine(outDir, "o2"), "--per-prompt", "4,x").Stderr);
        var stray = CliRunner.Run("generate", "--model", GenerateCommandTests.SmallTestModel.Value, "--prompt", "a", "--per-prompt", "4", "--out", Path.Combine(outDir, "a.png"));
        Assert.Equal(2, stray.ExitCode);
        Assert.Contains("--per-prompt and --batch are for --prompts", stray.Stderr);
    }
}
