using System.Text.Json;
using IIP.Detection.Scanning;

namespace IIP.Cli.Tests.Explain;

/// <summary>`iip explain` on a scan of the testbed model: pictures and TCNP plots for the top images and one asked for.</summary>
[Collection("Console")]
public class ExplainCommandTests
{
    private static readonly string[] FastIip = ["--inversion-steps", "4", "--mtcnp-steps", "3", "--perturbation-iterations", "1", "--perturbation-noise", "1", "--calibration-images", "2"];

    [Fact]
    public void Explains_the_top_images_of_a_scan_with_the_scores_it_recorded()
    {
        string dir = TestPaths.NewTempDir("explain");
        string[] images = ["memorized/000000.png", "heldout/000000.png", "heldout/000001.png"];
        string manifest = Path.Combine(dir, "images.jsonl");
        File.WriteAllLines(manifest, images.Select(i => JsonSerializer.Serialize(new { image = i })));
        foreach (var image in images)
        {
            Directory.CreateDirectory(Path.Combine(dir, Path.GetDirectoryName(image)!));
            File.Copy(Path.Combine(TestPaths.Testbed, image), Path.Combine(dir, image));
        }
        string results = Path.Combine(dir, "results.jsonl");
        string model = Path.Combine(TestPaths.Testbed, "model");
        var scan = CliRunner.Run(["scan", "--model", model, "--images", manifest, "--out", results, .. FastIip]);
        Assert.True(scan.ExitCode == 0, scan.Stdout + scan.Stderr);
        var top = ResultsReader.Read(results).Records.OrderByDescending(r => r.Score).Take(2).Select(r => r.Image).ToList();

        string extra = Path.Combine(TestPaths.Testbed, "train_unique", Path.GetFileName(Directory.GetFiles(Path.Combine(TestPaths.Testbed, "train_unique")).Order().First()));
        var explain = CliRunner.Run(["explain", "--model", model, "--results", results, "--images", manifest, "--top-k", "2", "--image", extra, .. FastIip]);
        Assert.True(explain.ExitCode == 0, explain.Stdout + explain.Stderr);
        Assert.DoesNotContain("options differ", explain.Stderr);   // the same options reproduce the scan's scores
        string outDir = Path.Combine(dir, "results-explain");
        string md = File.ReadAllText(Path.Combine(outDir, "explain.md"));
        // ranked as the scan scored them, then the image asked for
        Assert.True(md.IndexOf(top[0], StringComparison.Ordinal) < md.IndexOf(top[1], StringComparison.Ordinal));
        Assert.Contains(extra, md);
        var pngs = Directory.GetFiles(outDir, "*.png");
        Assert.Equal(6, pngs.Length);   // per image: the three panels and the TCNP plot
        Assert.All(pngs, p => Assert.True(new FileInfo(p).Length > 1000, p));

        var missing = CliRunner.Run(["explain", "--model", model, "--image", Path.Combine(dir, "nope.png"), .. FastIip]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope.png: file not found", missing.Stderr);
    }
}
