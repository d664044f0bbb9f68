using System.Text.Json;

namespace IIP.Runtime.Weights;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the data section.</summary>
public sealed record SafetensorsEntry(WeightInfo Info, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The parsed and validated JSON header of a safetensors file:
/// <c>{"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}</c>.
/// </summary>
public sealed class SafetensorsHeader
{
    /// <summary>Headers above this are rejected as corrupt (the format's reference reader uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>Insertion order of the header (the order the writer chose).</summary>
    public IReadOnlyList<string> Names { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsHeader(Dictionary<string, SafetensorsEntry> entries, List<string> names, Dictionary<string, string> metadata)
    {
        Entries = entries;
        Names = names;
        Metadata = metadata;
    }

    /// <summary>
    /// Parses <paramref name="json"/> and checks every entry against a data section of
    /// <paramref name="dataLength"/> bytes: known dtype, non-negative shape, element count x dtype size ==
    /// end - begin, 0 &lt;= begin &lt;= end &lt;= dataLength. Throws <see cref="WeightException"/> naming
    /// <paramref name="origin"/> and the tensor.
    /// </summary>
    public static SafetensorsHeader Parse(string origin, ReadOnlySpan<byte> json, long dataLength)
    {
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new WeightException($"{origin}: bad safetensors header: not valid JSON ({e.Message})");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new WeightException($"{origin}: bad safetensors header: the JSON is a {doc.RootElement.ValueKind}, not an object");

            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            var names = new List<string>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    ReadMetadata(origin, property.Value, metadata);
                    continue;
                }
                if (entries.ContainsKey(property.Name))
                    throw new WeightException($"{origin}: bad safetensors header: tensor '{property.Name}' appears twice");
                entries.Add(property.Name, ReadEntry(origin, property.Name, property.Value, dataLength));
                names.Add(property.Name);
            }
            return new SafetensorsHeader(entries, names, metadata);
        }
    }

    private static void ReadMetadata(string origin, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new WeightException($"{origin}: bad safetensors header: __metadata__ is a {value.ValueKind}, not an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new WeightException($"{origin}: bad safetensors header: __metadata__ entry '{item.Name}' is a {item.Value.ValueKind}, not a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string origin, string name, JsonElement value, long dataLength)
    {
        string Where() => $"{origin}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new WeightException($"{Where()}: bad safetensors header: entry is a {value.ValueKind}, not an object");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new WeightException($"{Where()}: bad safetensors header: missing string 'dtype'");
        string dtypeName = dtypeElement.GetString()!;
        if (!WeightDTypes.TryParseSafetensorsName(dtypeName, out var dtype))
            throw new WeightException($"{Where()}: unknown dtype '{dtypeName}' (supported: F32, F16, BF16, I64)");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new WeightException($"{Where()}: bad safetensors header: missing array 'shape'");
        var shape = new int[shapeElement.GetArrayLength()];
        long elements = 1;
        int axis = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int d) || d < 0)
                throw new WeightException($"{Where()}: bad safetensors header: shape entry {axis} is {dim.GetRawText()}, not a non-negative 32-bit integer");
            shape[axis++] = d;
            if (d != 0 && elements > long.MaxValue / 8 / d)
                throw new WeightException($"{Where()}: bad safetensors header: shape [{shapeElement.GetRawText()}] is too large");
            elements *= d;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new WeightException($"{Where()}: bad safetensors header: 'data_offsets' must be an array [begin, end]");
        long begin = ReadOffset(offsetsElement[0], Where);
        long end = ReadOffset(offsetsElement[1], Where);
        if (begin > end)
            throw new WeightException($"{Where()}: data_offsets [{begin}, {end}] out of range: begin > end");
        if (end > dataLength)
            throw new WeightException($"{Where()}: data_offsets [{begin}, {end}] out of range: the data section has {dataLength} bytes (file truncated?)");
        long expectedBytes = elements * WeightDTypes.Size(dtype);
        if (end - begin != expectedBytes)
            throw new WeightException($"{Where()}: shape [{string.Join(", ", shape)}] x {dtypeName} needs {expectedBytes} bytes but data_offsets [{begin}, {end}] hold {end - begin}");

        return new SafetensorsEntry(new WeightInfo(name, shape, dtype), begin, end);
    }

    private static long ReadOffset(JsonElement element, Func<string> where)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long offset) || offset < 0)
            throw new WeightException($"{where()}: bad safetensors header: data offset {element.GetRawText()} is not a non-negative integer");
        return offset;
    }
}
