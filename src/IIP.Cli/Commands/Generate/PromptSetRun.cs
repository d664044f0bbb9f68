using System.Globalization;
using IIP.Cli.Commands.Scan;
using IIP.Detection.Datasets;
using IIP.Detection.Generation;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Generate;

/// <summary>`iip generate --prompts MANIFEST --per-prompt 4,8,16 --out DIR`: a labelled prompt set, generated in batches.</summary>
public static class PromptSetRun
{
    public sealed record Settings(string Model, string Prompts, IReadOnlyList<int> PerPrompt, string Out, long Seed, int Steps, float Guidance,
        int Batch, int? Height, int? Width, string? Tokenizer, string Device = "cpu", CheckpointOverrides? Overrides = null);

    /// <summary>"4,8,16" -> [4, 8, 16]; each a positive count.</summary>
    public static IReadOnlyList<int> ParseCounts(string text)
    {
        var counts = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new ArgumentException($"--per-prompt '{text}': '{part}' is not a positive whole number");
            counts.Add(n);
        }
        if (counts.Count == 0) throw new ArgumentException("--per-prompt needs at least one count");
        return counts.Distinct().Order().ToList();
    }

    public static int Run(Settings s) => Generate(s) is null ? CliErrors.Interrupted : CliErrors.Ok;

    /// <summary>Generates (or goes on generating) the set; returns the per-count manifests, or null when interrupted.</summary>
    public static IReadOnlyList<string>? Generate(Settings s)
    {
        var prompts = PromptManifest.Load(s.Prompts);
        var (checkpoint, size) = GenerationCheckpoint.Open(s.Model, s.Tokenizer, s.Overrides, s.Steps, s.Guidance, s.Height, s.Width);
        using var opened = checkpoint;
        string fingerprint = ModelFingerprint.Compute(checkpoint, s.Overrides);
        var sd = new StableDiffusion(checkpoint, DeviceOption.Select(s.Device), Program.Engine);
        Console.Error.WriteLine($"model {checkpoint.Path} ({checkpoint.Layout}), backend {sd.Backend.Name}; {prompts.Count} prompts " +
                                $"({prompts.Count(p => p.Memorized)} memorized) from {s.Prompts}; {size.Width}x{size.Height} px, {s.Steps} steps, " +
                                $"guidance {s.Guidance.ToString(CultureInfo.InvariantCulture)}, batch {s.Batch}");
        var settings = new PromptGenerationSettings(s.PerPrompt.Max(), s.Seed, s.Steps, s.Guidance, s.Batch, size.Height, size.Width);
        using var interrupt = new ScanInterrupt();
        PromptGenerationSummary summary;
        try
        {
            summary = PromptSetGeneration.Run(sd, fingerprint[..16], prompts, DatasetDownload.Sha256Of(s.Prompts), s.Out, settings,
                new ConsoleProgress(), interrupt.Token);
        }
        catch (OperationCanceledException) when (interrupt.Token.IsCancellationRequested)
        {
            Console.Error.WriteLine($"interrupted ({interrupt.Reason}): the images in {s.Out} and their lines in {PromptSetGeneration.ManifestName} are kept; " +
                                    "run the same command again to go on");
            return null;
        }
        var subsets = PromptSetGeneration.WriteSubsets(s.Out, s.PerPrompt);
        Console.WriteLine($"{summary.Images} images: {summary.Written} generated, {summary.AlreadyThere} already there, in {ConsoleProgress.Format(summary.Elapsed)}");
        Console.WriteLine($"labelled manifest: {summary.Manifest}");
        foreach (string subset in subsets) Console.WriteLine($"  {subset}");
        return subsets;
    }
}
