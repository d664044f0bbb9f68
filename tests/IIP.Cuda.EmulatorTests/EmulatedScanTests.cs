using System.Text.Json;
using IIP.Cli.Tests;
using IIP.TestSupport;
using IIP.Engine.Tests.Cuda;

namespace IIP.Cuda.EmulatorTests;

/// <summary>
/// `iip scan --device cuda` end to end with the kernels on the emulator: the CLI's device path (the backend, the model on
/// the device, graph-replayed inversion, the batched guided regeneration, records) against the same scan on the CPU.
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class EmulatedScanTests
{
    [Fact]
    public void AScanOnTheCudaBackendScoresAsTheCpuScanDoes()
    {
        _ = EmulatedBackend.Instance;  // binds the emulator before the CLI looks for a GPU
        string dir = TestPaths.NewTempDir("emulated-scan");
        string list = Path.Combine(dir, "images.txt");
        File.WriteAllLines(list, [Path.Combine(TestPaths.Testbed, "memorized", "000003.png"), Path.Combine(TestPaths.Testbed, "heldout", "000004.png")]);
        string model = Path.Combine(TestPaths.Testbed, "model"), cache = Path.Combine(dir, "cache");
        // no self-calibration: 16 generated images would take the emulator hours, and the device path is what is checked
        string[] common = ["scan", "--model", model, "--images", list, "--inversion-steps", "4", "--mtcnp-steps", "2", "--calibration-images", "0", "--cache-dir", cache];

        // the CPU scan optimizes the perturbation embedding (minutes on the emulator) and caches it; the CUDA scan reads it
        var cpu = CliRunner.Run([.. common, "--out", Path.Combine(dir, "cpu.jsonl")]);
        Assert.True(cpu.ExitCode == 0, cpu.Stderr);
        var cuda = CliRunner.Run([.. common, "--out", Path.Combine(dir, "cuda.jsonl"), "--device", "cuda", "--batch", "2"]);
        Assert.True(cuda.ExitCode == 0, cuda.Stderr);
        Assert.DoesNotContain("unavailable", cuda.Stderr);

        var expected = Scores(Path.Combine(dir, "cpu.jsonl"));
        var actual = Scores(Path.Combine(dir, "cuda.jsonl"));
        Assert.Equal(2, expected.Count);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (image, score) in expected)
        {
            // fp16 storage of every activation through 4 inversion and 4 guided steps: 1.0% and 0.24% apart (2026-11-29, the
            // emulator is deterministic, MTCNP over the first 2 steps); bound 3%, 3x the larger
            Assert.True(Math.Abs(actual[image] - score) <= 0.03 * Math.Abs(score), $"{image}: cuda {actual[image]:R}, cpu {score:R}");
        }
        Assert.NotEqual(actual.Values.First(), actual.Values.Last());  // two images, two scores: nothing mixed up
    }

    [Fact]
    public void ASamplingLoopOnTheGpuCopiesNoMoreToTheHostWhenItHasMoreSteps()
    {
        _ = EmulatedBackend.Instance;
        string dir = TestPaths.NewTempDir("emulated-scan-stats");
        string list = Path.Combine(dir, "images.txt");
        File.WriteAllLines(list, new[] { "000003.png", "000004.png", "000005.png" }.Select((name, i) => Path.Combine(TestPaths.Testbed, i == 0 ? "memorized" : "heldout", name)));
        string model = Path.Combine(TestPaths.Testbed, "model");
        // the start embedding (0 iterations) and no calibration: the loops are what is counted
        string[] common = ["scan", "--model", model, "--images", list, "--device", "cuda", "--stats", "--mtcnp-steps", "1",
            "--perturbation-iterations", "0", "--calibration-images", "0", "--cache-dir", Path.Combine(dir, "cache")];

        var (copies2, launches2, finalized2) = Counts(CliRunner.Run([.. common, "--inversion-steps", "2", "--out", Path.Combine(dir, "steps2.jsonl")]));
        var (copies4, launches4, finalized4) = Counts(CliRunner.Run([.. common, "--inversion-steps", "4", "--out", Path.Combine(dir, "steps4.jsonl")]));

        // 2 inversion + 2 regeneration steps against 4 + 4: the latents stay on the device, so the host copies per image
        // (the image in, the latent and TCNP values out, the loop's contexts in) are the same; the launches are not
        Assert.Equal(copies2, copies4);
        Assert.True(copies2 > 0 && copies2 < 20, $"{copies2} host-device copies per image");
        Assert.True(launches4 > launches2, $"launches per image: {launches2} at 2 steps, {launches4} at 4");
        // every pooled buffer of the scan (text encoder, VAE, sampling loops, op scratch) went back by a scope or a release:
        // none was left for a finalizer to find (31 before the loops, the VAE and the text encoder released theirs)
        Assert.Equal(0, finalized2);
        Assert.Equal(0, finalized4);
    }

    // the per-image figures of `iip scan --stats` and its count of buffers left to the finalizer
    private static (double Copies, double Launches, double Finalized) Counts(CliResult run)
    {
        Assert.True(run.ExitCode == 0, run.Stderr);
        double Read(string prefix)
        {
            string line = run.Stdout.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
            return double.Parse(line[prefix.Length..].Split(' ', 2)[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        return (Read("host-device copies per image: "), Read("kernel launches per image: "), Read("device buffers left to the finalizer: "));
    }

    private static Dictionary<string, double> Scores(string results) =>
        File.ReadLines(results).Select(line => JsonDocument.Parse(line).RootElement)
            .ToDictionary(r => r.GetProperty("image").GetString()!, r => r.GetProperty("score").GetDouble());
}
