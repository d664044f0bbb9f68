using System.Text.Json;

namespace IIP.Engine.Weights;

/// <summary>
/// Typed reads from one diffusers/transformers config.json object, with errors that name the file and key.
/// A key that is absent or null takes the given default.
/// </summary>
internal sealed class ConfigJson : IDisposable
{
    private readonly JsonDocument _document;

    public string Origin { get; }

    private ConfigJson(string origin, JsonDocument document)
    {
        Origin = origin;
        _document = document;
    }

    private JsonElement Root => _document.RootElement;

    public static ConfigJson Load(string path)
    {
        string origin = Path.GetFullPath(path);
        if (!File.Exists(origin))
            throw new WeightException($"{origin}: config file not found");
        return Parse(origin, File.ReadAllBytes(origin));
    }

    public static ConfigJson Parse(string origin, ReadOnlySpan<byte> json)
    {
        if (json.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            json = json[3..]; // UTF-8 byte order mark
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new WeightException($"{origin}: not valid JSON ({e.Message})");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new WeightException($"{origin}: the JSON is a {document.RootElement.ValueKind}, not an object");
        }
        return new ConfigJson(origin, document);
    }

    /// <summary>A sub-object (e.g. the "unet" entry of a packed header), sharing this document.</summary>
    public ConfigJson Child(string key)
    {
        if (!TryGet(key, out var value) || value.ValueKind != JsonValueKind.Object)
            throw Error(key, "is missing or not an object");
        return new ConfigJson($"{Origin} [{key}]", JsonDocument.Parse(value.GetRawText()));
    }

    public bool Has(string key) => TryGet(key, out _);

    private bool TryGet(string key, out JsonElement value) =>
        Root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    public WeightException Error(string key, string problem) => new($"{Origin}: '{key}' {problem}");

    public int Int(string key, int fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result)) return result;
        throw Error(key, $"is {value.GetRawText()}, not an integer");
    }

    public double Double(string key, double fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
        throw Error(key, $"is {value.GetRawText()}, not a number");
    }

    public float Float(string key, float fallback) => (float)Double(key, fallback);

    public bool Bool(string key, bool fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(key, $"is {value.GetRawText()}, not true/false"),
        };
    }

    public string? String(string key, string? fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        throw Error(key, $"is {value.GetRawText()}, not a string");
    }

    public int[] IntArray(string key, int[] fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        if (value.ValueKind != JsonValueKind.Array) throw Error(key, $"is {value.GetRawText()}, not an array of integers");
        return value.EnumerateArray().Select(item =>
            item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int v) ? v : throw Error(key, $"has {item.GetRawText()}, not an integer")).ToArray();
    }

    public string[]? StringArray(string key)
    {
        if (!TryGet(key, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Array) throw Error(key, $"is {value.GetRawText()}, not an array of strings");
        return value.EnumerateArray().Select(item =>
            item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Error(key, $"has {item.GetRawText()}, not a string")).ToArray();
    }

    /// <summary>An integer that SD configs write either as one int or as one int per block (all equal here).</summary>
    public int UniformInt(string key, int fallback)
    {
        if (!TryGet(key, out var value)) return fallback;
        if (value.ValueKind == JsonValueKind.Array)
        {
            var values = IntArray(key, []);
            if (values.Length == 0 || values.Any(v => v != values[0]))
                throw Error(key, $"is {value.GetRawText()}; per-block values that differ are not supported");
            return values[0];
        }
        return Int(key, fallback);
    }

    /// <summary>One integer per level: an array of <paramref name="levels"/> values, or one value for every level.</summary>
    public int[] PerLevelInt(string key, int levels, int[] fallback)
    {
        if (!TryGet(key, out var value)) return fallback.Length == levels ? fallback : Enumerable.Repeat(fallback[0], levels).ToArray();
        if (value.ValueKind != JsonValueKind.Array) return Enumerable.Repeat(Int(key, fallback[0]), levels).ToArray();
        var values = IntArray(key, fallback);
        if (values.Length != levels) throw Error(key, $"has {values.Length} values for {levels} levels (block_out_channels)");
        return values;
    }

    public void Dispose() => _document.Dispose();
}
