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
    private readonly Dictionary<string, (string LdmName, int[] Shape)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    internal LdmPartSource(SafetensorsFile file)
    {
        _file = file;
    }

    internal void Add(string diffusersName, string ldmName, int[] shape)
    {
        if (_entries.TryGetValue(diffusersName, out var existing))
            throw new WeightException($"{_file.Origin}: tensors '{existing.LdmName}' and '{ldmName}' both map to '{diffusersName}'");
        _entries.Add(diffusersName, (ldmName, shape));
        _names.Add(diffusersName);
    }

    public string Origin => _file.Origin;

    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The LDM name a diffusers name was read from.</summary>
    public string LdmName(string name) => Entry(name).LdmName;

    public WeightInfo Info(string name)
    {
        var (ldmName, shape) = Entry(name);
        return new WeightInfo(name, shape, _file.Info(ldmName).DType);
    }

    public Tensor Load(string name)
    {
        var (ldmName, shape) = Entry(name);
        var tensor = new Tensor(shape);
        _file.LoadInto(ldmName, tensor.Span); // a 1x1-conv -> linear squeeze keeps the element order
        return tensor;
    }

    public void LoadHalf(string name, Span<Half> destination) => _file.LoadHalf(Entry(name).LdmName, destination);

    private (string LdmName, int[] Shape) Entry(string name) =>
        _entries.TryGetValue(name, out var entry) ? entry : throw new WeightException($"{Origin}: tensor '{name}' not found");
}

/// <summary>Reads a single-file LDM .safetensors checkpoint: infers the configs, then maps names through <see cref="LdmKeyMap"/>.</summary>
public static class LdmCheckpointFile
{
    /// <summary>True when the header holds UNet tensors under the LDM prefix.</summary>
    public static bool IsLdm(SafetensorsFile file) =>
        file.Header.Names.Any(n => n.StartsWith(LdmKeyMap.PartPrefixes[0].Prefix, StringComparison.Ordinal));

    /// <summary>The opened file's configs and per-part sources (unet, vae, text_encoder), not yet validated.</summary>
    public static (UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler, IWeightSource[] Parts, int Skipped)
        Read(SafetensorsFile file)
    {
        var shapes = file.Header.Entries.ToDictionary(e => e.Key, e => e.Value.Info.Shape, StringComparer.Ordinal);
        var unet = LdmConfigInference.InferUNet(file.Origin, shapes);
        var vae = LdmConfigInference.InferVae(file.Origin, shapes);
        var textEncoder = LdmConfigInference.InferTextEncoder(file.Origin, shapes);
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
            var mapped = map.Map(ldmName);
            if (mapped is { } m && m.Rule.Part == part)
                parts[(int)part].Add(m.DiffusersName, ldmName, LdmKeyMap.DiffusersShape(m.Rule, m.DiffusersName, shape));
            else
                parts[(int)part].Add(ldmName, ldmName, shape);
        }
        // An LDM checkpoint carries no scheduler config; SD v1 was trained with the scaled_linear
        // 0.00085..0.012 schedule over 1000 steps, sampled with DDIM as in SD v1.4's scheduler config.
        return (unet, vae, textEncoder, SchedulerConfig.StableDiffusionV14, parts, skipped);
    }
}
