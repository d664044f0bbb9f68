using System.Text.Json;
using System.Text.Json.Nodes;

namespace IIP.Detection.Files;

/// <summary>A JSONL file's objects, one per non-blank line; a line that is not a JSON object is an error naming the file and line.</summary>
public static class JsonLines
{
    /// <exception cref="FormatException">"PATH line N: ..." for the first line that is not a JSON object.</exception>
    public static IEnumerable<(int Line, JsonObject Record)> Objects(string path)
    {
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path} line {number}: not JSON ({e.Message})");
            }
            yield return node is JsonObject record ? (number, record) : throw new FormatException($"{path} line {number}: not a JSON object");
        }
    }

    /// <summary>The field's string value, or null when it is absent or not a string.</summary>
    public static string? Text(JsonObject record, string name) =>
        record[name] is JsonValue value && value.TryGetValue(out string? text) ? text : null;
}
