using System.CommandLine;
using IIP.Cli.Commands.Eval;
using IIP.Cli.Commands.Scan;
using IIP.Detection.Ablation;
using IIP.Detection.Evaluation;
using IIP.Detection.Files;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Imaging;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Ablate;

/// <summary>`iip ablate`: IIP's ablation study on a labelled set (t_I sweep, t_P sweep, components, steps removed).</summary>
public static class AblateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "SD v1.x or 2.x model (diffusers folder, single-file checkpoint or .iipw)", Required = true };
        var images = new Option<string>("--images") { Description = "labelled images: a JSONL manifest with \"image\" (and \"memorized\") per line, or a folder/list with --labels", Required = true };
        var labels = new Option<string?>("--labels") { Description = "labels file (JSONL/CSV with image, memorized); default: the --images manifest" };
        var output = new Option<string>("--out") { Description = "output folder: ablation-components.jsonl (resumable), ablation.jsonl (scored series), report.md, roc.png", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder for single-file checkpoints" };
        var seed = new Option<int>("--seed") { Description = "seed of the noise latents", DefaultValueFactory = _ => 0 };
        var plan = new AblationPlan();
        var tISweep = new Option<int[]>("--sweep-inversion-steps") { Description = "t_I values (Fig. 7 of the paper)", DefaultValueFactory = _ => [.. plan.InversionSteps], AllowMultipleArgumentsPerToken = true };
        var tPSweep = new Option<int[]>("--sweep-mtcnp-steps") { Description = "t_P values at the default t_I", DefaultValueFactory = _ => [.. plan.MtcnpSteps], AllowMultipleArgumentsPerToken = true };
        var gSweep = new Option<float[]>("--sweep-guidance") { Description = "guidance scales of the regeneration at the default t_I (0: unconditional)", DefaultValueFactory = _ => [.. plan.Guidances], AllowMultipleArgumentsPerToken = true };
        var perturbationSweep = new Option<string[]>("--sweep-perturbation")
        {
            Description = "perturbation embeddings at the default t_I, each NAME=VALUE changing one option of IIP.md step 4: iterations=N (0: no optimization), init=prompt|random, prompt=TEXT, lr=X, noise=K",
            DefaultValueFactory = _ => [.. plan.Perturbations], AllowMultipleArgumentsPerToken = true,
        };
        var weightSweep = new Option<double[]>("--sweep-weights") { Description = "lambda_d / lambda_e ratios scored at the default configuration", DefaultValueFactory = _ => [.. plan.WeightRatios], AllowMultipleArgumentsPerToken = true };
        var noRemoved = new Option<bool>("--no-steps-removed") { Description = "skip the 'no inversion' variant (forward noising instead of DDIM inversion)" };
        var sets = new Option<string?>("--sets") { Description = "label sets to keep, comma-separated (e.g. memorized,heldout)" };
        var limit = new Option<int?>("--limit") { Description = "use at most this many images" };
        var device = DeviceOption.Create();
        var configs = new ModelConfigOptions();
        var iip = new IipOptionSet();
        var command = new Command("ablate",
            "IIP's ablation study on a labelled set, like the paper's Tab. 5 and Fig. 7, with every option of IIP.md varied one at a " +
            "time from the options given: t_I, t_P, guidance, the perturbation embedding (prompt, initialisation, iterations; 0 " +
            "iterations is the optimization removed), every similarity, the sign, the weights and the scales (reference medians vs " +
            "the self-calibration), each component alone, and DDIM inversion replaced by forward noising. Prints AUC, TPR@1%FPR " +
            "and accuracy per variant and writes a report with AUC against t_I and AUC of TCNP at each timestep.")
        {
            model, images, labels, output, tokenizer, seed, tISweep, tPSweep, gSweep, perturbationSweep, weightSweep, noRemoved, sets, limit, device,
        };
        configs.AddTo(command);
        iip.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() => Run(
            parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(labels), parse.GetValue(output)!, parse.GetValue(tokenizer),
            iip.Read(parse, parse.GetValue(seed)),
            new AblationPlan
            {
                InversionSteps = parse.GetValue(tISweep)!, MtcnpSteps = parse.GetValue(tPSweep)!, Guidances = parse.GetValue(gSweep)!,
                Perturbations = parse.GetValue(perturbationSweep)!, WeightRatios = parse.GetValue(weightSweep)!, StepsRemoved = !parse.GetValue(noRemoved),
            },
            parse.GetValue(sets), parse.GetValue(limit), parse.GetValue(device)!, configs.Read(parse))));
        return command;
    }

    public static int Run(string modelPath, string imagesPath, string? labelsPath, string outDir, string? tokenizer, IipOptions options,
        AblationPlan plan, string? sets, int? limit, string device = "cpu", CheckpointOverrides? overrides = null)
    {
        var progress = new ConsoleProgress();
        var labels = LabelSet.Load(labelsPath ?? imagesPath);
        var listed = ScanSource.Read(imagesPath);
        var items = listed.Where(i => i.Unsupported is null).ToList();
        if (items.Count < listed.Count)
            Console.Error.WriteLine($"warning: {listed.Count - items.Count} files in formats the decoder cannot read are left out of the ablation");
        if (limit is { } n) items = items.Take(n).ToList();
        foreach (int t in plan.InversionSteps)
            (options with { InversionSteps = t, MtcnpSteps = Math.Min(options.MtcnpSteps, options.MaxMtcnpSteps(t)) }).Validate();
        foreach (float g in plan.Guidances)
            if (!float.IsFinite(g)) throw new ArgumentException($"--sweep-guidance {g}: must be a finite number");
        foreach (string variant in plan.Perturbations)
            IipAblation.WithPerturbation(options, variant);   // a bad variant fails here, before any work
        foreach (double ratio in plan.WeightRatios)
            if (!double.IsFinite(ratio) || ratio < 0) throw new ArgumentException($"--sweep-weights {ratio}: must be a finite number >= 0");

        using var checkpoint = StableDiffusionCheckpoint.Open(modelPath, tokenizer, overrides: overrides);
        var model = new StableDiffusion(checkpoint, DeviceOption.Select(device), Program.Engine);
        int size = model.NativeImageSize;
        Directory.CreateDirectory(outDir);
        string fingerprint = ModelFingerprint.Compute(checkpoint, overrides);
        string componentsPath = Path.Combine(outDir, "ablation-components.jsonl");
        RequireSameSettings(outDir, componentsPath, $"model {fingerprint}\noptions {options.ScoreKey()}\n");
        var session = new IipSession(model, options, fingerprint, Path.Combine(outDir, ".iip-cache"), progress);
        var ablation = new IipAblation(session, plan);
        Console.Error.WriteLine($"ablation over {items.Count} images, configurations: {string.Join(", ", ablation.Configurations)}");

        using (var writer = ResultsWriter.Open(componentsPath))
        {
            if (writer.RepairNote is { } note) Console.Error.WriteLine(note);
            ablation.Compute(items, path => ScanContent.LoadImage(path, size), writer, ResumeSet.Load(componentsPath), progress, progress);
        }
        var calibration = options.CalibrationImages > 0 ? session.WithCalibratedScales(progress).Calibration : null;

        var byImage = labels.Entries.GroupBy(e => e.Image).ToDictionary(g => g.Key, g => g.First().Memorized);
        var components = ResultsReader.Read(componentsPath).Records;
        var series = ablation.Score(components, image => byImage.TryGetValue(image, out var m) ? m : null, calibration);
        string seriesPath = Path.Combine(outDir, "ablation.jsonl");
        File.Delete(seriesPath);
        using (var writer = ResultsWriter.Open(seriesPath))
            foreach (var record in series) writer.Append(record);

        var evaluation = new EvaluationOptions { Sets = sets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        var report = EvaluationReport.Build(ResultsReader.Read(seriesPath), labels, evaluation);
        var files = EvaluationOutput.Write(report, outDir).ToList();
        files.AddRange(AblationFigures.Write(report, components, model.Scheduler.Timesteps(options.GridSteps), options, labels, evaluation, outDir));
        EvalCommand.Print(report, files);
        return CliErrors.Ok;
    }

    /// <summary>
    /// Component records are reused by (image, configuration tag) alone, so a folder must hold one model and one set of
    /// options: the first run writes their key to ablation-settings.txt, a rerun with other settings is refused.
    /// </summary>
    private static void RequireSameSettings(string outDir, string componentsPath, string settings)
    {
        string settingsPath = Path.Combine(outDir, "ablation-settings.txt");
        if (File.Exists(settingsPath))
        {
            if (File.ReadAllText(settingsPath) != settings)
                throw new ArgumentException($"{Path.GetFullPath(outDir)} holds ablation results of another model or other options " +
                    $"(see {settingsPath}); use another --out, or delete {componentsPath} and {settingsPath} to recompute");
            return;
        }
        if (File.Exists(componentsPath))
            Console.Error.WriteLine($"warning: {componentsPath} has no {Path.GetFileName(settingsPath)} (an older run): its records are reused as they are");
        AtomicFile.WriteAllText(settingsPath, settings);
    }
}
