using System.Text.Json;

namespace IIP.Cli.Tests.Scan;

/// <summary>
/// IIP and every baseline on an SD 2.x model (tiny-sd2: per-level heads, linear projections, v-prediction), from the
/// diffusers folder and from the single file with its configs: every record scored, none an error, and the two layouts
/// scoring the same images alike (the same model read two ways).
/// </summary>
[Collection("Console")]
public class Sd2ScanTests
{
    private static readonly string[] Methods = ["iip", "iip-mtcnp", "iip-similarity", "denoising-loss", "pia", "secmi", "ori-prompt"];

    [Fact]
    public void EveryMethodScoresAnSd2ModelInBothLayouts()
    {
        string dir = TestPaths.NewTempDir("sd2-scan");
        // two testbed images with their captions (ori-prompt needs them), upscaled to tiny-sd2's 128x128 by the scan
        string manifest = TestbedManifest(dir, 2);
        string[] common = ["scan", "--images", manifest, "--method", string.Join(",", Methods), "--calibration-images", "4"];

        var folder = CliRunner.Run([.. common, "--model", TestPaths.TinySd2Diffusers, "--out", Path.Combine(dir, "folder.jsonl")]);
        Assert.True(folder.ExitCode == 0, folder.Stderr);
        Assert.Contains("note: this model predicts v", folder.Stderr);   // iip without the fit gain, weaker on v models (docs/detection.md)
        var single = CliRunner.Run([.. common, "--model", TestPaths.TinySd2Ldm, "--model-config", TestPaths.TinySd2Diffusers,
            "--tokenizer", Path.Combine(TestPaths.TinySd2Diffusers, "tokenizer"), "--out", Path.Combine(dir, "single.jsonl")]);
        Assert.True(single.ExitCode == 0, single.Stderr);

        var a = Scores(Path.Combine(dir, "folder.jsonl"));
        var b = Scores(Path.Combine(dir, "single.jsonl"));
        Assert.Equal(2 * Methods.Length, a.Count);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (key, score) in a)
        {
            Assert.True(double.IsFinite(score), $"{key}: {score}");
            // the same fp16-exact weights through another loader: the same arithmetic, so the same scores up to
            // summation order in the GEMMs of a differently laid-out upload (none measured)
            Assert.True(Math.Abs(b[key] - score) <= 1e-4 * Math.Max(1, Math.Abs(score)), $"{key}: folder {score:R}, single file {b[key]:R}");
        }
    }

    [Fact]
    public void WithoutMethodAVPredictionModelIsScannedWithTheFitGainAndIip()
    {
        string dir = TestPaths.NewTempDir("sd2-default");
        string manifest = TestbedManifest(dir, 1);
        string results = Path.Combine(dir, "results.jsonl");
        var scan = CliRunner.Run(["scan", "--model", TestPaths.TinySd2Diffusers, "--images", manifest, "--out", results,
            "--calibration-images", "2", "--fit-iterations", "2"]);
        Assert.True(scan.ExitCode == 0, scan.Stderr);
        // the v-model default (docs/detection.md, "A v-model default"): the fit gain and iip, so no note that it is missing
        Assert.Equal(["fit-gain", "iip"], Scores(results).Keys.Select(k => k.Split(' ')[^1]).Order());   // one record each
        Assert.DoesNotContain("note: this model predicts v", scan.Stderr);
        Assert.Contains("methods fit-gain, iip (the default for a v-prediction model)", scan.Stderr);

        // --preset paper reproduces the paper: iip alone, whatever the model predicts
        string paper = Path.Combine(dir, "paper.jsonl");
        var paperScan = CliRunner.Run(["scan", "--model", TestPaths.TinySd2Diffusers, "--images", manifest, "--out", paper, "--preset", "paper"]);
        Assert.True(paperScan.ExitCode == 0, paperScan.Stderr);
        Assert.Equal(["iip"], Scores(paper).Keys.Select(k => k.Split(' ')[^1]));
        Assert.Contains("methods iip (the default for a v-prediction model under --preset paper)", paperScan.Stderr);
    }

    // dir/images.jsonl: the first `count` lines of the testbed's labels (image and caption), the images by absolute path
    private static string TestbedManifest(string dir, int count)
    {
        string manifest = Path.Combine(dir, "images.jsonl");
        File.WriteAllLines(manifest, File.ReadLines(Path.Combine(TestPaths.Testbed, "labels.jsonl")).Take(count)
            .Select(line => line.Replace("\"image\": \"", $"\"image\": \"{TestPaths.Testbed}/")));
        return manifest;
    }

    // (image, method) -> score; every record must be scored without an error
    private static Dictionary<string, double> Scores(string results)
    {
        var scores = new Dictionary<string, double>();
        foreach (string line in File.ReadLines(results))
        {
            using var record = JsonDocument.Parse(line);
            var root = record.RootElement;
            Assert.True(root.GetProperty("error").ValueKind == JsonValueKind.Null, line);
            scores[$"{root.GetProperty("image").GetString()} {root.GetProperty("method").GetString()}"] = root.GetProperty("score").GetDouble();
        }
        return scores;
    }
}
