using System.Text.Json;
using System.Text.Json.Nodes;
using IIP.Detection.Files;

namespace IIP.Detection.Datasets;

/// <summary>What fetching a recipe produced: the labelled manifest, its rows, and every file with its checksum.</summary>
public sealed record DatasetFetchResult(DatasetRecipe Recipe, string Manifest, IReadOnlyList<LabelledRow> Rows, IReadOnlyList<FetchedFile> Files,
    int RowsWithoutText, int RowsInOtherSets);

/// <summary>
/// `iip datasets fetch NAME --out DIR`: downloads the recipe's files into DIR/NAME/ (or generates its rows), checks them,
/// and writes the labelled manifest DIR/NAME.jsonl (prompt, caption, memorized, set, source, row, url) and
/// DIR/NAME.fetch.json (the recipe's version and every file's address, sha256 and size, for the record). Running it
/// again keeps the verified files and rewrites the manifest.
/// </summary>
public static class DatasetFetch
{
    public static async Task<DatasetFetchResult> RunAsync(DatasetRecipe recipe, string outDirectory, DatasetDownload download,
        bool allowUnpinned, string? tokenizerDirectory, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDirectory);
        var files = new List<FetchedFile>();
        var rows = new List<LabelledRow>();
        int withoutText = 0, otherSets = 0;
        if (recipe.Generator is not null)
        {
            if (tokenizerDirectory is null)
                throw new ArgumentException($"{recipe.Name}: its prompts are drawn from a CLIP vocabulary; pass --tokenizer DIR (the model's tokenizer folder)");
            rows.AddRange(RandomPrompts.Generate(recipe, tokenizerDirectory));
        }
        string folder = Path.Combine(outDirectory, recipe.Name);
        foreach (var file in recipe.Files)
        {
            var fetched = await download.FetchAsync(file, folder, allowUnpinned, cancel);
            files.Add(fetched);
            var reading = LabelledRows.Read(recipe, file, fetched.Path);
            rows.AddRange(reading.Rows);
            withoutText += reading.WithoutText;
            otherSets += reading.OtherSets;
        }
        if (rows.Count == 0) throw new FormatException($"{recipe.Name}: its files hold no labelled rows");

        string manifest = Path.Combine(outDirectory, recipe.Name + ".jsonl");
        LabelledRows.Write(rows, manifest);
        var record = new JsonObject
        {
            ["name"] = recipe.Name, ["version"] = recipe.Version, ["kind"] = recipe.Kind, ["licence"] = recipe.Licence, ["citation"] = recipe.Citation,
            ["rows"] = rows.Count, ["memorized_rows"] = rows.Count(r => r.Memorized),
            ["files"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject
            {
                ["url"] = f.File.Url, ["path"] = Path.GetFileName(f.Path), ["sha256"] = f.Sha256, ["bytes"] = f.Bytes,
                ["pinned"] = f.File.Sha256 is not null,
            }).ToArray()),
            ["fetched_utc"] = DateTime.UtcNow.ToString("O"),
        };
        AtomicFile.WriteAllText(Path.Combine(outDirectory, recipe.Name + ".fetch.json"), record.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new DatasetFetchResult(recipe, manifest, rows, files, withoutText, otherSets);
    }
}
