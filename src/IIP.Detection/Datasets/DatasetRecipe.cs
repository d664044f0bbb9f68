using System.Text.Json;
using System.Text.Json.Serialization;

namespace IIP.Detection.Datasets;

/// <summary>
/// A named, versioned recipe for a set the field uses (a small JSON file in the repository's datasets/ folder): where each
/// file comes from, its sha256 and size, its licence and citation, and how its rows become labelled records (the column
/// that holds the prompt or caption, and the label of every row or the column that decides it). We keep recipes, never
/// the third-party data: `iip datasets fetch` downloads on the user's machine.
/// </summary>
public sealed record DatasetRecipe
{
    /// <summary>The name `iip datasets fetch NAME` takes, and the stem of the labelled manifest it writes.</summary>
    public required string Name { get; init; }
    public required string Version { get; init; }
    /// <summary>"prompts" (rows are prompts to generate from) or "images" (rows name images by URL, as LAION-mi does).</summary>
    public required string Kind { get; init; }
    public required string Description { get; init; }
    public required string Licence { get; init; }
    public required string Citation { get; init; }
    /// <summary>How many rows the IIP paper uses from this set, where it says (documentation; `iip reproduce` picks).</summary>
    public int? PaperCount { get; init; }
    public IReadOnlyList<DatasetFile> Files { get; init; } = [];
    /// <summary>Rows made on the user's machine instead of downloaded (random prompts), or null.</summary>
    public DatasetGenerator? Generator { get; init; }

    public const string PromptsKind = "prompts", ImagesKind = "images";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Parses and checks a recipe; every problem names the recipe's source.</summary>
    public static DatasetRecipe Parse(string json, string source)
    {
        DatasetRecipe recipe;
        try
        {
            recipe = JsonSerializer.Deserialize<DatasetRecipe>(json, Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a dataset recipe: {e.Message}");
        }
        recipe.Check(source);
        return recipe;
    }

    private void Check(string source)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new FormatException($"{source}: {problem}");
        }
        Require(Name.Length > 0 && Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'), $"name '{Name}' must be lower-case letters, digits and '-'");
        Require(Kind is PromptsKind or ImagesKind, $"kind '{Kind}' must be \"{PromptsKind}\" or \"{ImagesKind}\"");
        Require((Files.Count > 0) != (Generator is not null), "needs either files to download or a generator, not both");
        foreach (var file in Files)
        {
            string where = $"file {file.SaveAs}";
            Require(file.SaveAs.Length > 0 && file.SaveAs == Path.GetFileName(file.SaveAs), $"{where}: save_as must be a plain file name");
            Require(file.Url.Length > 0, $"{where}: no url");
            Require(file.Sha256 is null || (file.Sha256.Length == 64 && file.Sha256.All(char.IsAsciiHexDigitLower)), $"{where}: sha256 must be 64 lower-case hex digits or null (not pinned)");
            Require(file.Format is "jsonl" or "parquet", $"{where}: format '{file.Format}' must be jsonl or parquet");
            Require(file.Text.Length > 0, $"{where}: no text column");
            Require((file.Memorized is not null) != (file.SetColumn is not null), $"{where}: label every row with \"memorized\" or name a set_column, not both");
            Require(file.SetColumn is null || file.Sets is { Count: > 0 }, $"{where}: a set_column needs sets (value -> memorized)");
            Require(Kind != ImagesKind || file.UrlColumn is not null, $"{where}: an images recipe needs url_column");
        }
        if (Generator is { } g)
        {
            Require(g.Kind == DatasetGenerator.RandomClipTokens, $"generator kind '{g.Kind}' must be {DatasetGenerator.RandomClipTokens}");
            Require(g.Count > 0, "generator count must be positive");
        }
        Require(Files.Select(f => f.SaveAs).Distinct().Count() == Files.Count, "two files save under the same name");
    }
}

/// <summary>One file of a recipe and how its rows become labelled records.</summary>
public sealed record DatasetFile
{
    /// <summary>https:// or http:// address, file:// URI, or a path (relative paths are taken from the current folder).</summary>
    public required string Url { get; init; }
    /// <summary>Lower-case hex sha256 of the file's bytes; null where it could not be pinned (fetch then needs --allow-unpinned).</summary>
    public string? Sha256 { get; init; }
    public long? Bytes { get; init; }
    public required string SaveAs { get; init; }
    /// <summary>"jsonl" (one JSON object per line) or "parquet".</summary>
    public required string Format { get; init; }
    /// <summary>The column (field) holding the prompt or caption.</summary>
    public required string Text { get; init; }
    /// <summary>The column holding the image address, for image tables.</summary>
    public string? UrlColumn { get; init; }
    /// <summary>The label of every row of this file, or null when <see cref="SetColumn"/> decides it.</summary>
    public bool? Memorized { get; init; }
    /// <summary>The set name written with every row (with <see cref="Memorized"/>), e.g. "lexica".</summary>
    public string? Set { get; init; }
    /// <summary>A column whose value names each row's set; <see cref="Sets"/> maps the values kept to their label.</summary>
    public string? SetColumn { get; init; }
    public IReadOnlyDictionary<string, bool>? Sets { get; init; }
}

/// <summary>Rows made locally: Wen et al.'s random prompts (k uniform in [0, 76] distinct random CLIP tokens, decoded).</summary>
public sealed record DatasetGenerator
{
    public const string RandomClipTokens = "random-clip-tokens";
    public required string Kind { get; init; }
    public required int Count { get; init; }
    public long Seed { get; init; }
    public required string Set { get; init; }
}
