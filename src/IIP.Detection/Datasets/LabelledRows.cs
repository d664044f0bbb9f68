using System.Text.Json;
using System.Text.Json.Nodes;
using IIP.Detection.Files;
using IIP.Detection.Scanning;

namespace IIP.Detection.Datasets;

/// <summary>One labelled row of a fetched set: its text (prompt or caption), label, set, and image address where it has one.</summary>
public sealed record LabelledRow(string Text, bool Memorized, string Set, string Source, int Row, string? Url = null)
{
    /// <summary>The row as a line of the labelled manifest: prompt (and caption, the same text), memorized, set, source, row, url.</summary>
    public string ToJsonLine()
    {
        var line = new JsonObject
        {
            ["prompt"] = Text, ["caption"] = Text, ["memorized"] = Memorized, ["set"] = Set, ["source"] = Source, ["row"] = Row,
        };
        if (Url is not null) line["url"] = Url;
        return line.ToJsonString();
    }
}

/// <summary>
/// Reads a fetched recipe file (JSONL or Parquet) into labelled rows as its recipe says: the text column, and each row's
/// label from the file's constant or from its set column (rows whose set the recipe does not map are left out and counted).
/// Rows without text are left out and counted too.
/// </summary>
public static class LabelledRows
{
    public sealed record Reading(IReadOnlyList<LabelledRow> Rows, int WithoutText, int OtherSets);

    public static Reading Read(DatasetRecipe recipe, DatasetFile file, string path)
    {
        var columns = file.Format == "parquet" ? ReadParquet(path) : ReadJsonl(path, file);
        if (!columns.TryGetValue(file.Text, out var texts))
            throw new FormatException($"{path}: no column '{file.Text}' (the recipe's text column); it has: {string.Join(", ", columns.Keys)}");
        string?[]? sets = null, urls = null;
        if (file.SetColumn is { } setColumn && !columns.TryGetValue(setColumn, out sets))
            throw new FormatException($"{path}: no column '{setColumn}' (the recipe's set column)");
        if (file.UrlColumn is { } urlColumn && !columns.TryGetValue(urlColumn, out urls))
            throw new FormatException($"{path}: no column '{urlColumn}' (the recipe's url column)");

        var rows = new List<LabelledRow>();
        int withoutText = 0, otherSets = 0;
        for (int row = 0; row < texts.Length; row++)
        {
            if (string.IsNullOrWhiteSpace(texts[row])) { withoutText++; continue; }
            bool memorized;
            string set;
            if (sets is not null)
            {
                if (sets[row] is not { } value || !file.Sets!.TryGetValue(value, out memorized)) { otherSets++; continue; }
                set = value;
            }
            else
            {
                memorized = file.Memorized!.Value;
                set = file.Set ?? (memorized ? "memorized" : "non-memorized");
            }
            rows.Add(new LabelledRow(texts[row]!, memorized, set, recipe.Name, row, urls?[row]));
        }
        return new Reading(rows, withoutText, otherSets);
    }

    /// <summary>Writes rows as a labelled JSONL manifest (atomically: a temporary file renamed over the target).</summary>
    public static void Write(IEnumerable<LabelledRow> rows, string path)
    {
        AtomicFile.WriteAllLines(path, rows.Select(r => r.ToJsonLine()));
    }

    private static Dictionary<string, string?[]> ReadParquet(string path)
    {
        try
        {
            return ParquetTable.ReadStringColumns(path);
        }
        catch (InvalidDataException e)
        {
            throw new FormatException(e.Message, e);
        }
    }

    // the fields the recipe names, as string columns (a JSON string, or null where a line lacks it)
    private static Dictionary<string, string?[]> ReadJsonl(string path, DatasetFile file)
    {
        string[] wanted = new[] { file.Text, file.SetColumn, file.UrlColumn }.OfType<string>().ToArray();
        var columns = wanted.ToDictionary(w => w, _ => new List<string?>());
        var present = new HashSet<string>();
        foreach (var (_, record) in JsonLines.Objects(path))
            foreach (string name in wanted)
            {
                if (record.ContainsKey(name)) present.Add(name);
                columns[name].Add(JsonLines.Text(record, name));
            }
        return columns.Where(c => present.Contains(c.Key)).ToDictionary(c => c.Key, c => c.Value.ToArray());
    }
}
