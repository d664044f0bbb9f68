using System.Text.Json.Nodes;
using IIP.Detection.Files;

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
        foreach (var (number, record) in JsonLines.Objects(path))
        {
            string prompt = JsonLines.Text(record, "prompt") ?? JsonLines.Text(record, "caption")
                            ?? throw new FormatException($"{path} line {number}: no \"prompt\" (or \"caption\") string");
            bool memorized = record["memorized"] is JsonValue value && value.TryGetValue(out bool flag)
                ? flag
                : throw new FormatException($"{path} line {number}: needs \"memorized\": true or false (the label its images inherit)");
            entries.Add(new PromptEntry(entries.Count, prompt, memorized, JsonLines.Text(record, "set"), JsonLines.Text(record, "source")));
        }
        if (entries.Count == 0) throw new FormatException($"{path}: no prompts");
        return entries;
    }
}
