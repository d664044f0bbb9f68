using IIP.Engine.Configs;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>
/// One part of a single-file LDM checkpoint seen under diffusers names. LDM tensors of the part that no rule
/// maps stay visible under their LDM name, so validation reports them as unknown.
/// </summary>
public sealed class LdmPartSource : IWeightSource, IHalfWeightSource
{
    private readonly SafetensorsFile _file;
    // diffusers name -> the LDM tensor, the diffusers shape and, for a fused q/k/v projection, which third of its rows
    private readonly Dictionary<string, (string LdmName, int[] Shape, int Third)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    internal LdmPartSource(SafetensorsFile file)
    {
        _file = file;
    }

    internal void Add(string diffusersName, string ldmName, int[] shape, int third = -1)
    {
        if (_entries.TryGetValue(diffusersName, out var existing))
            throw new WeightException($"{_file.Origin}: tensors '{existing.LdmName}' and '{ldmName}' both map to '{diffusersName}'");
        _entries.Add(diffusersName, (ldmName, shape, third));
        _names.Add(diffusersName);
    }

    public string Origin => _file.Origin;

    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The LDM name a diffusers name was read from.</summary>
    public string LdmName(string name) => Entry(name).LdmName;

    public WeightInfo Info(string name)
    {
        var (ldmName, shape, _) = Entry(name);
        return new WeightInfo(name, shape, _file.Info(ldmName).DType);
    }

    public Tensor Load(string name)
    {
        var (ldmName, shape, third) = Entry(name);
        var tensor = new Tensor(shape);
        if (third < 0)
        {
            _file.LoadInto(ldmName, tensor.Span); // a 1x1-conv -> linear squeeze keeps the element order
            return tensor;
        }
        // rows [third * R, (third + 1) * R) of a fused [3R, ..] projection: a contiguous block of the row-major tensor
        var whole = new float[3 * tensor.Length];
        _file.LoadInto(ldmName, whole);
        whole.AsSpan((int)(third * tensor.Length), (int)tensor.Length).CopyTo(tensor.Span);
        return tensor;
    }

    public void LoadHalf(string name, Span<Half> destination)
    {
        var (ldmName, _, third) = Entry(name);
        if (third < 0)
        {
            _file.LoadHalf(ldmName, destination);
            return;
        }
        var whole = new Half[3 * destination.Length];
        _file.LoadHalf(ldmName, whole);
        whole.AsSpan(third * destination.Length, destination.Length).CopyTo(destination);
    }

    private (string LdmName, int[] Shape, int Third) Entry(string name) =>
        _entries.TryGetValue(name, out var entry) ? entry : throw new WeightException($"{Origin}: tensor '{name}' not found");
}

/// <summary>Reads a single-file LDM .safetensors checkpoint: infers the configs, then maps names through <see cref="LdmKeyMap"/>.</summary>
public static class LdmCheckpointFile
{
    /// <summary>True when the header holds UNet tensors under the LDM prefix.</summary>
    public static bool IsLdm(SafetensorsFile file) =>
        file.Header.Names.Any(n => n.StartsWith(LdmKeyMap.PartPrefixes[0].Prefix, StringComparison.Ordinal));

    /// <summary>
    /// The opened file's configs (inferred from the weights, or the ones <paramref name="overrides"/> gives) and per-part
    /// sources (unet, vae, text_encoder), not yet validated.
    /// </summary>
    public static (UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler, IWeightSource[] Parts, int Skipped)
        Read(SafetensorsFile file, CheckpointOverrides? overrides = null)
    {
        overrides ??= CheckpointOverrides.None;
        var shapes = file.Header.Entries.ToDictionary(e => e.Key, e => e.Value.Info.Shape, StringComparer.Ordinal);
        // a part whose config is given is not inferred (inference may refuse what the given config explains)
        string? dir = overrides.ConfigDirectory;
        bool Given(string folder) => dir is not null && File.Exists(Path.Combine(dir, folder, "config.json"));
        var unet = Given("unet") ? UNetConfig.StableDiffusionV14 : LdmConfigInference.InferUNet(file.Origin, shapes);
        var vae = Given("vae") ? VaeConfig.StableDiffusionV14 : LdmConfigInference.InferVae(file.Origin, shapes);
        var textEncoder = Given("text_encoder") ? TextEncoderConfig.StableDiffusionV14 : LdmConfigInference.InferTextEncoder(file.Origin, shapes);
        SchedulerConfig scheduler;
        (unet, vae, textEncoder, scheduler) = overrides.Apply(file.Origin, unet, vae, textEncoder, SchedulerConfig.StableDiffusionV14, schedulerGiven: false);
        var map = LdmKeyMap.For(unet, vae);
        var parts = ModelParts.All.Select(_ => new LdmPartSource(file)).ToArray();
        int skipped = 0;
        foreach (var ldmName in file.Header.Names)
        {
            var part = LdmKeyMap.PartOf(ldmName);
            if (part is null)
            {
                skipped++; // model_ema.*, DDPM schedule buffers, ...: not SD v1 parameters
                continue;
            }
            var shape = file.Info(ldmName).Shape;
            if (OpenClipTextKeys.Map(ldmName, textEncoder.Layers) is { } openClip)
            {
                if (openClip.Count == 0) skipped++;   // SD 2.x's unused last block and CLIP's image-text head
                foreach (var (name, third) in openClip)
                    parts[(int)part].Add(name, ldmName, third < 0 ? shape : [shape[0] / 3, .. shape[1..]], third);
                continue;
            }
            var mapped = map.Map(ldmName);
            if (mapped is { } m && m.Rule.Part == part)
                parts[(int)part].Add(m.DiffusersName, ldmName, LdmKeyMap.DiffusersShape(m.Rule, m.DiffusersName, shape));
            else
                parts[(int)part].Add(ldmName, ldmName, shape);
        }
        // An LDM checkpoint carries no scheduler config; SD v1 and v2 were trained with the scaled_linear
        // 0.00085..0.012 schedule over 1000 steps, sampled with DDIM as in SD v1.4's scheduler config. Whether an SD 2.x
        // model predicts the noise or v is not in its weights: the caller supplies it (CheckpointOverrides.Apply asks).
        return (unet, vae, textEncoder, scheduler, parts, skipped);
    }
}
