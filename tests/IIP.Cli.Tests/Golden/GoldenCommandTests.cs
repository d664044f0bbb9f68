using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Cli.Tests.Golden;

/// <summary>
/// `iip golden` on both checkpoint layouts of tiny-sd (SD v1) and tiny-sd2 (SD 2.x conventions): every case of the README
/// must pass, none may be skipped.
/// </summary>
[Collection("Console")]
public class GoldenCommandTests
{
    // every case data/golden/README.md defines, as printed by the command
    // the 22 cases the golden README names: the specification the runner's own list is checked against below
    private static readonly string[] AllCases =
    [
        "tokenizer", "text_encoder.hidden", "scheduler.timesteps50", "scheduler.alphas_cumprod",
        "unet.eps.t981", "unet.eps.t501", "unet.eps.t1", "vae.mean", "vae.logvar", "vae.decoded", "ddim.step.t501",
        "inversion.start", "inversion.latents", "regen.latent", "regen.tcnp", "regen.image", "txt2img.latent", "txt2img.tcnp",
        "grad.loss", "grad.dctx", "optim.losses", "optim.ctx",
    ];

    [Fact]
    public void The_runner_reports_the_cases_of_the_golden_readme_in_its_order() =>
        Assert.Equal(AllCases, IIP.Detection.Golden.GoldenRunner.CaseNames);

    [Fact]
    public void Diffusers_folder_passes_every_case() =>
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", TestPaths.GoldenTensors));

    [Fact]
    public void Single_file_ldm_fp16_passes_every_case() =>
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySdLdm, "--golden", TestPaths.GoldenTensors,
            "--tokenizer", Path.Combine(TestPaths.TinySdDiffusers, "tokenizer")));

    [Fact]
    public void Sd2_diffusers_folder_passes_every_case() =>
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySd2Diffusers, "--golden", TestPaths.Golden2Tensors));

    [Fact]
    public void Sd2_single_file_passes_every_case_with_the_configs_it_cannot_carry() =>
        // tiny-sd2's head counts (head size 16) are not SD 2.x's head size 64 that the loader infers, and no single file
        // records v-prediction: both come from the configs of its diffusers copy
        AssertAllPass(CliRunner.Run("golden", "--model", TestPaths.TinySd2Ldm, "--golden", TestPaths.Golden2Tensors,
            "--tokenizer", Path.Combine(TestPaths.TinySd2Diffusers, "tokenizer"), "--model-config", TestPaths.TinySd2Diffusers));

    [Fact]
    public void An_sd2_single_file_without_its_prediction_type_is_refused_saying_what_to_give()
    {
        // a config folder with the UNet's and the text encoder's configs but no scheduler: the prediction type is unknown
        string dir = TestPaths.NewTempDir("sd2-configs");
        foreach (string part in new[] { "unet", "text_encoder" })
        {
            Directory.CreateDirectory(Path.Combine(dir, part));
            File.Copy(Path.Combine(TestPaths.TinySd2Diffusers, part, "config.json"), Path.Combine(dir, part, "config.json"));
        }
        var result = CliRunner.Run("golden", "--model", TestPaths.TinySd2Ldm, "--golden", TestPaths.Golden2Tensors, "--model-config", dir);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("does not record whether its UNet predicts the noise or v", result.Stderr);
        Assert.Contains("--prediction-type v_prediction", result.Stderr);
        // with the prediction type given, the same run computes (only the fast cases here)
        var given = CliRunner.Run("golden", "--model", TestPaths.TinySd2Ldm, "--golden", TestPaths.Golden2Tensors, "--model-config", dir,
            "--prediction-type", "v_prediction", "--only", "unet.", "ddim.");
        Assert.True(given.ExitCode == 0, given.Stdout + given.Stderr);
        Assert.Contains("4 passed, 0 failed", given.Stdout);
    }

    [Fact]
    public void A_model_this_build_cannot_load_reports_every_case_not_run_with_the_reason()
    {
        // tiny-sd2 with a prediction type the engine does not sample
        string model = Path.Combine(TestPaths.NewTempDir("golden-unsupported"), "model");
        foreach (string file in Directory.EnumerateFiles(TestPaths.TinySd2Diffusers, "*", SearchOption.AllDirectories))
        {
            string copy = Path.Combine(model, Path.GetRelativePath(TestPaths.TinySd2Diffusers, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
        string scheduler = Path.Combine(model, "scheduler", "scheduler_config.json");
        File.WriteAllText(scheduler, File.ReadAllText(scheduler).Replace("\"v_prediction\"", "\"sample\""));
        var result = CliRunner.Run("golden", "--model", model, "--golden", TestPaths.Golden2Tensors);
        Assert.Equal(2, result.ExitCode);
        var lines = result.Stdout.Split('\n');
        foreach (var name in AllCases)
            Assert.Contains(lines, l => l.StartsWith("NOT RUN") && l.Contains($" {name} ") && l.Contains("prediction_type 'sample' is not supported"));
        Assert.Contains($"0 passed, 0 failed, {AllCases.Length} not run", result.Stdout);
        Assert.Contains("error: scheduler prediction_type 'sample' is not supported", result.Stderr);
    }

    [Fact]
    public void A_case_that_throws_is_an_error_that_fails_the_run_and_the_others_still_run()
    {
        // unet.x with 3 channels where the UNet takes 4: the UNet cases cannot be computed, the scheduler's still are
        string path = Path.Combine(TestPaths.NewTempDir("golden-bad-input"), "golden.safetensors");
        using (var golden = SafetensorsFile.Open(TestPaths.GoldenTensors))
        {
            var tensors = golden.Names.Select(name =>
            {
                var t = golden.Load(name);
                if (name == "unet.x") t = new Tensor([t.Shape[0], 3, t.Shape[2], t.Shape[3]]);
                return new KeyValuePair<string, Tensor>(name, t);
            }).ToList();
            SafetensorsWriter.Write(path, tensors, WeightDType.F32);
        }
        var result = CliRunner.Run("golden", "--model", TestPaths.TinySdDiffusers, "--golden", path, "--only", "unet.", "scheduler.");
        Assert.Equal(1, result.ExitCode);   // a case that cannot be computed is no pass
        Assert.Equal(3, result.Stdout.Split('\n').Count(l => l.StartsWith("ERROR    unet.eps.t") && l.Contains("ArgumentException")));
        Assert.Contains("2 passed, 0 failed, 0 not run, 3 errors", result.Stdout);
    }

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
