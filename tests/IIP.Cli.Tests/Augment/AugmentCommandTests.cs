using System.Text.Json;
using IIP.Engine.Imaging;

namespace IIP.Cli.Tests.Augment;

/// <summary>`iip augment` writes every copy with the original's labels, resumes, and reports an unreadable image.</summary>
[Collection("Console")]
public class AugmentCommandTests
{
    [Fact]
    public void EveryKindOfEveryImageIsWrittenWithItsLabelsAndARerunKeepsThem()
    {
        string dir = TestPaths.NewTempDir("augment");
        string manifest = Path.Combine(dir, "labels.jsonl");
        // two testbed images by paths relative to the manifest, copied beside it
        Directory.CreateDirectory(Path.Combine(dir, "memorized"));
        Directory.CreateDirectory(Path.Combine(dir, "heldout"));
        File.Copy(Path.Combine(TestPaths.Testbed, "memorized", "000000.png"), Path.Combine(dir, "memorized", "000000.png"));
        File.Copy(Path.Combine(TestPaths.Testbed, "heldout", "000001.png"), Path.Combine(dir, "heldout", "000001.png"));
        File.WriteAllLines(manifest, ["""{"image": "memorized/000000.png", "memorized": true}""", """{"image": "heldout/000001.png", "memorized": false}"""]);
        string output = Path.Combine(dir, "augmented");

        var first = CliRunner.Run("augment", "--images", manifest, "--out", output, "--seed", "3");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("14 copies written, 0 kept", first.Stdout);
        var records = File.ReadAllLines(Path.Combine(output, "augmented.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2 * 8, records.Count);   // each original ("none") and its 7 copies
        foreach (var record in records)
        {
            string kind = record.GetProperty("augmentation").GetString()!;
            string image = record.GetProperty("image").GetString()!;
            string path = Path.IsPathRooted(image) ? image : Path.Combine(output, image);
            var pixels = ImageFile.Load(path);
            Assert.Equal((64, 64), (pixels.Width, pixels.Height));
            Assert.Equal(record.GetProperty("source").GetString()!.StartsWith("memorized/"), record.GetProperty("memorized").GetBoolean());
            if (kind == "jpeg") Assert.EndsWith(".jpg", image);
        }
        byte[] rotated = File.ReadAllBytes(Path.Combine(output, "rotate", "memorized", "000000.png"));

        var again = CliRunner.Run("augment", "--images", manifest, "--out", output, "--seed", "3");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("0 copies written, 14 kept", again.Stdout);
        // the same seed draws the same copy (made afresh in another folder)
        var fresh = CliRunner.Run("augment", "--images", manifest, "--out", Path.Combine(dir, "fresh"), "--seed", "3", "--kinds", "rotate");
        Assert.True(fresh.ExitCode == 0, fresh.Stderr);
        Assert.Equal(rotated, File.ReadAllBytes(Path.Combine(dir, "fresh", "rotate", "memorized", "000000.png")));
    }

    [Fact]
    public void TheAugmentedSetScansAndEvaluatesIntoARobustnessTable()
    {
        // augment -> scan -> eval --by-augmentation, the robustness study's chain, with the fast denoising loss on the v1 testbed
        string dir = TestPaths.NewTempDir("augment-chain");
        string manifest = Path.Combine(dir, "labels.jsonl");
        var labelled = File.ReadLines(Path.Combine(TestPaths.Testbed, "labels.jsonl")).ToList();
        File.WriteAllLines(manifest, labelled.Where(l => l.Contains("\"memorized/")).Take(3).Concat(labelled.Where(l => l.Contains("\"heldout/")).Take(3))
            .Select(l => l.Replace("\"image\": \"", $"\"image\": \"{TestPaths.Testbed}/")));
        string augmented = Path.Combine(dir, "aug");
        Assert.Equal(0, CliRunner.Run("augment", "--images", manifest, "--out", augmented, "--kinds", "jpeg,noise").ExitCode);
        string results = Path.Combine(dir, "results.jsonl");
        var scan = CliRunner.Run("scan", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", Path.Combine(augmented, "augmented.jsonl"),
            "--out", results, "--method", "denoising-loss");
        Assert.True(scan.ExitCode == 0, scan.Stderr);
        var eval = CliRunner.Run("eval", "--results", results, "--labels", Path.Combine(augmented, "augmented.jsonl"), "--by-augmentation", "--out", Path.Combine(dir, "eval"));
        Assert.True(eval.ExitCode == 0, eval.Stdout + eval.Stderr);
        Assert.Contains("robustness (AUC / TPR@1%FPR per augmentation", eval.Stdout);
        var header = eval.Stdout.Split('\n').Single(l => l.StartsWith("method ") && l.Contains("none"));
        Assert.Equal(["method", "none", "jpeg", "noise"], header.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var csv = File.ReadAllLines(Path.Combine(dir, "eval", "robustness.csv"));
        Assert.Equal(1 + 3, csv.Length);   // one row per augmentation of the one method
        Assert.True(File.Exists(Path.Combine(dir, "eval", "robustness.png")));
    }

    [Fact]
    public void AnUnreadableImageIsReportedAndTheRestWritten()
    {
        string dir = TestPaths.NewTempDir("augment-bad");
        File.WriteAllText(Path.Combine(dir, "broken.png"), "not a png");
        File.Copy(Path.Combine(TestPaths.Testbed, "heldout", "000001.png"), Path.Combine(dir, "good.png"));
        string manifest = Path.Combine(dir, "labels.jsonl");
        File.WriteAllLines(manifest, ["""{"image": "broken.png", "memorized": false}""", """{"image": "good.png", "memorized": false}"""]);
        var result = CliRunner.Run("augment", "--images", manifest, "--out", Path.Combine(dir, "out"), "--kinds", "flip,blur");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("broken.png", result.Stderr);
        Assert.Contains("2 copies written, 0 kept from an earlier run, 1 images unreadable", result.Stdout);
        // the unreadable original is kept (for a scan to record as an error), its copies are not made
        var records = File.ReadAllLines(Path.Combine(dir, "out", "augmented.jsonl"));
        Assert.Equal(1 + 3, records.Length);
        Assert.Single(records, r => r.Contains("broken.png") && r.Contains("\"augmentation\":\"none\""));
        var bad = CliRunner.Run("augment", "--images", manifest, "--out", Path.Combine(dir, "out2"), "--kinds", "sharpen");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("unknown augmentation 'sharpen'", bad.Stderr);
    }
}
