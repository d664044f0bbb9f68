using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Cli.Tests.Golden;

/// <summary>`iip golden` on both checkpoint layouts of tiny-sd: every case of the README must pass, none may be skipped.</summary>
[Collection("Console")]
public class GoldenCommandTests
{
    // every case data/golden/README.md defines, as printed by the command
    private static readonly string[] AllCases =
    [
        "tokenizer", "text_encoder.hidden", "scheduler.timesteps50", "scheduler.alphas_cumprod",
        "unet.eps.t981", "unet.eps.t501", "unet.eps.t1", "vae.mean", "vae.logvar", "vae.decoded", "ddim.step.t501",
        "inversion.start", "inversion.latents", "regen.latent", "regen.tcnp", "regen.image", "txt2img.latent", "txt2img.tcnp",
        "grad.loss", "grad.dctx", "optim.losses", "optim.ctx",
    ];

    [Fact]
    public void Diffusers_folder_passes_every_case() =>
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", TestPaths.GoldenTensors));

    [Fact]
    public void Single_file_ldm_fp16_passes_every_case() =>
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySdLdm, "--golden", TestPaths.GoldenTensors,
            "--tokenizer", Path.Combine(TestPaths.TinySdDiffusers, "tokenizer")));

    [Fact]
    public void A_wrong_reference_fails_with_exit_code_1()
    {
        // Copy the golden file with unet.eps.t1 shifted by 1e-3 at one element: 1e-3 exceeds the forward
        // tolerance 1e-4 * max|ref| + 1e-5 (max|ref| is about 1.4), so the case must FAIL.
        string dir = TestPaths.NewTempDir("golden-bad");
        string path = Path.Combine(dir, "golden.safetensors");
        using (var golden = SafetensorsFile.Open(TestPaths.GoldenTensors))
        {
            var tensors = golden.Names.Select(name =>
            {
                var t = golden.Load(name);
                if (name == "unet.eps.t1") t.Data[17] += 1e-3f;
                return new KeyValuePair<string, Tensor>(name, t);
            }).ToList();
            SafetensorsWriter.Write(path, tensors, WeightDType.F32);
        }
        var result = CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", path, "--only", "unet.eps.t1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAIL     unet.eps.t1", result.Stdout);
        Assert.Contains("[17]", result.Stdout);
        Assert.Contains("0 passed, 1 failed", result.Stdout);
    }

    [Fact]
    public void Device_cuda_runs_on_the_gpu_or_falls_back_to_the_cpu_saying_why()
    {
        var result = CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", TestPaths.GoldenTensors, "--only", "scheduler.", "--device", "cuda");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        if (IIP.Engine.Backends.Cuda.CudaBackend.TryCreate(out string reason) is { } gpu)
        {
            gpu.Dispose();
            Assert.Contains("backend cuda", result.Stdout);
        }
        else
        {
            Assert.Contains($"--device cuda unavailable ({reason}); running on the CPU", result.Stderr);
            Assert.Contains("backend cpu", result.Stdout);
        }
        var bad = CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", TestPaths.GoldenTensors, "--device", "tpu");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--device 'tpu'", bad.Stderr);
    }

    [Fact]
    public void A_missing_model_is_bad_input()
    {
        var result = CliRunner.Run("golden", "--model", "/nonexistent/model", "--golden", TestPaths.GoldenTensors);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("/nonexistent/model", result.Stderr);
    }

    private static void AssertAllPass(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var lines = result.Stdout.Split('\n');
        foreach (var name in AllCases)
            Assert.Contains(lines, l => l.StartsWith("PASS") && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == name);
        Assert.DoesNotContain("NOT RUN", result.Stdout);
        Assert.Contains($"{AllCases.Length} passed, 0 failed, 0 not run", result.Stdout);
    }
}
