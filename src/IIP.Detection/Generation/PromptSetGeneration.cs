using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using IIP.Detection.Files;
using IIP.Engine.Imaging;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Generation;

/// <summary>How a prompt set is generated: images per prompt, the base seed, DDIM steps, guidance, batch and image size.</summary>
public sealed record PromptGenerationSettings(int PerPrompt, long Seed, int Steps, float Guidance, int Batch, int Height, int Width)
{
    /// <summary>Sample k of prompt i starts from the noise of seed + i x SeedStride + k, so the first n samples of a prompt are
    /// the same images whatever the largest count asked for (4 per prompt is a subset of 8).</summary>
    public const int SeedStride = 1000;

    public long SeedOf(int promptIndex, int sample) => Seed + (long)promptIndex * SeedStride + sample;
}

/// <summary>What a generation run did.</summary>
public sealed record PromptGenerationSummary(int Images, int Written, int AlreadyThere, TimeSpan Elapsed, string Manifest);

/// <summary>
/// The generated-image setting of the IIP paper: N images per prompt of a labelled prompt set (DDIM, classifier-free
/// guidance, seeded noise), written as OUT/images/pIIIII-KKK.png with the labelled manifest OUT/generated.jsonl, whose
/// lines inherit each prompt's label. Prompts go through the UNet in batches (each image keeps its own prompt and
/// seed; the text encoder runs once per prompt). Each image is written under a temporary name and renamed, then its
/// manifest line is appended and flushed, so a killed run loses at most the batch in flight, and running it again goes on
/// from there. OUT/generation.json records the model and settings, and a rerun with other settings is refused.
/// </summary>
public static class PromptSetGeneration
{
    public const string ManifestName = "generated.jsonl", SettingsName = "generation.json", ImageFolder = "images";

    public static PromptGenerationSummary Run(StableDiffusion sd, string modelFingerprint, IReadOnlyList<PromptEntry> prompts, string promptsSha256,
        string outDirectory, PromptGenerationSettings s, IProgress<string>? progress = null, CancellationToken cancel = default)
    {
        if (s.PerPrompt < 1 || s.PerPrompt > PromptGenerationSettings.SeedStride)
            throw new ArgumentException($"--per-prompt {s.PerPrompt} must be between 1 and {PromptGenerationSettings.SeedStride}");
        if (s.Batch < 1) throw new ArgumentException($"--batch {s.Batch} must be at least 1");
        var watch = Stopwatch.StartNew();
        Directory.CreateDirectory(Path.Combine(outDirectory, ImageFolder));
        CheckSettings(Path.Combine(outDirectory, SettingsName), modelFingerprint, promptsSha256, s);

        string manifest = Path.Combine(outDirectory, ManifestName);
        var done = LoadDone(manifest, outDirectory);
        var pending = (from p in prompts from k in Enumerable.Range(0, s.PerPrompt) where !done.Contains((p.Index, k)) select (Prompt: p, Sample: k)).ToList();
        int total = prompts.Count * s.PerPrompt, already = total - pending.Count;
        progress?.Report($"{total} images ({prompts.Count} prompts x {s.PerPrompt}): {already} already there, {pending.Count} to generate");

        int latentHeight = s.Height / sd.Vae.DownsampleFactor, latentWidth = s.Width / sd.Vae.DownsampleFactor;
        int channels = sd.Unet.Config.InChannels;
        var uncond = sd.Backend.ToHost(sd.EncodePrompts([""]));                 // [1, 77, D], shared by every image
        var timesteps = sd.Scheduler.Timesteps(s.Steps);
        int ratio = sd.Scheduler.StepRatio(s.Steps);
        var embeddings = new Dictionary<int, Tensor>();                         // prompt index -> [1, 77, D]
        int written = 0;
        using var writer = new StreamWriter(manifest, append: true);
        foreach (var batch in pending.Chunk(s.Batch))
        {
            cancel.ThrowIfCancellationRequested();
            foreach (var item in batch.Where(i => !embeddings.ContainsKey(i.Prompt.Index)))
                embeddings[item.Prompt.Index] = sd.Backend.ToHost(sd.EncodePrompts([item.Prompt.Prompt]));
            var cond = Tensor.ConcatBatch(batch.Select(i => embeddings[i.Prompt.Index]).ToArray());              // [B, 77, D]
            var noise = Tensor.ConcatBatch(batch.Select(i =>
                new GaussianNoise(s.SeedOf(i.Prompt.Index, i.Sample)).Sample(1, channels, latentHeight, latentWidth)).ToArray());   // x_T [B, C, h, w]
            var latents = sd.Sampler.GuidedSample(noise, timesteps, ratio, uncond, cond, s.Guidance).Latents;
            var pixels = sd.DecodeLatent(latents);                                                                   // [B, 3, H, W] in [-1, 1]
            for (int b = 0; b < batch.Length; b++)
            {
                var (prompt, sample) = batch[b];
                string relative = $"{ImageFolder}/p{prompt.Index:D5}-{sample:D3}.png";
                AtomicFile.Write(Path.Combine(outDirectory, relative), temporary => ImageFile.SavePng(ImageTensors.ToImage(pixels, b), temporary));
                writer.WriteLine(new GeneratedImage(relative, prompt, sample, s.SeedOf(prompt.Index, sample), s.Steps, s.Guidance).ToJsonLine());
            }
            writer.Flush();
            written += batch.Length;
            progress?.Report($"generated {already + written}/{total} images ({written / Math.Max(watch.Elapsed.TotalSeconds, 1e-9):F2} images/s)");
            // pending runs prompt by prompt, so the prompts before the batch's last are finished with
            int last = batch[^1].Prompt.Index;
            foreach (int index in embeddings.Keys.Where(i => i != last).ToList()) embeddings.Remove(index);
        }
        return new PromptGenerationSummary(total, written, already, watch.Elapsed, manifest);
    }

