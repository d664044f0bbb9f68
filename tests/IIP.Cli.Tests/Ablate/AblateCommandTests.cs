using System.Text.Json;
using IIP.Runtime.Scanning;

namespace IIP.Cli.Tests.Ablate;

[Collection("Console")]
public class AblateCommandTests
{
    [Fact]
    public void Sweeps_components_and_removed_steps_with_reference_scales()
    {
        string dir = TestPaths.NewTempDir("ablate");
        string manifest = Path.Combine(dir, "labels.jsonl");
        string[] memorized = ["memorized/000000.png", "memorized/000001.png"];
        string[] heldout = ["heldout/000000.png", "heldout/000001.png", "heldout/000002.png"];
        File.WriteAllLines(manifest,
            memorized.Select(i => JsonSerializer.Serialize(new { image = Path.Combine(TestPaths.Testbed, i), memorized = true }))
                .Concat(heldout.Select(i => JsonSerializer.Serialize(new { image = Path.Combine(TestPaths.Testbed, i), memorized = false }))));
        string output = Path.Combine(dir, "out");
        var result = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", output,
            "--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "1", "--perturbation-noise", "1",
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        foreach (var series in new[] { "iip tI=2", "iip tI=4", "iip tP=1", "mtcnp-only", "similarity-only", "iip no-inversion", "iip no-optimization" })
            Assert.Contains(series, result.Stdout);
        Assert.True(File.Exists(Path.Combine(output, "report.md")));
        Assert.True(new FileInfo(Path.Combine(output, "roc.png")).Length > 1000);

        // the combined score uses the medians over the non-memorized images as scales (IIP.md step 7)
        var records = ResultsReader.Read(Path.Combine(output, "ablation.jsonl")).Records.Where(r => r.Method == "iip tI=4").ToList();
        Assert.Equal(5, records.Count);
        var negatives = records.Where(r => r.Image.Contains("heldout")).ToList();
        double medianE = negatives.Select(r => r.Components["mtcnp"]).Order().ElementAt(1);
        double medianD = negatives.Select(r => r.Components["discrepancy"]).Order().ElementAt(1);
        foreach (var r in records)
        {
            Assert.Equal(medianE, r.Components["scale_e"], 12);
            Assert.Equal(r.Components["mtcnp"] / medianE + r.Components["discrepancy"] / medianD, r.Score!.Value, 10);
        }

        // a rerun reuses the component records (nothing recomputed) and gives the same table
        var rerun = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", output,
            "--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "1", "--perturbation-noise", "1",
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2");
        Assert.Equal(0, rerun.ExitCode);
        Assert.Equal(20, ResultsReader.Read(Path.Combine(output, "ablation-components.jsonl")).Records.Count);  // 5 images x 4 configurations, once

        // records are reused by image and configuration tag, so other options in the same folder are refused, not mixed in
        var otherOptions = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", output,
            "--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "1", "--perturbation-noise", "1",
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2", "--similarity", "pixel-ssim");
        Assert.Equal(2, otherOptions.ExitCode);
        Assert.Contains("holds ablation results of another model or other options", otherOptions.Stderr);
        Assert.Equal(20, ResultsReader.Read(Path.Combine(output, "ablation-components.jsonl")).Records.Count);
    }

    [Fact]
    public void Similarity_and_embedding_options_are_the_scan_options()
    {
        string dir = TestPaths.NewTempDir("ablate-options");
        string manifest = Path.Combine(TestPaths.Testbed, "labels.jsonl");
        var noModel = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", dir,
            "--similarity", "onnx-embedding");
        Assert.Equal(2, noModel.ExitCode);
        Assert.Contains("--embedding-model", noModel.Stderr);
        var stdWithoutEmbedding = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", dir,
            "--similarity", "pixel-ssim", "--embedding-std", "0.26862954,0.26130258,0.27577711");
        Assert.Equal(2, stdWithoutEmbedding.ExitCode);
        Assert.Contains("--embedding-std is only used with --similarity onnx-embedding", stdWithoutEmbedding.Stderr);
    }
}
