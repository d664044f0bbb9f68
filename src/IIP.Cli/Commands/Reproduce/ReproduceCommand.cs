using System.CommandLine;
using IIP.Cli.Commands.Augment;
using IIP.Cli.Commands.Datasets;
using IIP.Cli.Commands.Generate;
using IIP.Cli.Commands.Scan;
using IIP.Detection.Augmentation;
using IIP.Detection.Datasets;
using IIP.Detection.Evaluation;
using IIP.Detection.Files;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Detection;

namespace IIP.Cli.Commands.Reproduce;

/// <summary>
/// `iip reproduce generated|images`: the IIP paper's settings in one command. Each step is one of the tool's own verbs
/// (datasets fetch, generate --prompts, augment, scan, eval), run in-process into one folder, and each resumes, so a
/// killed reproduction is continued by running it again. The report (report.md, table.csv, each setting's ROC plots)
/// is the paper-style table: AUC and TPR@1%FPR per method and setting.
/// </summary>
public static class ReproduceCommand
{
    /// <summary>IIP and every baseline (the caption-based ones use the prompts the images were generated from).</summary>
    public const string DefaultMethods = "iip,ori-prompt,denoising-loss,pia,secmi,pia-sd,secmi-sd";

    /// <summary>The paper's prompt sources for the generated-image setting (IIP.md, setting 3).</summary>
    public const string PaperDatasets = "wen-500-memorized,laion-captions,coco-captions,lexica-prompts,random-prompts";

    public static Command Create()
    {
        var command = new Command("reproduce",
            "Reproduce a setting of the IIP paper end to end into one folder: `generated` (images generated from memorized and " +
            "non-memorized prompts, 4, 8 or 16 per prompt) or `images` (a labelled image set you have, e.g. memorized training images " +
            "and LAION-mi non-members downloaded with img2dataset). Writes OUT/report.md and OUT/table.csv (AUC, TPR@1%FPR per method " +
            "and setting) and each setting's ROC plots. Every step resumes: run the same command again after an interruption. " +
            "docs/paper-settings.md states the protocol and where it departs from the paper.")
        {
            Generated(), Images(),
        };
        return command;
    }

    private sealed class Common
    {
        public readonly Option<string> Model = new("--model") { Description = "the model: a diffusers folder or a single-file checkpoint (SD v1.4 for the paper)", Required = true, HelpName = "PATH" };
        public readonly Option<string> Out = new("--out") { Description = "the folder for every step's files and the report", Required = true, HelpName = "DIR" };
        public readonly Option<string> Methods = new("--methods") { Description = "methods to scan with (comma-separated; iip scan --method)", DefaultValueFactory = _ => DefaultMethods };
        public readonly Option<string?> Augment = new("--augment") { Description = $"augmentations for the robustness columns (comma-separated: {string.Join(", ", ImageAugmentation.Kinds)}); default none", HelpName = "KINDS" };
        public readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "tokenizer folder, for single-file checkpoints", HelpName = "DIR" };
        public readonly Option<int> Seed = new("--seed") { Description = "seed of the generation noise, the scan's noise and the augmentations", DefaultValueFactory = _ => 0 };
        public readonly Option<int> ScanBatch = new("--scan-batch") { Description = "images per scan batch (iip scan --batch)", DefaultValueFactory = _ => 1 };
        public readonly Option<string> Device = DeviceOption.Create();
        public readonly ModelConfigOptions Configs = new();

