using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IIP.Detection.Augmentation;
using IIP.Detection.Files;
using IIP.Engine.Imaging;

namespace IIP.Cli.Commands.Augment;

/// <summary>`iip augment`: augmented copies of a labelled image set, with their labels, for a robustness study.</summary>
public static class AugmentCommand
{
    public static Command Create()
    {
        var images = new Option<string>("--images") { Description = "a JSONL manifest, one object per line with \"image\" (a path, relative to the manifest's folder or absolute) and its labels", Required = true };
        var output = new Option<string>("--out") { Description = "folder for the copies (DIR/KIND/...) and their manifest DIR/augmented.jsonl", Required = true };
        var kinds = new Option<string[]>("--kinds")
        {
            Description = $"augmentations (comma-separated or repeated): {string.Join(", ", ImageAugmentation.Kinds)}",
            DefaultValueFactory = _ => [.. ImageAugmentation.Kinds], AllowMultipleArgumentsPerToken = true,
        };
        var seed = new Option<int>("--seed") { Description = "seed of the random crops, angles, jitter factors and noise (each image and kind draws from its own stream)", DefaultValueFactory = _ => 0 };
        var d = new AugmentationSettings();
        var crop = new Option<double>("--crop-scale") { Description = "crop: fraction of the area kept before resizing back", DefaultValueFactory = _ => d.CropScale };
        var rotation = new Option<double>("--rotation") { Description = "rotate: the largest angle, degrees (uniform in +- this)", DefaultValueFactory = _ => d.RotationDegrees };
        var jitter = new Option<double>("--jitter") { Description = "jitter: brightness, contrast and saturation factors uniform in 1 +- this", DefaultValueFactory = _ => d.Jitter };
        var blur = new Option<double>("--blur-sigma") { Description = "blur: Gaussian sigma, pixels", DefaultValueFactory = _ => d.BlurSigma };
        var quality = new Option<int>("--jpeg-quality") { Description = "jpeg: re-encoding quality, 1 to 100", DefaultValueFactory = _ => d.JpegQuality };
        var noise = new Option<double>("--noise-std") { Description = "noise: standard deviation as a fraction of the pixel range", DefaultValueFactory = _ => d.NoiseStd };
        var command = new Command("augment",
            "Write augmented copies of a labelled image set for a robustness study: for every image of the manifest and every kind, " +
            "DIR/KIND/<the image's path>.png (.jpg for jpeg), and DIR/augmented.jsonl listing the originals (augmentation \"none\") and " +
            "every copy with the original's labels, an \"augmentation\" field and its \"source\". Scan that manifest and evaluate it " +
            "as any other. A rerun keeps the copies already written (the same seed draws the same ones); an image that cannot be " +
            "read is reported and left out, and the exit code is 1.")
        {
            images, output, kinds, seed, crop, rotation, jitter, blur, quality, noise,
        };
        command.SetAction(parse => CliErrors.Guard(() => Run(parse.GetValue(images)!, parse.GetValue(output)!,
            (parse.GetValue(kinds) ?? []).SelectMany(k => k.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct().ToArray(),
            parse.GetValue(seed), new AugmentationSettings
            {
                CropScale = parse.GetValue(crop), RotationDegrees = parse.GetValue(rotation), Jitter = parse.GetValue(jitter),
                BlurSigma = parse.GetValue(blur), JpegQuality = parse.GetValue(quality), NoiseStd = parse.GetValue(noise),
            })));
        return command;
    }

    public static int Run(string manifestPath, string outDir, IReadOnlyList<string> kinds, int seed, AugmentationSettings settings)
    {
        settings.Validate();
        if (kinds.Count == 0) throw new ArgumentException("--kinds: give at least one augmentation");
        foreach (string kind in kinds)
            if (!ImageAugmentation.Kinds.Contains(kind))
                throw new ArgumentException($"--kinds: unknown augmentation '{kind}' (one of {string.Join(", ", ImageAugmentation.Kinds)})");
        if (!File.Exists(manifestPath)) throw new ArgumentException($"{manifestPath}: the manifest does not exist");
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        Directory.CreateDirectory(outDir);
        var lines = new List<string>();
        int written = 0, kept = 0, failed = 0;
        foreach (var (number, record) in JsonLines.Objects(manifestPath))
        {
            string image = record["image"]?.GetValue<string>() ?? throw new ArgumentException($"{manifestPath}:{number}: no \"image\"");
            string source = Path.IsPathRooted(image) ? image : Path.Combine(baseDir, image);
            RgbImage pixels;
            try
            {
                pixels = ImageFile.Load(source);
            }
            catch (ImageLoadException e)
            {
                // no copies, but the original stays in the manifest: a scan of it records the image as an error
                Console.Error.WriteLine($"error: {e.Message}; no copies made, kept in the manifest as the original");
                lines.Add(Record(record, Path.GetFullPath(source), "none", image));
                failed++;
                continue;
            }
            lines.Add(Record(record, Path.GetFullPath(source), "none", image));
            foreach (string kind in kinds)
            {
                string relative = Path.Combine(kind, Stem(image) + (kind == "jpeg" ? ".jpg" : ".png"));
                string target = Path.Combine(outDir, relative);
                if (File.Exists(target)) kept++;
                else
                {
                    var augmented = ImageAugmentation.Apply(kind, pixels, settings, new Random(StreamSeed(seed, kind, image)));
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    // a killed run never leaves a half-written copy under the final name
                    AtomicFile.Write(target, temporary =>
                    {
                        if (augmented.Jpeg is { } jpeg) File.WriteAllBytes(temporary, jpeg);
                        else ImageFile.SavePng(augmented.Image, temporary);
                    });
                    written++;
                }
                lines.Add(Record(record, relative.Replace('\\', '/'), kind, image));
            }
        }
        string manifestOut = Path.Combine(outDir, "augmented.jsonl");
        AtomicFile.WriteAllLines(manifestOut, lines);
        Console.WriteLine($"{written} copies written, {kept} kept from an earlier run, {failed} images unreadable; {lines.Count} records in {manifestOut}");
        return failed > 0 ? CliErrors.Failed : CliErrors.Ok;
    }

    // the original's labels with the copy's path, its augmentation and the image it was made from
    private static string Record(JsonObject original, string image, string augmentation, string source)
    {
        var copy = (JsonObject)original.DeepClone();
        copy["image"] = image;
        copy["augmentation"] = augmentation;
        copy["source"] = source;
        return copy.ToJsonString();
    }

    // the image's path without its extension, made relative and kept inside the output folder
    private static string Stem(string image)
    {
        string withoutExtension = Path.ChangeExtension(image, null)!.Replace('\\', '/');
        var parts = withoutExtension.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p is not "." and not "..");
        return Path.Combine([.. parts]);
    }

    // one random stream per (seed, kind, image): a copy does not depend on which others are made or in what order
    private static int StreamSeed(int seed, string kind, string image) =>
        BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\0{kind}\0{image}")));
}