    /// <summary>
    /// Writes OUT/generated-per-prompt-N.jsonl for each N: the manifest's lines of samples below N, in prompt order (the
    /// paper's 4, 8 and 16 images per prompt from one run). Returns the paths.
    /// </summary>
    public static IReadOnlyList<string> WriteSubsets(string outDirectory, IEnumerable<int> counts)
    {
        string manifest = Path.Combine(outDirectory, ManifestName);
        var lines = File.ReadLines(manifest).Select(l => (Line: l, Key: GeneratedImage.Key(l))).Where(l => l.Key is not null)
                        .GroupBy(l => (l.Key!.Value.PromptIndex, l.Key!.Value.Sample)).Select(g => g.Last())
                        .OrderBy(l => l.Key!.Value.PromptIndex).ThenBy(l => l.Key!.Value.Sample).ToList();
        var paths = new List<string>();
        foreach (int n in counts.Distinct().Order())
        {
            string path = Path.Combine(outDirectory, $"generated-per-prompt-{n}.jsonl");
            AtomicFile.WriteAllLines(path, lines.Where(l => l.Key!.Value.Sample < n).Select(l => l.Line));
            paths.Add(path);
        }
        return paths;
    }

    // the (prompt, sample) pairs the manifest records with their image present; a line cut short by a crash is dropped
    private static HashSet<(int, int)> LoadDone(string manifest, string outDirectory)
    {
        var done = new HashSet<(int, int)>();
        if (!File.Exists(manifest)) return done;
        var lines = File.ReadAllLines(manifest);
        var good = new List<string>();
        foreach (string line in lines)
        {
            if (GeneratedImage.Key(line) is not { } key || !File.Exists(Path.Combine(outDirectory, key.Image))) continue;
            if (done.Add((key.PromptIndex, key.Sample))) good.Add(line);
        }
        if (good.Count != lines.Length)
        {
            AtomicFile.WriteAllLines(manifest, good);
        }
        return done;
    }

    // the settings every image of a folder must share; the images per prompt may grow between runs
    private static void CheckSettings(string path, string modelFingerprint, string promptsSha256, PromptGenerationSettings s)
    {
        var now = new JsonObject
        {
            ["model_fingerprint"] = modelFingerprint, ["prompts_sha256"] = promptsSha256, ["seed"] = s.Seed, ["steps"] = s.Steps,
            ["guidance"] = s.Guidance, ["height"] = s.Height, ["width"] = s.Width,
        };
        if (File.Exists(path))
        {
            var before = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                         ?? throw new FormatException($"{path}: not a JSON object; move the folder aside or remove the file");
            var differ = now.Where(p => before[p.Key]?.ToJsonString() != p.Value?.ToJsonString())
                            .Select(p => $"{p.Key} {before[p.Key]?.ToJsonString() ?? "(none)"} -> {p.Value?.ToJsonString()}").ToList();
            if (differ.Count > 0)
                throw new ArgumentException($"{Path.GetDirectoryName(path)}: holds images generated with other settings ({string.Join("; ", differ)}); " +
                                            "use another --out, or the same settings to go on");
            return;
        }
        AtomicFile.WriteAllText(path, now.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
