using IIP.Engine.Configs;

namespace IIP.Engine.Weights;

/// <summary>
/// An opened SD v1 or 2.x checkpoint in any supported layout: the four configs, one weight source per part under
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

    private StableDiffusionCheckpoint(string path, CheckpointLayout layout,
        UNetConfig unet, VaeConfig vae, TextEncoderConfig textEncoder, SchedulerConfig scheduler,
        IWeightSource[] weights, string? tokenizerDirectory, IDisposable[] owned)
    {
        Path = path;
        Layout = layout;
        Unet = unet;
        Vae = vae;
        TextEncoder = textEncoder;
        Scheduler = scheduler;
        UnetWeights = weights[0];
        VaeWeights = weights[1];
        TextEncoderWeights = weights[2];
        TokenizerDirectory = tokenizerDirectory;
        _owned = owned;
    }

    /// <summary>
    /// Validates the raw per-part sources (unet, vae, text_encoder order) against the configs and builds the
    /// checkpoint over <see cref="ValidatedWeightSource"/> views. On failure disposes <paramref name="owned"/>
    /// and throws one <see cref="WeightException"/> listing every problem.
    /// </summary>
    internal static StableDiffusionCheckpoint Create(string path, CheckpointLayout layout,
        UNetConfig unet, VaeConfig vae, TextEncoderConfig textEncoder, SchedulerConfig scheduler,
        IWeightSource[] rawWeights, string? tokenizerDirectory, IDisposable[] owned)
    {
        try
        {
            var problems = new List<WeightProblem>();
            var views = new IWeightSource[3];
            foreach (var part in ModelParts.All)
            {
                var expected = SdParameterShapes.For(part, unet, vae, textEncoder);
                problems.AddRange(WeightValidator.Compare(part, rawWeights[(int)part], expected));
                views[(int)part] = new ValidatedWeightSource(rawWeights[(int)part], expected);
            }
            WeightValidator.ThrowIfAny(path, problems, part => rawWeights[(int)part].Origin);
            return new StableDiffusionCheckpoint(path, layout, unet, vae, textEncoder, scheduler, views, tokenizerDirectory, owned);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
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
    /// <paramref name="variant"/> forces diffusers weights files named &lt;stem&gt;.&lt;variant&gt;.safetensors;
    /// <paramref name="overrides"/> supplies what a single file cannot say (<see cref="CheckpointOverrides"/>).
    /// Throws <see cref="WeightException"/> naming the path and the problem.
    /// </summary>
    public static StableDiffusionCheckpoint Open(string path, string? tokenizerDir = null, string? variant = null, CheckpointOverrides? overrides = null)
    {
        string full = System.IO.Path.GetFullPath(path);
        overrides ??= CheckpointOverrides.None;
        overrides.RequireConfigDirectory();
        if (Directory.Exists(full))
        {
            if (!DiffusersFolder.IsPipelineFolder(full))
                throw new WeightException($"{full}: not a diffusers pipeline folder (no model_index.json or unet/)");
            if (overrides.ConfigDirectory is not null)
                throw new WeightException($"{full}: a diffusers folder carries its own configs; --model-config is for single-file checkpoints");
            return OpenDiffusers(full, tokenizerDir, variant, overrides);
        }
        if (!File.Exists(full))
            throw new WeightException($"{full}: checkpoint not found (expected a diffusers folder, a .safetensors or a .iipw file)");
        if (variant is not null)
            throw new WeightException($"{full}: a variant ('{variant}') applies only to diffusers folders");
        if (full.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase) || full.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
            throw new WeightException($"{full}: pickle checkpoints (.ckpt/.pt) are not read; convert to .safetensors first");
        if (full.EndsWith(".iipw", StringComparison.OrdinalIgnoreCase) || PackedWeightsFile.HasMagic(full))
        {
            if (!overrides.IsEmpty)
                throw new WeightException($"{full}: a packed .iipw file carries the configs it was packed with; --model-config and --prediction-type do not apply");
            return OpenPacked(full, tokenizerDir);
        }
        if (full.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return OpenLdm(full, tokenizerDir, overrides);
        throw new WeightException($"{full}: unrecognized checkpoint file (expected .safetensors or .iipw)");
    }

    private static StableDiffusionCheckpoint OpenPacked(string path, string? tokenizerDir)
    {
        var contents = PackedWeightsFile.Read(path);
        string? tokenizer;
        try
        {
            tokenizer = DiffusersFolder.TokenizerDirectory(null, tokenizerDir);
            if (tokenizer is null && contents.TokenizerFolder is not null)
            {
                string sibling = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, contents.TokenizerFolder);
                tokenizer = Directory.Exists(sibling) ? DiffusersFolder.TokenizerDirectory(null, sibling) : null;
            }
        }
        catch
        {
            contents.File.Dispose();
            throw;
        }
        return Create(path, CheckpointLayout.Packed, contents.Unet, contents.Vae, contents.TextEncoder, contents.Scheduler,
            contents.Parts, tokenizer, [contents.File]);
    }

    private static StableDiffusionCheckpoint OpenLdm(string path, string? tokenizerDir, CheckpointOverrides overrides)
    {
        var file = SafetensorsFile.Open(path);
        try
        {
            if (!LdmCheckpointFile.IsLdm(file))
                throw new WeightException($"{path}: not a single-file SD checkpoint (no {LdmKeyMap.PartPrefixes[0].Prefix}* tensors); for a diffusers model pass its folder");
            var (unet, vae, textEncoder, scheduler, parts, _) = LdmCheckpointFile.Read(file, overrides);
            string? tokenizer = DiffusersFolder.TokenizerDirectory(null, tokenizerDir);
            return Create(path, CheckpointLayout.SingleFileLdm, unet, vae, textEncoder, scheduler, parts, tokenizer, [file]);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static StableDiffusionCheckpoint OpenDiffusers(string root, string? tokenizerDir, string? variant, CheckpointOverrides overrides)
    {
        var (unet, vae, textEncoder, scheduler) = DiffusersFolder.ReadConfigs(root);
        (unet, vae, textEncoder, scheduler) = overrides.Apply(root, unet, vae, textEncoder, scheduler, schedulerGiven: true);
        string? tokenizer = DiffusersFolder.TokenizerDirectory(root, tokenizerDir);
        var files = new List<SafetensorsFile>();
        try
        {
            foreach (var part in ModelParts.All)
                files.Add(SafetensorsFile.Open(DiffusersFolder.WeightsPath(root, part, variant)));
        }
        catch
        {
            foreach (var file in files) file.Dispose();
            throw;
        }
        return Create(root, CheckpointLayout.Diffusers, unet, vae, textEncoder, scheduler, [.. files], tokenizer, [.. files]);
    }

    public void Dispose()
    {
        foreach (var item in _owned) item.Dispose();
    }
}
