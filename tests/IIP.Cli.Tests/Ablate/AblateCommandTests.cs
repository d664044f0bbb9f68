using System.Text.Json;
using IIP.Detection.Scanning;

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
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2", "--sweep-guidance", "3", "--sweep-perturbation", "iterations=0",
            "--sweep-weights", "2", "--calibration-images", "2");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        foreach (var name in new[] { "iip tI=2", "mtcnp-only tI=2", "similarity-only tI=2", "iip tI=4", "iip tP=1", "mtcnp-only", "similarity-only",
                     "iip no-inversion", "iip perturbation iterations=0", "iip g=3", "iip similarity=pixel-ssim", "iip sign=-1",
                     "iip lambda_d/lambda_e=2", "iip scales=median", "iip scales=calibration", "iip window=first", "iip discrepancy=linear" })
            Assert.Contains(name, result.Stdout);
        Assert.True(File.Exists(Path.Combine(output, "report.md")));
        foreach (var figure in new[] { "roc.png", "auc-by-inversion-steps.png", "auc-by-timestep.png" })
            Assert.True(new FileInfo(Path.Combine(output, figure)).Length > 1000, figure);
        // AUC of TCNP at each step of the deepest regeneration (t_I = 4: t = 61, 41, 21, 1)
        var perStep = File.ReadAllLines(Path.Combine(output, "auc-by-timestep.csv"));
        Assert.Equal(["timestep", "61", "41", "21", "1"], perStep.Select(l => l.Split(',')[0]));

        // the combined score takes its centres and scales from the non-memorized images (IIP.md step 7): robust z-scores
        // by default, medians with "iip scales=median"
        var series = ResultsReader.Read(Path.Combine(output, "ablation.jsonl")).Records;
        var records = series.Where(r => r.Method == "iip tI=4").ToList();
        Assert.Equal(5, records.Count);
        var negatives = records.Where(r => r.Image.Contains("heldout")).Select(r => r.Components["mtcnp"]).Order().ToArray();
        double medianE = negatives[1], madE = negatives.Select(v => Math.Abs(v - medianE)).Order().ElementAt(1);
        foreach (var r in records)
        {
            Assert.Equal(medianE, r.Components["center_e"], 12);
            Assert.Equal(1.482602218505602 * madE, r.Components["scale_e"], 12);
            // lambda_e = 1, lambda_d = 0.5 (the defaults)
            Assert.Equal(Math.Log(r.Components["discrepancy"]), r.Components["discrepancy_term"], 12);   // ln d by default
            Assert.Equal((r.Components["mtcnp"] - medianE) / r.Components["scale_e"] + 0.5 * (r.Components["discrepancy_term"] - r.Components["center_d"]) / r.Components["scale_d"], r.Score!.Value, 10);
        }
        foreach (var r in series.Where(r => r.Method == "iip scales=median"))   // IIP.md's medians, of d itself
        {
            Assert.Equal(medianE, r.Components["scale_e"], 12);
            Assert.Equal(r.Components["discrepancy"], r.Components["discrepancy_term"]);
            Assert.Equal(r.Components["mtcnp"] / medianE + 0.5 * r.Components["discrepancy"] / r.Components["scale_d"], r.Score!.Value, 10);
        }

        // the weight ratio sets lambda_d: lambda_e z_e + 2 lambda_e z_d
        var twice = series.First(r => r.Method == "iip lambda_d/lambda_e=2");
        Assert.Equal((twice.Components["mtcnp"] - twice.Components["center_e"]) / twice.Components["scale_e"]
                     + 2 * (twice.Components["discrepancy_term"] - twice.Components["center_d"]) / twice.Components["scale_d"], twice.Score!.Value, 10);

        // a rerun reuses the component records (nothing recomputed) and gives the same table
        var rerun = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", output,
            "--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "1", "--perturbation-noise", "1",
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2", "--sweep-guidance", "3", "--sweep-perturbation", "iterations=0",
            "--sweep-weights", "2", "--calibration-images", "2");
        Assert.Equal(0, rerun.ExitCode);
        Assert.Equal(25, ResultsReader.Read(Path.Combine(output, "ablation-components.jsonl")).Records.Count);  // 5 images x 5 configurations, once

        // records are reused by image and configuration tag, so other options in the same folder are refused, not mixed in
        var otherOptions = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", output,
            "--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "1", "--perturbation-noise", "1",
            "--sweep-inversion-steps", "2", "4", "--sweep-mtcnp-steps", "1", "2", "--similarity", "pixel-ssim");
        Assert.Equal(2, otherOptions.ExitCode);
        Assert.Contains("holds ablation results of another model or other options", otherOptions.Stderr);
        Assert.Equal(25, ResultsReader.Read(Path.Combine(output, "ablation-components.jsonl")).Records.Count);

        var badVariant = CliRunner.Run("ablate", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", manifest, "--out", Path.Combine(dir, "bad"),
            "--sweep-perturbation", "steps=3");
        Assert.Equal(2, badVariant.ExitCode);
        Assert.Contains("perturbation variant 'steps=3': unknown option 'steps'", badVariant.Stderr);
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
