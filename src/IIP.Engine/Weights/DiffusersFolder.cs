using IIP.Engine.Configs;

namespace IIP.Engine.Weights;

/// <summary>
/// Locates the files of a diffusers SD v1 pipeline folder: &lt;part&gt;/config.json and the part's weights,
/// preferring the plain file (diffusion_pytorch_model.safetensors / model.safetensors), then the fp16
/// variant (*.fp16.safetensors); a given variant forces &lt;stem&gt;.&lt;variant&gt;.safetensors.
/// </summary>
public static class DiffusersFolder
{
    /// <summary>True when <paramref name="path"/> looks like a diffusers pipeline folder.</summary>
    public static bool IsPipelineFolder(string path) =>
        Directory.Exists(path) && (File.Exists(Path.Combine(path, "model_index.json")) || Directory.Exists(Path.Combine(path, "unet")));

    public static string ConfigPath(string root, ModelPart part)
    {
        string path = Path.Combine(root, part.FolderName(), "config.json");
        if (!File.Exists(path))
            throw new WeightException($"{Path.GetFullPath(root)}: missing {part.FolderName()}/config.json");
        return path;
    }

    public static string SchedulerConfigPath(string root)
    {
        string path = Path.Combine(root, "scheduler", "scheduler_config.json");
        if (!File.Exists(path))
            throw new WeightException($"{Path.GetFullPath(root)}: missing scheduler/scheduler_config.json");
        return path;
    }

    /// <summary>The weights file of <paramref name="part"/>; throws naming what was looked for.</summary>
    public static string WeightsPath(string root, ModelPart part, string? variant)
    {
        string folder = Path.Combine(root, part.FolderName());
        if (!Directory.Exists(folder))
            throw new WeightException($"{Path.GetFullPath(root)}: missing folder {part.FolderName()}/");
        string stem = part.WeightsFileStem();
        string[] candidates = variant is null
            ? [$"{stem}.safetensors", $"{stem}.fp16.safetensors"]
            : [$"{stem}.{variant}.safetensors"];
        foreach (var name in candidates)
        {
            string path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
        }
        string pickle = File.Exists(Path.Combine(folder, $"{stem}.bin")) ? $" ({stem}.bin is a pickle file, which is not read: convert it to safetensors)" : "";
        throw new WeightException($"{Path.GetFullPath(folder)}: no weights file; looked for {string.Join(", ", candidates)}{pickle}");
    }

    /// <summary>
    /// The tokenizer folder to use: <paramref name="tokenizerDir"/> when given (it must hold vocab.json and
    /// merges.txt), else &lt;root&gt;/tokenizer when it holds them, else null.
    /// </summary>
    public static string? TokenizerDirectory(string? root, string? tokenizerDir)
    {
        if (tokenizerDir is not null)
        {
            CheckTokenizerFolder(tokenizerDir);
            return Path.GetFullPath(tokenizerDir);
        }
        if (root is null) return null;
        string folder = Path.Combine(root, "tokenizer");
        return HasTokenizerFiles(folder) ? Path.GetFullPath(folder) : null;
    }

    public static void CheckTokenizerFolder(string folder)
    {
        if (!HasTokenizerFiles(folder))
            throw new WeightException($"{Path.GetFullPath(folder)}: not a tokenizer folder (needs vocab.json and merges.txt)");
    }

    /// <summary>The files a tokenizer folder must hold.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles = ["vocab.json", "merges.txt"];

    /// <summary>
    /// Copies vocab.json and merges.txt from <paramref name="source"/> into <paramref name="destination"/>
    /// (created), replacing earlier copies; the copies are writable by the owner even when the sources are read-only.
    /// </summary>
    public static void CopyTokenizer(string source, string destination)
    {
        CheckTokenizerFolder(source);
        Directory.CreateDirectory(destination);
        foreach (var name in TokenizerFiles)
        {
            string target = Path.Combine(destination, name);
            if (File.Exists(target))
            {
                File.SetAttributes(target, FileAttributes.Normal);
                File.Delete(target);
            }
            File.Copy(Path.Combine(source, name), target);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            else
                File.SetAttributes(target, FileAttributes.Normal);
        }
    }

    private static bool HasTokenizerFiles(string folder) =>
        File.Exists(Path.Combine(folder, "vocab.json")) && File.Exists(Path.Combine(folder, "merges.txt"));

    /// <summary>Reads the four configs of the folder.</summary>
    public static (UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler) ReadConfigs(string root) =>
        (DiffusersConfigs.ReadUNet(ConfigPath(root, ModelPart.Unet)),
         DiffusersConfigs.ReadVae(ConfigPath(root, ModelPart.Vae)),
         DiffusersConfigs.ReadTextEncoder(ConfigPath(root, ModelPart.TextEncoder)),
         DiffusersConfigs.ReadScheduler(SchedulerConfigPath(root)));
}
