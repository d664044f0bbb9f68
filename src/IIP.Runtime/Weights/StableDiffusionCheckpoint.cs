using IIP.Runtime.Models;

namespace IIP.Runtime.Weights;

/// <summary>
/// An opened SD v1 checkpoint in any supported layout: the four configs, one weight source per part under
/// diffusers names, and the tokenizer folder. Holds the memory-mapped files open until disposed.
/// </summary>
public sealed class StableDiffusionCheckpoint : IDisposable
{
    private readonly IDisposable[] _owned;

    /// <summary>The path that was opened (folder or file), absolute.</summary>
    public string Path { get; }

    public CheckpointLayout Layout { get; }

    public UNetConfig Unet { get; }

    public VaeConfig Vae { get; }

    public TextEncoderConfig TextEncoder { get; }

    public SchedulerConfig Scheduler { get; }

    public IWeightSource UnetWeights { get; }

    public IWeightSource VaeWeights { get; }

    public IWeightSource TextEncoderWeights { get; }

    /// <summary>Folder with vocab.json and merges.txt, or null when the checkpoint carries none and none was given.</summary>
    public string? TokenizerDirectory { get; }

    internal StableDiffusionCheckpoint(string path, CheckpointLayout layout,
        UNetConfig unet, VaeConfig vae, TextEncoderConfig textEncoder, SchedulerConfig scheduler,
        IWeightSource unetWeights, IWeightSource vaeWeights, IWeightSource textEncoderWeights,
        string? tokenizerDirectory, IDisposable[] owned)
    {
        Path = path;
        Layout = layout;
        Unet = unet;
        Vae = vae;
        TextEncoder = textEncoder;
        Scheduler = scheduler;
        UnetWeights = unetWeights;
        VaeWeights = vaeWeights;
        TextEncoderWeights = textEncoderWeights;
        TokenizerDirectory = tokenizerDirectory;
        _owned = owned;
    }

    public IWeightSource Weights(ModelPart part) => part switch
    {
        ModelPart.Unet => UnetWeights,
        ModelPart.Vae => VaeWeights,
        ModelPart.TextEncoder => TextEncoderWeights,
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    /// <summary>
    /// Opens <paramref name="path"/>: a diffusers folder, a single-file LDM .safetensors or a packed .iipw file.
    /// <paramref name="tokenizerDir"/> overrides (or, for single files, supplies) the tokenizer folder;
    /// <paramref name="variant"/> forces diffusers weights files named &lt;stem&gt;.&lt;variant&gt;.safetensors.
    /// Throws <see cref="WeightException"/> naming the path and the problem.
    /// </summary>
    public static StableDiffusionCheckpoint Open(string path, string? tokenizerDir = null, string? variant = null)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            if (!DiffusersFolder.IsPipelineFolder(full))
                throw new WeightException($"{full}: not a diffusers pipeline folder (no model_index.json or unet/)");
            return OpenDiffusers(full, tokenizerDir, variant);
        }
        if (!File.Exists(full))
            throw new WeightException($"{full}: checkpoint not found (expected a diffusers folder, a .safetensors or a .iipw file)");
        if (variant is not null)
            throw new WeightException($"{full}: a variant ('{variant}') applies only to diffusers folders");
        if (full.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase) || full.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
            throw new WeightException($"{full}: pickle checkpoints (.ckpt/.pt) are not read; convert to .safetensors first");
        throw new WeightException($"{full}: unrecognized checkpoint file (expected .safetensors or .iipw)");
    }

    private static StableDiffusionCheckpoint OpenDiffusers(string root, string? tokenizerDir, string? variant)
    {
        var (unet, vae, textEncoder, scheduler) = DiffusersFolder.ReadConfigs(root);
        string? tokenizer = DiffusersFolder.TokenizerDirectory(root, tokenizerDir);
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (var part in ModelParts.All)
                files.Add(SafetensorsFile.Open(DiffusersFolder.WeightsPath(root, part, variant)));
            return new StableDiffusionCheckpoint(root, CheckpointLayout.Diffusers, unet, vae, textEncoder, scheduler,
                files[0], files[1], files[2], tokenizer, [.. files]);
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
    }
}
