using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace IIP.Engine.Weights;

/// <summary>One tensor entry of a safetensors header; offsets are relative to the data section.</summary>
public sealed record SafetensorsEntry(WeightInfo Info, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The parsed and validated JSON header of a safetensors file:
/// <c>{"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}</c>.
/// The header must be valid UTF-8 (System.Text.Json does not check the bytes inside strings until a string is
/// read, and then throws an exception that names no file), and no two tensors may share bytes of the data
/// section: overlapping or aliased data_offsets would let a write through one tensor change another, and the
/// format's reference reader rejects them too. Every problem is a <see cref="WeightException"/> naming the file.
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
    /// <paramref name="dataLength"/> bytes: valid UTF-8, known dtype, non-negative shape, element count x dtype
    /// size == end - begin, 0 &lt;= begin &lt;= end &lt;= dataLength, and no byte range shared by two tensors.
    /// Throws <see cref="WeightException"/> naming <paramref name="origin"/> and the tensor(s).
    /// </summary>
    public static SafetensorsHeader Parse(string origin, ReadOnlySpan<byte> json, long dataLength)
    {
        int invalid = FirstInvalidUtf8Byte(json);
        if (invalid >= 0)
            throw new WeightException($"{origin}: bad safetensors header: not valid UTF-8 (byte {invalid} of the header is 0x{json[invalid]:x2})");
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
            try
            {
                return Read(origin, doc.RootElement, dataLength);
            }
            catch (InvalidOperationException e)
            {
                // A \u escape that is half a surrogate pair: System.Text.Json parses it and throws when the string is read.
                throw new WeightException($"{origin}: bad safetensors header: a string holds an invalid \\u escape ({e.Message})");
            }
        }
    }

    private static SafetensorsHeader Read(string origin, JsonElement root, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new WeightException($"{origin}: bad safetensors header: the JSON is a {root.ValueKind}, not an object");

        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var names = new List<string>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
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
        CheckNoSharedBytes(origin, names.Select(n => entries[n]).ToList());
        return new SafetensorsHeader(entries, names, metadata);
    }

    /// <summary>
    /// Rejects two tensors whose byte ranges overlap or coincide (aliasing). Empty tensors hold no bytes and may
    /// sit anywhere. Sorted by begin, a range overlaps an earlier one exactly when it begins before the furthest
    /// end seen so far; the error names that earlier tensor and this one.
    /// </summary>
    private static void CheckNoSharedBytes(string origin, List<SafetensorsEntry> entries)
    {
        var sorted = entries.Where(e => e.ByteLength > 0).OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        SafetensorsEntry? furthest = null;
        foreach (var entry in sorted)
        {
            if (furthest is not null && entry.Begin < furthest.End)
            {
                string how = entry.Begin == furthest.Begin && entry.End == furthest.End ? "share the same bytes (aliased)" : "overlap";
                throw new WeightException($"{origin}: bad safetensors header: tensors '{furthest.Info.Name}' data_offsets [{furthest.Begin}, {furthest.End}] "
                    + $"and '{entry.Info.Name}' data_offsets [{entry.Begin}, {entry.End}] {how} in the data section");
            }
            if (furthest is null || entry.End > furthest.End)
                furthest = entry;
        }
    }

    /// <summary>Index of the first byte that does not start or continue a valid UTF-8 sequence, or -1 when all are valid.</summary>
    internal static int FirstInvalidUtf8Byte(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
            return -1;
        int offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) != System.Buffers.OperationStatus.Done)
                return offset;
            offset += consumed;
        }
        return -1;
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
