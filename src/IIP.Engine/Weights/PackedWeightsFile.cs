using IIP.Engine.Configs;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>One part of a packed .iipw file: fp16 tensors read from the mapped file.</summary>
public sealed class PackedPartSource : IWeightSource, IHalfWeightSource
{
    private readonly MappedFile _file;
    private readonly long _dataStart;
    private readonly Dictionary<string, (int[] Shape, long Offset, long Bytes)> _entries = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];

    internal PackedPartSource(MappedFile file, long dataStart)
    {
        _file = file;
        _dataStart = dataStart;
    }

    internal bool TryAdd(string name, int[] shape, long offset, long bytes)
    {
        if (!_entries.TryAdd(name, (shape, offset, bytes))) return false;
        _names.Add(name);
        return true;
    }

    public string Origin => _file.Origin;

    public IReadOnlyCollection<string> Names => _names;

    public WeightInfo Info(string name) => new(name, Entry(name).Shape, WeightDType.F16);

    public Tensor Load(string name)
    {
        var tensor = new Tensor(Entry(name).Shape);
        WeightDTypes.ToSingle(WeightDType.F16, Raw(name), tensor.Span);
        return tensor;
    }

    public void LoadHalf(string name, Span<Half> destination)
    {
        var raw = MemoryMarshal.Cast<byte, Half>(Raw(name));
        if (destination.Length != raw.Length)
            throw new ArgumentException($"destination has {destination.Length} elements, tensor '{name}' has {raw.Length}");
        raw.CopyTo(destination);
    }

    /// <summary>The stored fp16 bytes (256-byte aligned in the file); valid until the checkpoint is disposed.</summary>
    public ReadOnlySpan<byte> Raw(string name)
    {
        var entry = Entry(name);
        return _file.Span(_dataStart + entry.Offset, entry.Bytes, name);
    }

    private (int[] Shape, long Offset, long Bytes) Entry(string name) =>
        _entries.TryGetValue(name, out var entry) ? entry : throw new WeightException($"{Origin}: tensor '{name}' not found");
}

/// <summary>Reads and validates a packed .iipw file (layout in <see cref="PackedWeightsFormat"/>).</summary>
public static class PackedWeightsFile
{
    /// <summary>True when the file starts with the packed magic.</summary>
    public static bool HasMagic(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> magic = stackalloc byte[4];
        return RandomAccess.Read(handle, magic, 0) == 4 && magic.SequenceEqual(PackedWeightsFormat.Magic);
    }

    public sealed record Contents(UNetConfig Unet, VaeConfig Vae, TextEncoderConfig TextEncoder, SchedulerConfig Scheduler,
        IWeightSource[] Parts, string? TokenizerFolder, IDisposable File);

