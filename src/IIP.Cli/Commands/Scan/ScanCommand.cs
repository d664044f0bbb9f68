using System.CommandLine;
using IIP.Detection.Methods;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Scanning;
using IIP.Engine.Imaging;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Scan;

/// <summary>`iip scan`: score every image of a folder, list or manifest with one or more methods; resumable.</summary>
public static class ScanCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "SD v1.x or 2.x model: a diffusers folder, a single-file .safetensors checkpoint or a packed .iipw file", Required = true };
        var images = new Option<string>("--images") { Description = "a folder of images, a text file with one path per line, or a JSONL manifest with \"image\" (and \"caption\") per line", Required = true };
        var output = new Option<string>("--out") { Description = "results file (JSONL, one line per image and method); rerunning with the same arguments resumes it", Required = true };
        var methods = new Option<string[]>("--method")
        {
            Description = "detection methods (repeat or comma-separate): " + MethodFactory.Describe() +
                          $". Default: {string.Join(",", DefaultMethods(predictsVelocity: false))} on a noise-prediction model (SD v1, SD 2.x base); " +
                          $"{string.Join(",", DefaultMethods(predictsVelocity: true))} on a v-prediction model (SD 2.x 768-v), where iip was " +
                          "measured weak and the fit gain strong (docs/detection.md, \"A v-model default\"); iip alone with --preset paper",
            AllowMultipleArgumentsPerToken = true,
        };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (vocab.json, merges.txt) for single-file checkpoints" };
        var seed = new Option<int>("--seed") { Description = "seed of every random draw (noise latents); the same seed gives bit-identical CPU results", DefaultValueFactory = _ => 0 };
        var csv = new Option<string?>("--csv") { Description = "also write the results as CSV here (default: the results path with .csv)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "where the perturbation embedding is cached (default: beside the results file)" };
        var limit = new Option<int?>("--limit") { Description = "score at most this many images (the first ones)" };
        var batch = new Option<int>("--batch")
        {
            Description = "images scored together by methods that batch (iip): one UNet call of batch N per inversion step, 2N per " +
                          "regeneration step; for GPU throughput, and on the CPU for small latents. Scores equal batch 1's up to float rounding",
            DefaultValueFactory = _ => 1,
        };
        batch.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError($"--batch {result.GetValueOrDefault<int>()}: must be at least 1");
        });
        var fresh = new Option<bool>("--fresh")
        {
            Description = "start a new results file when --out holds the scores of another model: the old results and CSV are moved " +
                          "aside to NAME.TIMESTAMP.bak (without it such a scan is refused)",
        };
        var retryErrors = new Option<bool>("--retry-errors")
        {
            Description = "score again the images whose earlier records carry an error (an image fixed since, a failure that has passed); " +
                          "the new records follow the old ones in the results, and readers take the later one",
        };
        var stats = new Option<bool>("--stats")
        {
            Description = "print the CUDA driver calls per scored image when the scan ends: `host-device copies per image: N` and " +
                          "`kernel launches per image: N` (a sampling loop keeps its latents on the GPU, so copies do not grow with the steps)",
        };
        var shard = new Option<string?>("--shard")
        {
            Description = "scan one part of the input, for a cluster job: I/N is task I of N (0-based), auto reads the task from a Slurm " +
                          "job array (SLURM_ARRAY_TASK_ID, of SLURM_ARRAY_TASK_COUNT tasks) and auto/N from a Kubernetes Indexed Job " +
                          "(JOB_COMPLETION_INDEX, of N). Every image belongs to exactly one task (by a hash of its identifier); each task " +
                          "writes NAME.shard-III-of-NNN.jsonl beside --out and resumes on its own; `iip merge` combines them",
        };
        var device = DeviceOption.Create();
        var configs = new ModelConfigOptions();
        var iip = new IipOptionSet();
        var baselines = new BaselineOptionSet();
        var command = new Command("scan",
            "Score images for memorization. Writes one JSON line per (image, method): image, path, model, sha256, method, score " +
            "(higher = more likely memorized), components, tcnp, seconds, error. A bad image is recorded with its error and the scan " +
            "goes on. Resuming: run the same command again and it skips what is done (errors included, unless --retry-errors); a " +
            "record is reused only for the same model, method, options and image contents (an image replaced in place is scored " +
            "again). A second scan into the same --out while one runs fails at once. If the GPU itself fails (out of memory, a lost " +
            "context) the scan stops with exit code 3, keeping what it wrote; Ctrl-C or a kill loses at most the image in progress.")
        {
            model, images, output, methods, tokenizer, seed, csv, cacheDir, limit, batch, retryErrors, fresh, stats, shard, device,
        };
        configs.AddTo(command);
        iip.AddTo(command);
        baselines.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var settings = new ScanSettings(parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(output)!,
                parse.GetValue(methods) is { Length: > 0 } named ? MethodFactory.ParseNames(named) : null, parse.GetValue(tokenizer), parse.GetValue(seed),
                parse.GetValue(csv), parse.GetValue(cacheDir), parse.GetValue(limit), iip.Read(parse, parse.GetValue(seed)), parse.GetValue(iip.Reference),
                baselines.Read(parse, parse.GetValue(seed)), parse.GetValue(device)!, parse.GetValue(batch), parse.GetValue(retryErrors),
                iip.ScalesGiven(parse), parse.GetValue(fresh), parse.GetValue(stats),
                parse.GetValue(shard) is { } text ? ShardOption.Parse(text) : ScanShard.Whole, configs.Read(parse),
                parse.GetValue(iip.PresetOption) == IipPreset.Paper);
            return Run(settings);
        }));
        return command;
    }

    /// <summary>What `iip scan` runs; <paramref name="Methods"/> null: <see cref="DefaultMethods"/> for the model (and the preset).</summary>
    public sealed record ScanSettings(string Model, string Images, string Out, IReadOnlyList<string>? Methods, string? Tokenizer, int Seed,
        string? Csv, string? CacheDir, int? Limit, IipOptions Iip, string? Reference, BaselineSettings Baselines, string Device = "cpu",
        int Batch = 1, bool RetryErrors = false, bool ScalesGiven = false, bool Fresh = false, bool Stats = false, ScanShard? Shard = null,
        CheckpointOverrides? Overrides = null, bool PaperPreset = false);

    public static int Run(ScanSettings s)
    {
        var progress = new ConsoleProgress();
        var listing = ScanSource.Walk(s.Images);
        foreach (string warning in listing.Warnings) Console.Error.WriteLine($"warning: {warning}");
        int unsupported = listing.Items.Count(i => i.Unsupported is not null);
        if (unsupported > 0)
            Console.Error.WriteLine($"note: {unsupported} files are images in formats the decoder cannot read (WebP, TIFF, ...): each is recorded as an error; convert them to PNG or JPEG");
        var items = SameFileOnce(listing.Items);
        if (items.Count == 0) throw new ArgumentException($"{s.Images}: no images found");
        var shard = s.Shard ?? ScanShard.Whole;
        if (shard.Count > 1)
        {
            int listed = items.Count;
            items = items.Where(i => shard.Contains(i.Image)).ToList();
            s = s with { Out = shard.ResultsPath(s.Out), Csv = s.Csv is { } csvGiven ? shard.ResultsPath(csvGiven) : null };
            Console.Error.WriteLine($"shard {shard}: {items.Count} of the {listed} images -> {s.Out}");
            if (items.Count == 0)
            {
                // an empty results file: merge tells this task's part (none) from a task that never ran
                if (!File.Exists(s.Out))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(s.Out))!);
                    File.WriteAllText(s.Out, "");
                }
                Console.WriteLine($"shard {shard}: no images fall to this task; nothing to do ({s.Out} left empty)");
                return CliErrors.Ok;
            }
        }
        if (s.Limit is { } limit) items = items.Take(limit).ToList();
        string csvPath = s.Csv ?? Path.ChangeExtension(s.Out, ".csv");
        ResultsFileGuard.CheckPaths(s.Out, csvPath);   // before anything is written

        using var checkpoint = StableDiffusionCheckpoint.Open(s.Model, s.Tokenizer, overrides: s.Overrides);
        progress.Report("fingerprinting the model (results and caches are keyed by its content)...");
        string fingerprint = ModelFingerprint.Compute(checkpoint, s.Overrides);
        using var fileLock = ResultsLock.Acquire(s.Out);
        foreach (string moved in ResultsFileGuard.RequireModel(s.Out, csvPath, s.Model, fingerprint[..16], s.Fresh))
            Console.Error.WriteLine($"--fresh: moved the results of another model aside to {moved}");

        var model = new StableDiffusion(checkpoint, DeviceOption.Select(s.Device), Program.Engine);
        var methods = s.Methods ?? DefaultMethods(model.Scheduler.PredictsVelocity, s.PaperPreset);
        int size = model.NativeImageSize;
        Console.Error.WriteLine($"model {s.Model} ({checkpoint.Layout}, fingerprint {fingerprint[..16]}), native {size}x{size}, backend {model.Backend.Name}; {items.Count} images; " +
                                $"methods {string.Join(", ", methods)}{(s.Methods is null ? $" (the default for a {(model.Scheduler.PredictsVelocity ? "v" : "noise")}-prediction model{(s.PaperPreset ? " under --preset paper" : "")})" : "")}");
        if (VPredictionNote(model, methods) is { } vNote) Console.Error.WriteLine(vNote);

        using var writer = ResultsWriter.Open(s.Out, fileLock);
        if (writer.RepairNote is { } note) Console.Error.WriteLine(note);
        var done = ResumeSet.Load(s.Out, s.RetryErrors);

        Func<string, IIP.Engine.Tensors.Tensor> load = path => ScanContent.LoadImage(path, size);
        string cacheDir = s.CacheDir ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(s.Out))!, ".iip-cache");
        var detectors = MethodFactory.Create(methods, model, fingerprint, s.Iip, s.Baselines, cacheDir, s.Reference, load, progress, s.ScalesGiven);

        ScanSummary summary;
        using var interrupt = new ScanInterrupt();
        var callStats = s.Stats ? new ScanCallStats(progress) : null;   // counts from here: the scoring, not the model's load or calibration
        try
        {
            summary = new Scanner(detectors, load, s.Seed, s.Batch, fingerprint[..16], model.Backend.Name).Run(items, writer, done, (IProgress<ScanProgress>?)callStats ?? progress, interrupt.Token);
        }
        catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
        {
            writer.Dispose();
            var kept = ResultsReader.Read(s.Out).Records;
            ResultsCsv.Write(ResultsCsv.Latest(kept), csvPath);
            Console.Error.WriteLine($"interrupted ({interrupt.Reason}): the {kept.Count} records in {s.Out} are kept; run the same command again to resume");
            return CliErrors.Interrupted;
        }
        catch (ScanDeviceException e)
        {
            writer.Dispose();
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine($"the {ResultsReader.Read(s.Out).Records.Count} records in {s.Out} are kept; run the same command again to " +
                                    "resume from this image" + (s.Batch > 1 ? " (with a smaller --batch if the GPU ran out of memory)" : ""));
            return CliErrors.DeviceFailed;
        }
        writer.Dispose();

        var all = ResultsReader.Read(s.Out).Records;
        ResultsCsv.Write(ResultsCsv.Latest(all), csvPath);   // one row per (image, method): the latest
        Console.WriteLine($"{summary.Images} images: {summary.Written} records written, {summary.Skipped} images already done, " +
                          $"{summary.Failed} failed{(unsupported > 0 ? $" ({unsupported} files in formats the decoder cannot read)" : "")}, in {ConsoleProgress.Format(summary.Elapsed)}");
        Console.WriteLine($"results: {s.Out} ({all.Count} records), {csvPath}");
        foreach (string line in callStats?.Lines() ?? []) Console.WriteLine(line);
        if (summary.Written > 0 && summary.Failed == summary.Written && summary.Skipped == 0)
        {
            // the records say why, and stay; but a scan in which no image of the input was scored is not a success
            Console.Error.WriteLine($"error: every one of the {summary.Written} records is an error, e.g. " +
                                    $"{all.First(r => r.Error is not null).Error}; nothing was scored");
            return CliErrors.Failed;
        }
        return CliErrors.Ok;
    }

    /// <summary>
    /// The methods a scan runs without --method: IIP on a noise-prediction model (and under --preset paper); on a
    /// v-prediction model the fit gain, with IIP reported beside it: chosen on the v-prediction dev testbeds cv1 to cv4
    /// and checked on cv5 to cv10, where the fit gain met the target on all six and IIP on none (docs/detection.md,
    /// "A v-model default chosen on cv1 to cv4, checked on cv5 to cv8").
    /// </summary>
    public static IReadOnlyList<string> DefaultMethods(bool predictsVelocity, bool paperPreset = false) =>
        predictsVelocity && !paperPreset ? [FitGainMethod.Name, IipMethod.Combined] : [IipMethod.Combined];

    /// <summary>
    /// For a v-prediction model scanned with IIP but without the fit gain (the v-model default): IIP was measured weaker
    /// on v-prediction testbeds than on noise-prediction ones, so say so and name the fit gain. Null otherwise.
    /// </summary>
    internal static string? VPredictionNote(StableDiffusion model, IReadOnlyCollection<string> methods) =>
        model.Scheduler.PredictsVelocity && methods.Any(m => m.StartsWith(IipMethod.Combined, StringComparison.Ordinal))
                                         && !methods.Any(m => m is FitGainMethod.Name or IipFitMethod.Name)
            ? "note: this model predicts v (SD 2.x 768-v); on ten v-prediction testbeds iip reached AUC 0.67 to 0.99 and the fit gain " +
              "0.97 to 1.00; the default for such a model is --method fit-gain,iip (docs/detection.md, \"A v-model default\")"
            : null;

    /// <summary>
    /// The items with each file once: the same file reached through two spellings (relative and absolute, ./ or ../) is
    /// scanned once, under its first spelling, and the others are reported.
    /// </summary>
    public static List<ScanItem> SameFileOnce(IReadOnlyList<ScanItem> items)
    {
        var first = new Dictionary<string, ScanItem>(StringComparer.Ordinal);
        var kept = new List<ScanItem>();
        foreach (var item in items)
        {
            if (first.TryGetValue(item.FullPath, out var earlier))
            {
                Console.Error.WriteLine($"note: '{item.Image}' is the same file as '{earlier.Image}' ({item.FullPath}): scanned once");
                continue;
            }
            first[item.FullPath] = item;
            kept.Add(item);
        }
        return kept;
    }
}