        public void AddTo(Command command)
        {
            command.Options.Add(Model);
            command.Options.Add(Out);
            command.Options.Add(Methods);
            command.Options.Add(Augment);
            command.Options.Add(Tokenizer);
            command.Options.Add(Seed);
            command.Options.Add(ScanBatch);
            command.Options.Add(Device);
            Configs.AddTo(command);
        }
    }

    private static Command Generated()
    {
        var common = new Common();
        var datasets = new Option<string>("--datasets") { Description = "the prompt sets (iip datasets list): memorized rows and non-memorized rows are taken from their labels", DefaultValueFactory = _ => PaperDatasets };
        var memorized = new Option<int>("--memorized-prompts") { Description = "memorized prompts to use, in the sets' order", DefaultValueFactory = _ => 500 };
        var nonMemorized = new Option<int>("--non-memorized-prompts") { Description = "non-memorized prompts to use, taken in turn from each set that has them", DefaultValueFactory = _ => 500 };
        var perPrompt = new Option<string>("--per-prompt") { Description = "images per prompt, one column each (the paper: 4,8,16)", DefaultValueFactory = _ => "4,8,16" };
        var steps = new Option<int>("--steps") { Description = "DDIM steps of the generation", DefaultValueFactory = _ => 50 };
        var guidance = new Option<float>("--guidance") { Description = "classifier-free guidance of the generation", DefaultValueFactory = _ => 7.5f };
        var batch = new Option<int>("--batch") { Description = "images per UNet batch of the generation", DefaultValueFactory = _ => 4 };
        var unpinned = new Option<bool>("--allow-unpinned") { Description = "fetch recipe files with no pinned sha256 (iip datasets fetch --allow-unpinned)" };
        var catalog = new Option<string?>("--catalog") { Description = "a folder of dataset recipes to use instead of the shipped ones (iip datasets --catalog)", HelpName = "DIR" };
        var command = new Command("generated",
            "The generated-image setting: fetch the prompt sets, pick the memorized and non-memorized prompts (OUT/prompts.jsonl), " +
            "generate --per-prompt images of each (OUT/generated), scan them with every method, evaluate each count (and each " +
            "augmentation of the largest), and write the report.")
        {
            datasets, memorized, nonMemorized, perPrompt, steps, guidance, batch, unpinned, catalog,
        };
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string outDir = parse.GetValue(common.Out)!;
            var counts = PromptSetRun.ParseCounts(parse.GetValue(perPrompt)!);
            // only the random-token prompts need the tokenizer's folder, and only they open the checkpoint for it
            string Tokenizer() => parse.GetValue(common.Tokenizer) ?? ModelTokenizer(parse.GetValue(common.Model)!, common.Configs.Read(parse));
            var recipes = parse.GetValue(catalog) is { } folder ? DatasetCatalog.FromFolder(folder) : DatasetCatalog.Shipped();
            string prompts = ChoosePrompts(recipes, parse.GetValue(datasets)!, outDir, parse.GetValue(memorized), parse.GetValue(nonMemorized),
                parse.GetValue(unpinned), Tokenizer);
            string generatedDir = Path.Combine(outDir, "generated");
            Step($"generate {counts.Max()} images per prompt into {generatedDir}");
            var subsets = PromptSetRun.Generate(new PromptSetRun.Settings(parse.GetValue(common.Model)!, prompts, counts, generatedDir,
                parse.GetValue(common.Seed), parse.GetValue(steps), parse.GetValue(guidance), parse.GetValue(batch), null, null,
                parse.GetValue(common.Tokenizer), parse.GetValue(common.Device)!, common.Configs.Read(parse)));
            if (subsets is null) return CliErrors.Interrupted;
            var settings = counts.Zip(subsets, (n, path) => ($"{n} per prompt", path)).ToList();
            return ScanAndReport(parse, common, outDir, settings);
        }));
        return command;
    }

    private static Command Images()
    {
        var common = new Common();
        var images = new Option<string>("--images") { Description = "a labelled image manifest (JSONL: \"image\", a path relative to the manifest or absolute, and \"memorized\"), e.g. memorized training images and LAION-mi non-members", Required = true, HelpName = "MANIFEST" };
        var name = new Option<string>("--setting-name") { Description = "the column name of this setting in the report", DefaultValueFactory = _ => "images" };
        var command = new Command("images",
            "A labelled image setting (the paper's training-image settings, with images you downloaded): scan them with every method, " +
            "evaluate them (and each augmentation), and write the report.")
        {
            images, name,
        };
        common.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() =>
            ScanAndReport(parse, common, parse.GetValue(common.Out)!, [(parse.GetValue(name)!, Path.GetFullPath(parse.GetValue(images)!))])));
        return command;
    }

    // the prompt sets fetched, and the prompts chosen from them written to OUT/prompts.jsonl
    private static string ChoosePrompts(DatasetCatalog catalog, string datasetList, string outDir, int memorizedCount, int nonMemorizedCount, bool allowUnpinned, Func<string> tokenizer)
    {
        if (memorizedCount < 1 || nonMemorizedCount < 1) throw new ArgumentException("--memorized-prompts and --non-memorized-prompts must be at least 1");
        var fetched = new List<DatasetFetchResult>();
        foreach (string name in datasetList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var recipe = catalog.Find(name);
            if (recipe.Kind != DatasetRecipe.PromptsKind)
                throw new ArgumentException($"{name} is a set of {recipe.Kind}, not prompts; the generated-image setting takes prompt sets (iip datasets list)");
            Step($"fetch {name}");
            fetched.Add(DatasetsCommand.Run(recipe, Path.Combine(outDir, "datasets"), allowUnpinned, recipe.Generator is null ? null : tokenizer()));
        }
        var memorized = fetched.SelectMany(f => f.Rows.Where(r => r.Memorized)).DistinctBy(r => r.Text).Take(memorizedCount).ToList();
        // non-memorized: one from each set in turn, so each source gives an equal share
        var queues = fetched.Select(f => new Queue<LabelledRow>(f.Rows.Where(r => !r.Memorized))).Where(q => q.Count > 0).ToList();
        var nonMemorized = new List<LabelledRow>();
        var seen = new HashSet<string>(memorized.Select(r => r.Text));
        while (nonMemorized.Count < nonMemorizedCount && queues.Any(q => q.Count > 0))
            foreach (var queue in queues.Where(q => q.Count > 0))
            {
                var row = queue.Dequeue();
                if (nonMemorized.Count < nonMemorizedCount && seen.Add(row.Text)) nonMemorized.Add(row);
            }
        if (memorized.Count == 0) throw new ArgumentException($"{datasetList}: no memorized prompts in these sets");
        if (nonMemorized.Count == 0) throw new ArgumentException($"{datasetList}: no non-memorized prompts in these sets");
        string path = Path.Combine(outDir, "prompts.jsonl");
        LabelledRows.Write(memorized.Concat(nonMemorized), path);
        Console.WriteLine($"{path}: {memorized.Count} memorized and {nonMemorized.Count} non-memorized prompts " +
                          $"({string.Join(", ", nonMemorized.GroupBy(r => r.Set).Select(g => $"{g.Count()} {g.Key}"))})");
        return path;
    }

    // augment (optionally), scan every setting's images once, evaluate each setting, write the report
    private static int ScanAndReport(ParseResult parse, Common common, string outDir, IReadOnlyList<(string Name, string Labels)> settings)
    {
        int seed = parse.GetValue(common.Seed);
        var kinds = (parse.GetValue(common.Augment) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var methods = parse.GetValue(common.Methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string method in methods) MethodCatalog.Require(method);
        string largest = settings[^1].Labels;      // the settings' images are nested: the last holds every image
        string scanned = largest;
        if (kinds.Length > 0)
        {
            string augmentDir = Path.Combine(outDir, "augmented");
            Step($"augment {settings[^1].Name} ({string.Join(", ", kinds)}) into {augmentDir}");
            int augmented = AugmentCommand.Run(largest, augmentDir, kinds, seed, new AugmentationSettings());
            if (augmented == CliErrors.Failed)   // unreadable images (named above): kept in the manifest, the scan records them
                Console.Error.WriteLine("reproduce: going on; the unreadable images are scanned as errors and left out of the evaluation");
            else if (augmented != CliErrors.Ok) return augmented;
            scanned = Path.Combine(augmentDir, "augmented.jsonl");
        }
        string results = Path.Combine(outDir, "results.jsonl");
        Step($"scan {scanned} with {string.Join(", ", methods)}");
        int scan = ScanCommand.Run(new ScanCommand.ScanSettings(parse.GetValue(common.Model)!, scanned, results, methods, parse.GetValue(common.Tokenizer),
            seed, null, null, null, IipPresets.Default with { Seed = seed }, null, BaselineSettings.Defaults(seed), parse.GetValue(common.Device)!,
            parse.GetValue(common.ScanBatch), Overrides: common.Configs.Read(parse)));
        if (scan != CliErrors.Ok) return scan;

        Step("evaluate");
        var resultsFile = ResultsReader.Read(results);
        // the settings are evaluated on the originals only: an augmented copy keeps its original's file name, and the label
        // join would otherwise take it for the original
        var originalImages = LabelSet.Load(scanned).Entries.Where(e => e.Augmentation is null or "none").Select(e => e.Image).ToHashSet();
        var originals = resultsFile with { Records = resultsFile.Records.Where(r => originalImages.Contains(r.Image)).ToList() };
        var table = new PaperTable();
        var options = new EvaluationOptions { Methods = methods };
        foreach (var (name, labels) in settings)
        {
            var report = Evaluate(originals, LabelSet.Load(labels), options, name, table);
            if (report is null) continue;
            string folder = Path.Combine(outDir, "eval", EvaluationOutput.SafeName(name.Replace(' ', '-')));
            EvaluationOutput.Write(report, folder);
            table.Add(name, report);
        }
        if (kinds.Length > 0)
            table.Add(settings[^1].Name, RobustnessTable.Build(resultsFile, LabelSet.Load(scanned), options));

        string reportPath = Path.Combine(outDir, "report.md"), csvPath = Path.Combine(outDir, "table.csv");
        AtomicFile.WriteAllText(reportPath, $"# iip reproduce: {string.Join(", ", settings.Select(s => s.Name))}\n\nModel: {parse.GetValue(common.Model)}. " +
                                      $"Methods: {string.Join(", ", methods)}. ROC plots and per-method reports: eval/SETTING/.\n\n{table.ToMarkdown()}");
        table.WriteCsv(csvPath);
        Console.WriteLine();
        Console.Write(table.ToMarkdown());
        Console.WriteLine($"report: {reportPath}, {csvPath}, ROC plots in {Path.Combine(outDir, "eval")}");
        return CliErrors.Ok;
    }

    // one setting's evaluation; a method that cannot be evaluated there (scores of one class only: a caption-based method
    // on images with captions for the memorized ones alone) is a cell "n/a" with the reason, not the end of the run
    private static EvaluationReport? Evaluate(ResultsFile results, LabelSet labels, EvaluationOptions options, string setting, PaperTable table)
    {
        try
        {
            return EvaluationReport.Build(results, labels, options);
        }
        catch (EvaluationException)
        {
            var usable = new List<string>();
            foreach (string method in options.Methods!)
                try
                {
                    EvaluationReport.Build(results, labels, options with { Methods = [method] });
                    usable.Add(method);
                }
                catch (EvaluationException e)
                {
                    table.AddProblem(method, setting, e.Message);
                    Console.Error.WriteLine($"{setting}: {method} not evaluated: {e.Message}");
                }
            return usable.Count == 0 ? null : EvaluationReport.Build(results, labels, options with { Methods = usable });
        }
    }

    // the tokenizer folder of the model (for the random prompts, drawn from its vocabulary)
    private static string ModelTokenizer(string model, IIP.Engine.Weights.CheckpointOverrides? overrides)
    {
        using var checkpoint = IIP.Engine.Weights.StableDiffusionCheckpoint.Open(model, null, overrides: overrides);
        return checkpoint.TokenizerDirectory ?? throw new ArgumentException($"{model}: carries no tokenizer; pass --tokenizer DIR");
    }

    private static void Step(string what) => Console.Error.WriteLine($"== {what}");
}
