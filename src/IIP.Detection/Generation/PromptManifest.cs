using System.Text.Json;
using System.Text.Json.Nodes;

namespace IIP.Detection.Generation;

/// <summary>One prompt to generate from, with the label its images inherit.</summary>
public sealed record PromptEntry(int Index, string Prompt, bool Memorized, string? Set, string? Source);

/// <summary>
/// A labelled prompt set: JSONL, one object per line with the text in "prompt" (or "caption") and the label in "memorized"
/// (true/false), optionally "set" and "source", as `iip datasets fetch` writes and as the testbeds' labels.jsonl is.
/// </summary>
public static class PromptManifest
{
    public static IReadOnlyList<PromptEntry> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such prompt manifest");
        var entries = new List<PromptEntry>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject record;
            try
            {
                record = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not a JSON object");
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path} line {number}: {e.Message}");
            }
            string prompt = Text(record, "prompt") ?? Text(record, "caption")
                            ?? throw new FormatException($"{path} line {number}: no \"prompt\" (or \"caption\") string");
            bool memorized = record["memorized"] is JsonValue value && value.TryGetValue(out bool flag)
                ? flag
                : throw new FormatException($"{path} line {number}: needs \"memorized\": true or false (the label its images inherit)");
            entries.Add(new PromptEntry(entries.Count, prompt, memorized, Text(record, "set"), Text(record, "source")));
        }
        if (entries.Count == 0) throw new FormatException($"{path}: no prompts");
        return entries;
    }

    private static string? Text(JsonObject record, string name) =>
        record[name] is JsonValue value && value.TryGetValue(out string? text) ? text : null;
}
