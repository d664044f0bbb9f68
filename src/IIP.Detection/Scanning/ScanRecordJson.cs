using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IIP.Detection.Scanning;

/// <summary>The one JSON shape of <see cref="ScanRecord"/> lines, shared by the writer and the reader.</summary>
internal static class ScanRecordJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        // Paths keep their non-ASCII characters readable; the file is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // A method that produced NaN or infinity still gets its line ("NaN" as a string); evaluation excludes it.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        RespectNullableAnnotations = true,
        WriteIndented = false,
    };

    /// <summary>One record as UTF-8 JSON without a newline (JSON escapes newlines inside strings, so it is one line).</summary>
    public static byte[] Serialize(ScanRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, Options);

    /// <summary>Parses one line; throws <see cref="JsonException"/> when it is not a complete, valid record.</summary>
    public static ScanRecord Deserialize(ReadOnlySpan<byte> utf8Line)
    {
        var record = JsonSerializer.Deserialize<ScanRecord>(utf8Line, Options)
            ?? throw new JsonException("the line is JSON null, not a record");
        if (record.Image.Length == 0)
            throw new JsonException("'image' is empty");
        if (record.Method.Length == 0)
            throw new JsonException("'method' is empty");
        return record;
    }

    /// <summary>True when the bytes parse as a complete record.</summary>
    public static bool IsCompleteRecord(ReadOnlySpan<byte> utf8Line)
    {
        try
        {
            Deserialize(utf8Line);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
