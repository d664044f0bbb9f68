using System.Text.RegularExpressions;
using IIP.Cli.Tests.Datasets;

namespace IIP.Cli.Tests.Reproduce;

/// <summary>
/// `iip reproduce generated` end to end on the shipped testbed-v2 (the generated-image setting from its captions, two
/// augmentations), kept to CI time: 3 memorized and 6 held-out captions, 1 and 2 images per prompt, 10 DDIM steps, two methods.
/// </summary>
[Collection("Console")]
public sealed class ReproduceCommandTests
{
    [Fact]
    public void TheGeneratedSettingRunsFromFetchToTheReportAndResumes()
    {
        string outDir = TestPaths.NewTempDir("reproduce");
        string[] args = ["reproduce", "generated", "--model", Path.Combine(TestPaths.TestbedV2, "model"), "--datasets", "testbed-v2-captions",
            "--catalog", DatasetsCommandTests.TestbedCatalog(), "--memorized-prompts", "3", "--non-memorized-prompts", "6", "--per-prompt", "1,2",
            "--steps", "10", "--methods", "iip,denoising-loss", "--augment", "flip,jpeg", "--out", outDir];
        var result = CliRunner.Run(args);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("3 memorized and 6 non-memorized prompts (6 heldout)", result.Stdout);
        string report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("| method | 1 per prompt | 2 per prompt | 2 per prompt+flip | 2 per prompt+jpeg |", report);
        Assert.Matches(@"\| iip \| \d\.\d{3} / \d\.\d{2} \| \d\.\d{3} / \d\.\d{2} \| \d\.\d{3} / \d\.\d{2} \| \d\.\d{3} / \d\.\d{2} \|", report);
        Assert.Contains("| denoising-loss |", report);
        // each setting counts its own images: the originals only, not their augmented copies of the same file name
        Assert.Contains("1 per prompt 3 / 6; 2 per prompt 6 / 12; 2 per prompt+flip 6 / 12; 2 per prompt+jpeg 6 / 12", report);
        var csv = File.ReadAllLines(Path.Combine(outDir, "table.csv"));
        Assert.Equal("method,setting,positives,negatives,auc,tpr_at_1pct_fpr,problem", csv[0]);
        Assert.Equal(1 + 2 * 4, csv.Length);
        Assert.True(File.Exists(Path.Combine(outDir, "eval", "1-per-prompt", "roc.png")));
        Assert.True(File.Exists(Path.Combine(outDir, "eval", "2-per-prompt", "roc.png")));

        var again = CliRunner.Run(args);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("18 images: 0 generated, 18 already there", again.Stdout);
        Assert.Contains("0 records written, 54 images already done", again.Stdout);
        Assert.Equal(report, File.ReadAllText(Path.Combine(outDir, "report.md")));
    }

    [Fact]
    public void TheImagesSettingScansAndReportsALabelledImageSet()
    {
        string outDir = TestPaths.NewTempDir("reproduce-images");
        string manifest = LabelledSubset(outDir, heldOutCaptions: true);
        var result = CliRunner.Run("reproduce", "images", "--model", Path.Combine(TestPaths.TestbedV2, "model"), "--images", manifest,
            "--setting-name", "training images", "--methods", "denoising-loss", "--out", Path.Combine(outDir, "run"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        string report = File.ReadAllText(Path.Combine(outDir, "run", "report.md"));
        Assert.Contains("| method | training images |", report);
        Assert.Contains("training images 3 / 6", report);
        Assert.True(File.Exists(Path.Combine(outDir, "run", "eval", "training-images", "roc.png")));
    }

    [Fact]
    public void AMethodWithScoresOfOneClassIsNotAvailableAndTheOthersAreReported()
    {
        // captions for the memorized images only: pia-sd (conditioned on the caption) scores no held-out image
        string outDir = TestPaths.NewTempDir("reproduce-one-class");
        string manifest = LabelledSubset(outDir, heldOutCaptions: false);
        var result = CliRunner.Run("reproduce", "images", "--model", Path.Combine(TestPaths.TestbedV2, "model"), "--images", manifest,
            "--setting-name", "training images", "--methods", "denoising-loss,pia-sd", "--out", Path.Combine(outDir, "run"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        string report = File.ReadAllText(Path.Combine(outDir, "run", "report.md"));
        Assert.Matches(@"\| denoising-loss \| [01]\.\d{3} / [01]\.\d{2} \|", report);
        Assert.Contains("| pia-sd | n/a |", report);
        Assert.Contains("pia-sd in training images: not evaluated: method 'pia-sd': 3 memorized and 0 non-memorized", report);
    }

    // 3 memorized and 6 held-out testbed-v2 images as a labelled manifest with absolute paths, the held-out ones with or
    // without their captions
    private static string LabelledSubset(string dir, bool heldOutCaptions)
    {
        var lines = File.ReadAllLines(Path.Combine(TestPaths.TestbedV2, "labels.jsonl"));
        var heldOut = lines.Where(l => l.Contains("\"set\": \"heldout\"")).Take(6);
        var chosen = lines.Where(l => l.Contains("\"set\": \"memorized\"")).Take(3)
            .Concat(heldOutCaptions ? heldOut : heldOut.Select(l => Regex.Replace(l, "\"caption\": \"[^\"]*\", ", "")))
            .Select(l => l.Replace("\"image\": \"", $"\"image\": \"{TestPaths.TestbedV2.Replace("\\", "/")}/"));
        string manifest = Path.Combine(dir, "labelled.jsonl");
        File.WriteAllLines(manifest, chosen);
        return manifest;
    }
}
