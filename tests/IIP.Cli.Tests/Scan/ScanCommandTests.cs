using System.Text.Json;
using IIP.Detection.Scanning;

namespace IIP.Cli.Tests.Scan;

/// <summary>`iip scan` end to end on the testbed model (64x64 images, 8x8 latents) with a few images.</summary>
[Collection("Console")]
public class ScanCommandTests
{
    // Fewer IIP steps keep each image well under a second; the pipeline is the same.
    private static readonly string[] FastIip = ["--inversion-steps", "4", "--mtcnp-steps", "2", "--perturbation-iterations", "2", "--perturbation-noise", "1"];

    private static string Model => Path.Combine(TestPaths.Testbed, "model");

    private static string Manifest(string dir, params string[] images)
    {
        string path = Path.Combine(dir, "images.jsonl");
        File.WriteAllLines(path, images.Select(i => JsonSerializer.Serialize(new { image = i })));
        return path;
    }

    private static string Image(string relative) => Path.Combine(TestPaths.Testbed, relative);

    private static CliResult Scan(string images, string output, params string[] extra) =>
        CliRunner.Run(["scan", "--model", Model, "--images", images, "--out", output, .. FastIip, .. extra]);

    [Fact]
    public void Scores_every_image_with_every_method_and_writes_csv()
    {
        string dir = TestPaths.NewTempDir("scan");
        string images = Manifest(dir, Image("memorized/000000.png"), Image("heldout/000000.png"));
        string output = Path.Combine(dir, "results.jsonl");
        var result = Scan(images, output, "--method", "iip,iip-mtcnp,iip-similarity", "--calibration-images", "3");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.DoesNotContain("predicts v", result.Stderr);   // a noise-prediction model: no v-prediction note
        var records = ResultsReader.Read(output).Records;
        Assert.Equal(6, records.Count);
        Assert.All(records, r => Assert.Null(r.Error));
        Assert.All(records, r => Assert.True(double.IsFinite(r.Score!.Value)));
        Assert.All(records, r => Assert.Equal(4, r.Tcnp!.Length));   // one TCNP per regeneration step (t_I = 4)
        var iip = records.First(r => r.Method == "iip");
        // without --reference or --scale-*, the centres and scales are the self-calibration's robust z-scores, cached beside the results
        var calibration = JsonDocument.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(Path.Combine(dir, ".iip-cache"), "calibration-*.json")))).RootElement;
        double[] Values(string name) => calibration.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).Order().ToArray();
        var mtcnps = Values("mtcnp");
        Assert.Equal(3, mtcnps.Length);
        double median = mtcnps[1], mad = mtcnps.Select(v => Math.Abs(v - median)).Order().ElementAt(1);
        Assert.Equal(median, iip.Components["center_e"], 12);
        Assert.Equal(1.482602218505602 * mad, iip.Components["scale_e"], 12);
        Assert.Equal(Math.Log(Values("discrepancy")[1]), iip.Components["center_d"], 12);   // the median of ln d: ln of the median
        Assert.Equal(Math.Log(iip.Components["discrepancy"]), iip.Components["discrepancy_term"], 12);
        Assert.Contains("calibrated scales (robust-z", result.Stderr);
        // score = 1 (MTCNP - centre_e) / scale_e + 0.5 (+1)(ln(1 - similarity) - centre_d) / scale_d
        Assert.Equal((iip.Components["mtcnp"] - iip.Components["center_e"]) / iip.Components["scale_e"]
                     + 0.5 * (iip.Components["discrepancy_term"] - iip.Components["center_d"]) / iip.Components["scale_d"], iip.Score!.Value, 12);
        Assert.Equal(iip.Tcnp!.Skip(1).Take(2).Average(), iip.Components["mtcnp"], 12);   // the late window: the 2 steps before the last
        Assert.Equal(iip.Components["mtcnp"], records.First(r => r.Method == "iip-mtcnp" && r.Image == iip.Image).Score!.Value, 12);
        string csv = File.ReadAllText(Path.ChangeExtension(output, ".csv"));
        Assert.StartsWith("image,sha256,method,score", csv);
        Assert.Equal(7, csv.Trim().Split('\n').Length);
    }

    [Fact]
    public void Given_scales_or_no_calibration_skip_it_and_the_paper_preset_is_IIP_md()
    {
        string dir = TestPaths.NewTempDir("scan-scales");
        string images = Manifest(dir, Image("memorized/000001.png"));
        var one = Scan(images, Path.Combine(dir, "one.jsonl"), "--scale-e", "2");   // the other would be left unscaled
        Assert.Equal(2, one.ExitCode);
        Assert.Contains("--scale-e without --scale-d: give both", one.Stderr);
        var twoSources = Scan(images, Path.Combine(dir, "two.jsonl"), "--scale-e", "2", "--scale-d", "3", "--reference", images);
        Assert.Equal(2, twoSources.ExitCode);
        Assert.Contains("--scale-e/--scale-d and --reference both set the scales", twoSources.Stderr);
        var given = Scan(images, Path.Combine(dir, "given.jsonl"), "--scale-e", "2", "--scale-d", "3");
        Assert.True(given.ExitCode == 0, given.Stdout + given.Stderr);
        var iip = ResultsReader.Read(Path.Combine(dir, "given.jsonl")).Records.Single();
        Assert.Equal(2.0, iip.Components["scale_e"]);
        Assert.Equal(3.0, iip.Components["scale_d"]);
        Assert.Equal(0.0, iip.Components["center_e"]);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, ".iip-cache"), "calibration-*"));

        Assert.Equal(0, Scan(images, Path.Combine(dir, "none.jsonl"), "--calibration-images", "0").ExitCode);
        var unit = ResultsReader.Read(Path.Combine(dir, "none.jsonl")).Records.Single();
        Assert.Equal(unit.Components["mtcnp"] + 0.5 * Math.Log(unit.Components["discrepancy"]), unit.Score!.Value, 12);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, ".iip-cache"), "calibration-*"));

        // --preset paper: t_I 20 and no calibration; an option given explicitly still wins over the preset
        var paper = CliRunner.Run(["scan", "--model", Model, "--images", images, "--out", Path.Combine(dir, "paper.jsonl"), "--preset", "paper",
            "--perturbation-iterations", "1", "--perturbation-noise", "1"]);
        Assert.True(paper.ExitCode == 0, paper.Stdout + paper.Stderr);
        var record = ResultsReader.Read(Path.Combine(dir, "paper.jsonl")).Records.Single();
        Assert.Equal(20, record.Tcnp!.Length);
        Assert.Equal(1.0, record.Components["scale_e"]);
        Assert.Equal(0, CliRunner.Run(["scan", "--model", Model, "--images", images, "--out", Path.Combine(dir, "paper5.jsonl"), "--preset", "paper",
            "--inversion-steps", "5", "--mtcnp-steps", "5", "--perturbation-iterations", "1", "--perturbation-noise", "1"]).ExitCode);
        Assert.Equal(5, ResultsReader.Read(Path.Combine(dir, "paper5.jsonl")).Records.Single().Tcnp!.Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, ".iip-cache"), "calibration-*"));
    }

    [Fact]
    public void Baselines_score_beside_iip_and_ori_prompt_reads_captions()
    {
        string dir = TestPaths.NewTempDir("scan-baselines");
        string manifest = Path.Combine(dir, "images.jsonl");
        File.WriteAllLines(manifest, [
            JsonSerializer.Serialize(new { image = Image("memorized/000000.png"), caption = "a large blue ring at the bottom right on a pink and orange background" }),
            JsonSerializer.Serialize(new { image = Image("heldout/000000.png") }),
        ]);
        string output = Path.Combine(dir, "results.jsonl");
        var result = Scan(manifest, output, "--method", "denoising-loss,pia,secmi,ori-prompt", "--ori-seeds", "1", "--ori-steps", "2");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var records = ResultsReader.Read(output).Records;
        Assert.Equal(8, records.Count);
        foreach (var method in new[] { "denoising-loss", "pia", "secmi" })
            Assert.All(records.Where(r => r.Method == method), r => Assert.True(r.Score < 0, $"{method}: minus a loss, got {r.Score}"));
        var ori = records.Where(r => r.Method == "ori-prompt").ToList();
        Assert.True(ori[0].Score > 0);
        Assert.Contains("caption", ori[1].Error);   // the heldout line has no caption: recorded, not fatal
        Assert.Contains("1 failed", result.Stdout);
    }

    [Fact]
    public void A_batched_scan_gives_the_scores_of_an_image_by_image_scan()
    {
        string dir = TestPaths.NewTempDir("scan-batch");
        string images = Manifest(dir, Image("memorized/000002.png"), Image("heldout/000003.png"), Image("train_unique/000002.png"));
        string single = Path.Combine(dir, "single.jsonl"), batched = Path.Combine(dir, "batched.jsonl");
        Assert.Equal(0, Scan(images, single).ExitCode);
        var result = Scan(images, batched, "--batch", "3");
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var one = ResultsReader.Read(single).Records;
        var three = ResultsReader.Read(batched).Records;
        Assert.Equal(one.Select(r => r.Image), three.Select(r => r.Image));
        // batched products sum in another order: ~1e-6 relative on the components (IipBatchScoringTests measures it); the
        // score divides them by scales from the calibration's spread, so its error is 1e-5 of the scaled terms' size
        foreach (var (a, b) in one.Zip(three))
        {
            var c = a.Components;
            Assert.True(Math.Abs(c["mtcnp"] - b.Components["mtcnp"]) <= 1e-5 * c["mtcnp"], $"{a.Image}: MTCNP {c["mtcnp"]:R} vs {b.Components["mtcnp"]:R}");
            double size = Math.Abs(c["mtcnp"]) / c["scale_e"] + Math.Abs(c["discrepancy"]) / c["scale_d"];
            Assert.True(Math.Abs(a.Score!.Value - b.Score!.Value) <= 1e-5 * size, $"{a.Image}: {a.Score:R} vs {b.Score:R} (scaled terms {size:G4})");
        }
    }

    [Fact]
    public void A_batch_below_one_is_bad_input()
    {
        string dir = TestPaths.NewTempDir("scan-batch-0");
        var result = Scan(Manifest(dir, Image("heldout/000001.png")), Path.Combine(dir, "r.jsonl"), "--batch", "0");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--batch 0: must be at least 1", result.Stderr + result.Stdout);
    }

    [Fact]
    public void A_bad_image_is_recorded_and_the_scan_goes_on()
    {
        string dir = TestPaths.NewTempDir("scan-bad");
        string bad = Path.Combine(dir, "broken.png");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5]);
        string images = Manifest(dir, bad, Image("heldout/000001.png"), Path.Combine(dir, "missing.png"));
        string output = Path.Combine(dir, "results.jsonl");
        var result = Scan(images, output);
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var records = ResultsReader.Read(output).Records;
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.Equal("iip", r.Method));   // without --method a noise-prediction model gets iip alone
        Assert.Contains("broken.png", records[0].Error);
        Assert.Null(records[0].Score);
        Assert.Null(records[1].Error);
        Assert.Contains("missing.png", records[2].Error);
        Assert.Contains("2 failed", result.Stdout);
    }

    [Fact]
    public void A_scan_in_which_every_image_failed_exits_1_keeping_its_records()
    {
        string dir = TestPaths.NewTempDir("scan-all-bad");
        string bad = Path.Combine(dir, "broken.png");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5]);
        string output = Path.Combine(dir, "results.jsonl");
        var result = Scan(Manifest(dir, bad, Path.Combine(dir, "missing.png")), output);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: every one of the 2 records is an error", result.Stderr);
        Assert.Contains("broken.png", result.Stderr);
        Assert.Equal(2, ResultsReader.Read(output).Records.Count);
    }

    [Fact]
    public void Retry_errors_scores_again_the_images_whose_records_carry_an_error()
    {
        string dir = TestPaths.NewTempDir("scan-retry");
        string fixedLater = Path.Combine(dir, "fixed-later.png");
        File.WriteAllBytes(fixedLater, [1, 2, 3]);
        string images = Manifest(dir, fixedLater, Image("heldout/000001.png"));
        string output = Path.Combine(dir, "results.jsonl");
        Assert.Equal(0, Scan(images, output).ExitCode);

        // a plain rerun keeps the error while the file is the same (errors are final) ...
        var plain = Scan(images, output);
        Assert.Contains("2 images already done", plain.Stdout);
        Assert.Equal(2, ResultsReader.Read(output).Records.Count);

        // ... --retry-errors tries it again (a failure that may have passed) and appends its new record
        var retry = Scan(images, output, "--retry-errors");
        Assert.True(retry.ExitCode == 0, retry.Stdout + retry.Stderr);
        Assert.Contains("1 records written, 1 images already done, 1 failed", retry.Stdout);
        Assert.Equal(3, ResultsReader.Read(output).Records.Count);

        // ... and a file fixed since is scored again by a plain rerun: its contents are not those its error was recorded for
        File.Copy(Image("heldout/000002.png"), fixedLater, overwrite: true);
        var fixedRun = Scan(images, output);
        Assert.True(fixedRun.ExitCode == 0, fixedRun.Stdout + fixedRun.Stderr);
        Assert.Contains("1 records written, 1 images already done, 0 failed", fixedRun.Stdout);
        var records = ResultsReader.Read(output).Records;
        Assert.Equal(4, records.Count);
        Assert.Equal(fixedLater, records[0].Image);
        Assert.NotNull(records[0].Error);
        Assert.NotNull(records[2].Error);   // the retry of the unchanged file failed again
        Assert.Equal(fixedLater, records[3].Image);
        Assert.Null(records[3].Error);
        Assert.NotNull(records[3].Score);
        // the CSV copy holds what the results say now: one row per image, the retried one without its old error
        var csv = File.ReadAllLines(Path.ChangeExtension(output, ".csv"));
        Assert.Equal(3, csv.Length);
        int errorColumn = Array.IndexOf(csv[0].Split(','), "error");
        var row = Assert.Single(csv, line => line.StartsWith(fixedLater + ",", StringComparison.Ordinal));
        Assert.Equal("", row.Split(',')[errorColumn]);
    }

    [Fact]
    public void A_rerun_skips_what_is_done_and_a_seed_repeats_to_the_bit()
    {
        string dir = TestPaths.NewTempDir("scan-resume");
        string images = Manifest(dir, Image("memorized/000001.png"), Image("heldout/000002.png"));
        string first = Path.Combine(dir, "first.jsonl");
        Assert.Equal(0, Scan(images, first, "--seed", "7", "--limit", "1").ExitCode);
        Assert.Single(ResultsReader.Read(first).Records);

        // simulate a crash in the middle of writing the second record, then rerun with the same arguments
        File.AppendAllText(first, "{\"image\":\"half a rec");
        var rerun = Scan(images, first, "--seed", "7");
        Assert.True(rerun.ExitCode == 0, rerun.Stdout + rerun.Stderr);
        var records = ResultsReader.Read(first).Records;
        Assert.Equal(2, records.Count);
        Assert.Contains("1 images already done", rerun.Stdout);

        // a fresh scan with the same seed gives bit-identical scores (the perturbation embedding comes from the shared cache or is recomputed identically)
        string second = Path.Combine(TestPaths.NewTempDir("scan-resume-2"), "second.jsonl");
        Assert.Equal(0, Scan(images, second, "--seed", "7").ExitCode);
        var again = ResultsReader.Read(second).Records;
        Assert.Equal(records.Select(r => r.Score), again.Select(r => r.Score));
        Assert.Equal(records.SelectMany(r => r.Tcnp!), again.SelectMany(r => r.Tcnp!));
    }

    [Fact]
    public void Unknown_method_and_missing_images_are_bad_input()
    {
        string dir = TestPaths.NewTempDir("scan-errors");
        var unknown = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--method", "nonsense");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("nonsense", unknown.Stderr);
        var missing = Scan(Path.Combine(dir, "nope"), Path.Combine(dir, "r.jsonl"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope", missing.Stderr);
    }

    [Fact]
    public void Onnx_embedding_similarity_and_embedding_model_need_each_other()
    {
        string dir = TestPaths.NewTempDir("scan-onnx-options");
        var noModel = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--similarity", "onnx-embedding");
        Assert.Equal(2, noModel.ExitCode);
        Assert.Contains("--embedding-model", noModel.Stderr);
        var noSimilarity = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--embedding-model", Path.Combine(dir, "e.onnx"));
        Assert.Equal(2, noSimilarity.ExitCode);
        Assert.Contains("--similarity onnx-embedding", noSimilarity.Stderr);
        var missing = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--similarity", "onnx-embedding", "--embedding-model", Path.Combine(dir, "absent.onnx"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("absent.onnx: file not found", missing.Stderr);
    }

    [Theory]
    [InlineData("--embedding-mean", "0.5,0.5", "needs 3 comma-separated values")]
    [InlineData("--embedding-mean", "0.5,0.5,0.5,0.5", "needs 3 comma-separated values")]
    [InlineData("--embedding-mean", "0.5;0.5;0.5", "needs 3 comma-separated values")]
    [InlineData("--embedding-mean", "0.5,red,0.5", "'red' is not a finite number")]
    [InlineData("--embedding-mean", "0.5,NaN,0.5", "'NaN' is not a finite number")]
    [InlineData("--embedding-std", "0.2,0,0.2", "0 must be positive")]
    [InlineData("--embedding-std", "0.2,-0.1,0.2", "-0.1 must be positive")]
    [InlineData("--embedding-std", "0,2,0,2,0,2", "needs 3 comma-separated values")]   // decimal commas
    public void Bad_embedding_normalization_is_bad_input_naming_the_option(string option, string value, string problem)
    {
        string dir = TestPaths.NewTempDir("scan-onnx-norm");
        string embedder = Path.Combine(dir, "mean.onnx");
        File.WriteAllBytes(embedder, TinyOnnxModel.MeanEmbedder(32, 32));
        var result = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--similarity", "onnx-embedding", "--embedding-model", embedder, option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{option} '{value}'", result.Stderr);
        Assert.Contains(problem, result.Stderr);
    }

    [Theory]
    [InlineData("--embedding-mean", "0.48145466,0.4578275,0.40821073")]
    [InlineData("--embedding-std", "0.26862954,0.26130258,0.27577711")]
    public void Embedding_normalization_without_onnx_embedding_is_bad_input(string option, string value)
    {
        string dir = TestPaths.NewTempDir("scan-onnx-norm");
        foreach (var similarity in new[] { "latent-cosine", "pixel-ssim" })
        {
            var result = Scan(Image("heldout"), Path.Combine(dir, "r.jsonl"), "--similarity", similarity, option, value);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains($"{option} is only used with --similarity onnx-embedding", result.Stderr);
        }
    }

    [Fact]
    public void Onnx_embedding_similarity_scans_with_a_hand_written_model()
    {
        string dir = TestPaths.NewTempDir("scan-onnx");
        string embedder = Path.Combine(dir, "mean.onnx");
        File.WriteAllBytes(embedder, TinyOnnxModel.MeanEmbedder(32, 32));
        string output = Path.Combine(dir, "results.jsonl");
        var result = Scan(Manifest(dir, Image("heldout/000000.png")), output, "--method", "iip", "--similarity", "onnx-embedding", "--embedding-model", embedder);
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        var record = ResultsReader.Read(output).Records.Single();
        Assert.Null(record.Error);
        double similarity = record.Components["similarity"];
        Assert.True(similarity is > -1 and < 1, $"similarity {similarity}");
        Assert.Equal(1 - similarity, record.Components["discrepancy"], 15);

        // CLIP's normalization reaches the embedder: another similarity, under another options key
        string clipOutput = Path.Combine(dir, "results-clip.jsonl");
        var clip = Scan(Manifest(dir, Image("heldout/000000.png")), clipOutput, "--method", "iip", "--similarity", "onnx-embedding", "--embedding-model", embedder,
            "--embedding-mean", "0.48145466,0.4578275,0.40821073", "--embedding-std", "0.26862954, 0.26130258, 0.27577711");
        Assert.True(clip.ExitCode == 0, clip.Stdout + clip.Stderr);
        var clipRecord = ResultsReader.Read(clipOutput).Records.Single();
        Assert.Null(clipRecord.Error);
        Assert.NotEqual(record.Options, clipRecord.Options);
        Assert.True(Math.Abs(clipRecord.Components["similarity"] - similarity) > 1e-6, $"ImageNet {similarity:R} vs CLIP {clipRecord.Components["similarity"]:R}");
    }
}
