using System.Text.Json.Nodes;

namespace IIP.Detection.Generation;

/// <summary>
/// One generated image as a line of the labelled manifest: its path (relative to the output folder), the prompt (also as
/// "caption", for the caption-based methods), its label and set, and what made it (sample k of the prompt, the noise seed,
/// steps, guidance).
/// </summary>
public sealed record GeneratedImage(string Image, PromptEntry Prompt, int Sample, long Seed, int Steps, float Guidance)
{
    public string ToJsonLine() => new JsonObject
    {
        ["image"] = Image, ["prompt"] = Prompt.Prompt, ["caption"] = Prompt.Prompt, ["memorized"] = Prompt.Memorized,
        ["set"] = Prompt.Set ?? (Prompt.Memorized ? "memorized" : "non-memorized"), ["source"] = Prompt.Source,
        ["prompt_index"] = Prompt.Index, ["sample"] = Sample, ["seed"] = Seed, ["steps"] = Steps, ["guidance"] = Guidance,
    }.ToJsonString();

    /// <summary>The (prompt index, sample) a manifest line records, or null for a line cut short by a crash.</summary>
    public static (int PromptIndex, int Sample, string Image)? Key(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject record) return null;
            return (record["prompt_index"]!.GetValue<int>(), record["sample"]!.GetValue<int>(), record["image"]!.GetValue<string>());
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            return null;
        }
    }
}
