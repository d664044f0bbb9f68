using System.CommandLine;
using IIP.Cli.Commands.Eval;
using IIP.Cli.Commands.Scan;
using IIP.Runtime.Detection;
using IIP.Runtime.Evaluation;
using IIP.Runtime.Imaging;
using IIP.Runtime.Pipelines;
using IIP.Runtime.Scanning;
using IIP.Runtime.Weights;

namespace IIP.Cli.Commands.Ablate;

/// <summary>`iip ablate`: IIP's ablation study on a labelled set (t_I sweep, t_P sweep, components, steps removed).</summary>
public static class AblateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "SD v1 model (diffusers folder, single-file checkpoint or .iipw)", Required = true };
        var images = new Option<string>("--images") { Description = "labelled images: a JSONL manifest with \"image\" (and \"memorized\") per line, or a folder/list with --labels", Required = true };
        var labels = new Option<string?>("--labels") { Description = "labels file (JSONL/CSV with image, memorized); default: the --images manifest" };
        var output = new Option<string>("--out") { Description = "output folder: ablation-components.jsonl (resumable), ablation.jsonl (scored series), report.md, roc.png", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder for single-file checkpoints" };
        var seed = new Option<int>("--seed") { Description = "seed of the noise latents", DefaultValueFactory = _ => 0 };
        var tISweep = new Option<int[]>("--sweep-inversion-steps") { Description = "t_I values (Fig. 7 of the paper)", DefaultValueFactory = _ => [5, 10, 20, 30, 40], AllowMultipleArgumentsPerToken = true };
        var tPSweep = new Option<int[]>("--sweep-mtcnp-steps") { Description = "t_P values at the default t_I", DefaultValueFactory = _ => [1, 5, 10, 20], AllowMultipleArgumentsPerToken = true };
        var noRemoved = new Option<bool>("--no-steps-removed") { Description = "skip the 'no inversion' and 'no embedding optimization' variants" };
        var sets = new Option<string?>("--sets") { Description = "label sets to keep, comma-separated (e.g. memorized,heldout)" };
        var limit = new Option<int?>("--limit") { Description = "use at most this many images" };
        var device = DeviceOption.Create();
        var iip = new IipOptionSet();
        var command = new Command("ablate",
            "IIP's ablation study on a labelled set, like the paper's Tab. 5 and Fig. 7: the initial timestep t_I swept, t_P swept, " +
            "each score component alone, and each step removed (DDIM inversion replaced by forward noising; the perturbation " +
            "embedding left un-optimized). Prints AUC, TPR@1%FPR and accuracy per variant and writes a report.")
        {
            model, images, labels, output, tokenizer, seed, tISweep, tPSweep, noRemoved, sets, limit, device,
        };
        iip.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() => Run(
            parse.GetValue(model)!, parse.GetValue(images)!, parse.GetValue(labels), parse.GetValue(output)!, parse.GetValue(tokenizer),
            iip.Read(parse, parse.GetValue(seed)),
            new AblationPlan
            {
                InversionSteps = parse.GetValue(tISweep)!, MtcnpSteps = parse.GetValue(tPSweep)!, StepsRemoved = !parse.GetValue(noRemoved),
            },
            parse.GetValue(sets), parse.GetValue(limit), parse.GetValue(device)!)));
        return command;
    }

    public static int Run(string modelPath, string imagesPath, string? labelsPath, string outDir, string? tokenizer, IipOptions options,
        AblationPlan plan, string? sets, int? limit, string device = "cpu")
    {
        var progress = new ConsoleProgress();
        var labels = LabelSet.Load(labelsPath ?? imagesPath);
        var items = ScanSource.Read(imagesPath);
        if (limit is { } n) items = items.Take(n).ToList();
        foreach (int t in plan.InversionSteps)
            (options with { InversionSteps = t, MtcnpSteps = Math.Min(options.MtcnpSteps, t) }).Validate();

        using var checkpoint = StableDiffusionCheckpoint.Open(modelPath, tokenizer);
        var model = new StableDiffusion(checkpoint, DeviceOption.Select(device));
        int size = model.NativeImageSize;
        Directory.CreateDirectory(outDir);
        string fingerprint = ModelFingerprint.Compute(modelPath);
        string componentsPath = Path.Combine(outDir, "ablation-components.jsonl");
        RequireSameSettings(outDir, componentsPath, $"model {fingerprint}\noptions {options.ScoreKey()}\n");
        var session = new IipSession(model, options, fingerprint, Path.Combine(outDir, ".iip-cache"), progress);
        var ablation = new IipAblation(session, plan);
        Console.Error.WriteLine($"ablation over {items.Count} images, configurations: {string.Join(", ", ablation.Configurations)}");

        using (var writer = ResultsWriter.Open(componentsPath))
        {
            if (writer.RepairNote is { } note) Console.Error.WriteLine(note);
            ablation.Compute(items, path => ModelImageLoader.Load(path, size), writer, ResumeSet.Load(componentsPath), progress);
        }

        var byImage = labels.Entries.GroupBy(e => e.Image).ToDictionary(g => g.Key, g => g.First().Memorized);
        var series = ablation.Score(ResultsReader.Read(componentsPath).Records, image => byImage.TryGetValue(image, out var m) ? m : null);
        string seriesPath = Path.Combine(outDir, "ablation.jsonl");
        File.Delete(seriesPath);
        using (var writer = ResultsWriter.Open(seriesPath))
            foreach (var record in series) writer.Append(record);

        var report = EvaluationReport.Build(ResultsReader.Read(seriesPath), labels, new EvaluationOptions
        {
            Sets = sets?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        });
        var files = EvaluationOutput.Write(report, outDir);
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
        File.WriteAllText(settingsPath, settings);
    }
}
