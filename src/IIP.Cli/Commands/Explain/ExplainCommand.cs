using System.CommandLine;
using System.Globalization;
using System.Text;
using IIP.Cli.Commands.Scan;
using IIP.Detection.Evaluation;
using IIP.Detection.Files;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Imaging;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Explain;

/// <summary>
/// `iip explain`: pictures an auditor can judge for the top-scoring images of a scan (and any image asked for): the input,
/// its VAE reconstruction and IIP's perturbed regeneration side by side, and its TCNP per regeneration step against the
/// band of the model's calibration images; explain.md puts them in order with each image's score and components.
/// </summary>
public static class ExplainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "the SD v1.x or 2.x model the scan used", Required = true };
        var results = new Option<string?>("--results") { Description = "a scan's results file: its top-scoring images are explained" };
        var images = new Option<string?>("--images") { Description = "the scan's --images (folder, list or manifest), to find the files its records name; default: the records' paths as they are" };
        var extra = new Option<string[]>("--image") { Description = "an image to explain as well (repeatable)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [] };
        var method = new Option<string>("--method") { Description = "the method whose scores rank the images", DefaultValueFactory = _ => IipMethod.Combined };
        var topK = new Option<int>("--top-k") { Description = "how many of the highest-scoring images", DefaultValueFactory = _ => 8 };
        var output = new Option<string?>("--out") { Description = "output folder (default: <results>-explain beside the results, or explain/)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder for single-file checkpoints" };
        var seed = new Option<int>("--seed") { Description = "seed of the noise latents (as the scan's)", DefaultValueFactory = _ => 0 };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "where the perturbation embedding and calibration are cached (default: beside the results file, as the scan)" };
        var device = DeviceOption.Create();
        var configs = new ModelConfigOptions();
        var iip = new IipOptionSet();
        var command = new Command("explain",
            "Pictures for an auditor: for the top-k images of a scan (--results) and any --image, the input, its VAE reconstruction and " +
            "IIP's perturbed regeneration side by side, and TCNP per regeneration step against the band of the model's calibration images " +
            "(images it generates from the non-memorized perturbation embedding). Give the scan's IIP options so the pictures show what it scored.")
        {
            model, results, images, extra, method, topK, output, tokenizer, seed, cacheDir, device,
        };
        configs.AddTo(command);
        iip.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() => Run(new ExplainSettings(
            parse.GetValue(model)!, parse.GetValue(results), parse.GetValue(images), parse.GetValue(extra)!, parse.GetValue(method)!,
            parse.GetValue(topK), parse.GetValue(output), parse.GetValue(tokenizer), parse.GetValue(cacheDir), iip.Read(parse, parse.GetValue(seed)),
            parse.GetValue(iip.Reference), iip.ScalesGiven(parse), parse.GetValue(device)!, configs.Read(parse)))));
        return command;
    }

    public sealed record ExplainSettings(string Model, string? Results, string? Images, string[] Extra, string Method, int TopK, string? Out,
        string? Tokenizer, string? CacheDir, IipOptions Iip, string? Reference, bool ScalesGiven, string Device = "cpu", CheckpointOverrides? Overrides = null);

    /// <summary>One image to explain: where it is, the name to show, and its score in the scan (null for --image).</summary>
    private sealed record Subject(string Image, string FullPath, double? ScanScore);

    public static int Run(ExplainSettings s)
    {
        if (s.TopK < 0) throw new ArgumentException($"--top-k {s.TopK}: must be >= 0");
        if (s.Results is null && s.Extra.Length == 0) throw new ArgumentException("give --results (a scan's results file) or at least one --image");
        var subjects = Subjects(s);
        if (subjects.Count == 0) throw new ArgumentException($"{s.Results}: no scored '{s.Method}' records to explain");

        var progress = new ConsoleProgress();
        using var checkpoint = StableDiffusionCheckpoint.Open(s.Model, s.Tokenizer, overrides: s.Overrides);
        var model = new StableDiffusion(checkpoint, DeviceOption.Select(s.Device), Program.Engine);
        int size = model.NativeImageSize;
        string anchor = s.Results is not null ? Path.GetDirectoryName(Path.GetFullPath(s.Results))! : Directory.GetCurrentDirectory();
        string cacheDir = s.CacheDir ?? Path.Combine(anchor, ".iip-cache");
        progress.Report("fingerprinting the model (the perturbation embedding and calibration are cached by content)...");
        var (session, options, calibration) = MethodFactory.OpenIip(model, ModelFingerprint.Compute(checkpoint, s.Overrides), s.Iip, cacheDir, s.Reference, s.ScalesGiven, path => ScanContent.LoadImage(path, size), progress);
        // the band needs the calibration; with a reference set or given scales it is computed for the band alone
        calibration ??= options.CalibrationImages > 0 ? IipCalibration.Compute(session, options, session.ModelFingerprint, cacheDir, progress) : null;
        var detector = session.CreateDetector(options);

        string outDir = s.Out ?? (s.Results is not null ? Path.Combine(anchor, Path.GetFileNameWithoutExtension(s.Results) + "-explain") : "explain");
        Directory.CreateDirectory(outDir);
        var grid = model.Scheduler.Timesteps(options.GridSteps);
        var timesteps = grid[(grid.Length - options.InversionSteps)..];
        var md = new StringBuilder();
        md.AppendLine("# IIP: the images explained").AppendLine();
        md.AppendLine(Invariant($"Model `{s.Model}`; t_I {options.InversionSteps} (regeneration from t = {timesteps[0]}), MTCNP over the {options.MtcnpSteps} {OptionText.Kebab(options.MtcnpWindow)} steps, guidance {options.Guidance}; ") +
                      Invariant($"score = {options.LambdaE} (MTCNP - {options.CenterE:G5}) / {options.ScaleE:G5} + {options.LambdaD} x {options.DiscrepancySign:+0;-0} ({(options.DiscrepancyTransform == DiscrepancyTransform.Log ? "ln discrepancy" : "discrepancy")} - {options.CenterD:G5}) / {options.ScaleD:G5}."));
        md.AppendLine("Each row: the input, its VAE reconstruction (what the model can represent), and the regeneration from the inverted latent under the " +
                      "non-memorized perturbation prompt. A memorized image keeps a large TCNP, above the band of the calibration images, as the " +
                      "regeneration approaches t = 0.").AppendLine();
        md.AppendLine("| rank | image | score (scan) | score (now) | MTCNP | discrepancy |");
        md.AppendLine("| ---: | --- | ---: | ---: | ---: | ---: |");
        var sections = new StringBuilder();
        for (int i = 0; i < subjects.Count; i++)
        {
            var subject = subjects[i];
            var image = ScanContent.LoadImage(subject.FullPath, size);
            var trace = detector.Trace(image);
            var panels = new[] { ImageTensors.ToImage(image), ImageTensors.ToImage(model.DecodeLatent(trace.Latent)), ImageTensors.ToImage(model.DecodeLatent(trace.Regenerated)) };
            string stem = Invariant($"{i + 1:D2}-{EvaluationOutput.SafeName(Path.GetFileNameWithoutExtension(subject.Image))}");
            ExplanationFigures.WritePanels(panels, Path.Combine(outDir, stem + "-images.png"));
            ExplanationFigures.WriteTcnp($"{subject.Image}: TCNP per step (MTCNP {trace.Score.Mtcnp:G4})", timesteps, trace.Score.Tcnp, calibration?.TcnpBand, Path.Combine(outDir, stem + "-tcnp.png"));
            md.AppendLine(Invariant($"| {i + 1} | [{Cell(subject.Image)}](#{i + 1}) | {(subject.ScanScore is { } sc ? sc.ToString("G5", CultureInfo.InvariantCulture) : "-")} | {trace.Score.Score:G5} | {trace.Score.Mtcnp:G5} | {trace.Score.Discrepancy:G5} |"));
            sections.AppendLine(Invariant($"## {i + 1}")).AppendLine();
            sections.AppendLine($"`{subject.Image}`: input, VAE reconstruction, perturbed regeneration").AppendLine();
            sections.AppendLine($"![images]({stem}-images.png)").AppendLine();
            sections.AppendLine($"![TCNP]({stem}-tcnp.png)").AppendLine();
            if (subject.ScanScore is { } scanned && Math.Abs(scanned - trace.Score.Score) > 1e-6 * Math.Max(1, Math.Abs(scanned)))
                Console.Error.WriteLine(Invariant($"note: {subject.Image}: score now {trace.Score.Score:G6}, in the scan {scanned:G6}: the IIP options differ from the scan's"));
            progress.Report($"explained {i + 1}/{subjects.Count}: {subject.Image}");
        }
        md.AppendLine().Append(sections);
        if (calibration is null) md.AppendLine("No calibration band: the options ask for no calibration images (--calibration-images 0).");
        string mdPath = Path.Combine(outDir, "explain.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        Console.WriteLine($"explained {subjects.Count} images: {Path.GetFullPath(mdPath)}");
        return CliErrors.Ok;
    }

    // the top-k scored records of the method (latest record per image) and the --image files, without repeats
    private static List<Subject> Subjects(ExplainSettings s)
    {
        var subjects = new List<Subject>();
        if (s.Results is not null)
        {
            var byImage = s.Images is not null ? ScanSource.Read(s.Images).ToDictionary(i => i.Image, i => i.FullPath) : null;
            var latest = ResultsReader.Read(s.Results).Records.Where(r => r.Method == s.Method)
                .GroupBy(r => r.Image).Select(g => g.Last())
                .Where(r => r.Error is null && r.Score is double v && double.IsFinite(v));
            foreach (var r in latest.OrderByDescending(r => r.Score!.Value).Take(s.TopK))
            {
                string full = byImage is not null
                    ? byImage.GetValueOrDefault(r.Image) ?? throw new ArgumentException($"{s.Results}: image '{r.Image}' is not in --images {s.Images}")
                    : Path.GetFullPath(r.Image);
                subjects.Add(new Subject(r.Image, full, r.Score));
            }
        }
        foreach (string image in s.Extra.Where(e => !subjects.Any(x => x.FullPath == Path.GetFullPath(e))))
        {
            if (!File.Exists(image)) throw new FileNotFoundException($"--image {Path.GetFullPath(image)}: file not found");
            subjects.Add(new Subject(image, Path.GetFullPath(image), null));
        }
        return subjects;
    }

    private static string Cell(string text) => text.Replace("|", "\\|");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