    /// <summary>
    /// Validates the preamble, header and tensor table against the file size, then maps the file. Every problem,
    /// a truncated file, a header that is not UTF-8 JSON, a bad config or tensor entry, is a
    /// <see cref="WeightException"/> naming the file.
    /// </summary>
    public static Contents Read(string origin)
    {
        long length;
        byte[] json;
        using (var handle = File.OpenHandle(origin, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            length = RandomAccess.GetLength(handle);
            if (length < PackedWeightsFormat.PreambleBytes)
                throw new WeightException($"{origin}: truncated packed weight file ({length} bytes)");
            Span<byte> preamble = stackalloc byte[PackedWeightsFormat.PreambleBytes];
            RandomAccess.Read(handle, preamble, 0);
            if (!preamble[..4].SequenceEqual(PackedWeightsFormat.Magic))
                throw new WeightException($"{origin}: not a packed weight file (bad magic)");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(preamble[4..]);
            if (version != PackedWeightsFormat.Version)
                throw new WeightException($"{origin}: packed format version {version}; this engine reads version {PackedWeightsFormat.Version}");
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(preamble[8..]);
            if (headerLength > (ulong)(length - PackedWeightsFormat.PreambleBytes) || headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new WeightException($"{origin}: truncated packed weight file or bad header: header length {headerLength} in a {length}-byte file");
            json = new byte[headerLength];
            int read = RandomAccess.Read(handle, json, PackedWeightsFormat.PreambleBytes);
            if (read != json.Length)
                throw new WeightException($"{origin}: truncated packed weight file: read {read} of {headerLength} header bytes");
        }
        long dataStart = PackedWeightsFormat.Align(PackedWeightsFormat.PreambleBytes + json.Length);

        int invalid = SafetensorsHeader.FirstInvalidUtf8Byte(json);
        if (invalid >= 0)
            throw new WeightException($"{origin}: bad packed header: not valid UTF-8 (byte {invalid} of the header is 0x{json[invalid]:x2})");
        // The writer emits strict JSON: parse it strictly once, so the config reader (which also takes comments and
        // trailing commas, as config.json files may have them) and the tensor table see the same document.
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new WeightException($"{origin}: bad packed header: not valid JSON ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new WeightException($"{origin}: bad packed header: the JSON is a {document.RootElement.ValueKind}, not an object");
            try
            {
                return ReadHeader(origin, json, document.RootElement, length, dataStart);
            }
            catch (InvalidOperationException e)
            {
                // A \u escape that is half a surrogate pair: System.Text.Json parses it and throws when the string is read.
                throw new WeightException($"{origin}: bad packed header: a string holds an invalid \\u escape ({e.Message})");
            }
        }
    }

    private static Contents ReadHeader(string origin, byte[] json, JsonElement root, long length, long dataStart)
    {
        using var header = ConfigJson.Parse(origin, json);
        UNetConfig unet;
        VaeConfig vae;
        TextEncoderConfig textEncoder;
        SchedulerConfig scheduler;
        using (var configs = header.Child("configs"))
        {
            using (var c = configs.Child("unet")) unet = DiffusersConfigs.ReadUNet(PositiveGroups(c, UNetConfig.StableDiffusionV14.NormGroups));
            using (var c = configs.Child("vae")) vae = DiffusersConfigs.ReadVae(PositiveGroups(c, VaeConfig.StableDiffusionV14.NormGroups));
            using (var c = configs.Child("text_encoder")) textEncoder = DiffusersConfigs.ReadTextEncoder(c);
            using (var c = configs.Child("scheduler")) scheduler = DiffusersConfigs.ReadScheduler(c);
        }
        string? tokenizer = header.String("tokenizer", null);
        if (tokenizer is not null && (tokenizer != Path.GetFileName(tokenizer) || tokenizer is "." or ".."))
            throw new WeightException($"{origin}: packed header 'tokenizer' must be a sibling folder name, not '{tokenizer}'");

        var file = MappedFile.Open(origin, length);
        try
        {
            var parts = ModelParts.All.Select(_ => new PackedPartSource(file, dataStart)).ToArray();
            if (!root.TryGetProperty("tensors", out var table) || table.ValueKind != JsonValueKind.Array)
                throw new WeightException($"{origin}: packed header has no 'tensors' array");
            foreach (var item in table.EnumerateArray())
                AddTensor(origin, item, parts, length - dataStart);
            return new Contents(unet, vae, textEncoder, scheduler, parts, tokenizer, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Rejects a norm_num_groups below 1 before the config reader divides the channel counts by it, which threw a
    /// DivideByZeroException naming no file (tests/fuzz/regressions/iipw/*-norm-groups-zero.iipw).
    /// </summary>
    private static ConfigJson PositiveGroups(ConfigJson config, int fallback)
    {
        int groups = config.Int("norm_num_groups", fallback);
        if (groups < 1)
            throw config.Error("norm_num_groups", $"is {groups}; it must be at least 1");
        return config;
    }

    private static void AddTensor(string origin, JsonElement item, PackedPartSource[] parts, long dataLength)
    {
        string name = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
            ? n.GetString()! : throw new WeightException($"{origin}: packed tensor entry without a 'name': {Clip(item.GetRawText())}");
        string Where() => $"{origin}: tensor '{name}'";
        string partName = item.TryGetProperty("part", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
        if (partName is not ("unet" or "vae" or "text_encoder"))
            throw new WeightException($"{Where()}: unknown part '{partName}' (unet, vae, text_encoder)");
        string dtype = item.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
        if (dtype != "F16")
            throw new WeightException($"{Where()}: dtype '{dtype}'; packed files hold F16 only");
        if (!item.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new WeightException($"{Where()}: missing 'shape'");
        var shape = shapeElement.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int v) && v >= 0 ? v
            : throw new WeightException($"{Where()}: bad shape {Clip(shapeElement.GetRawText())}")).ToArray();
        long offset = ReadLong(item, "offset", Where);
        long bytes = ReadLong(item, "bytes", Where);
        long elements = 1;
        foreach (int dim in shape)
        {
            if (dim != 0 && elements > long.MaxValue / 2 / dim)
                throw new WeightException($"{Where()}: shape [{string.Join(", ", shape)}] is too large");
            elements *= dim;
        }
        if (bytes != elements * 2)
            throw new WeightException($"{Where()}: shape [{string.Join(", ", shape)}] x F16 needs {elements * 2} bytes, the table says {bytes}");
        if (offset % PackedWeightsFormat.Alignment != 0)
            throw new WeightException($"{Where()}: offset {offset} is not {PackedWeightsFormat.Alignment}-byte aligned");
        if (offset > dataLength - bytes)
            throw new WeightException($"{Where()}: bytes [{offset}, {offset + bytes}) out of range: the data section has {dataLength} bytes (file truncated?)");
        if (!parts[(int)ModelParts.Parse(partName)].TryAdd(name, shape, offset, bytes))
            throw new WeightException($"{Where()}: appears twice in part {partName}");
    }

    private static long ReadLong(JsonElement item, string key, Func<string> where) =>
        item.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long result) && result >= 0
            ? result
            : throw new WeightException($"{where()}: missing or bad '{key}'");

    private static string Clip(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
