using System.Text.Json;

namespace IIP.Detection.Evaluation;

/// <summary>
/// One labelled image: its path as written in the labels file, its subset name if the file gives one, and the
/// augmentation it is a copy under (`iip augment`'s "augmentation" field: none, flip, ...) if any.
/// </summary>
public sealed record LabelEntry(string Image, bool Memorized, string? Set = null, string? Augmentation = null);

/// <summary>
/// Ground truth for evaluation: which images are memorized. Loaded from JSONL (one object per line with
/// "image" and "memorized": true/false, or "label": 0/1, and optionally "set", a subset name such as
/// "heldout", and "augmentation", as `iip augment` writes; other fields such as caption, member are ignored; the
/// testbed's labels.jsonl is this format) or from CSV (a header naming an "image" column, a "memorized" or "label"
/// column with values true/false/1/0, and optionally "set" and "augmentation" columns). The format follows the extension (.csv, else JSONL
/// for .jsonl/.json/.ndjson), or the first character ('{' = JSONL) otherwise.
/// Results files carry no labels, so a labels file is always needed (no label field in results, for now).
/// Every malformed input is a <see cref="FormatException"/> whose message names the file and, where there is one,
/// the line (tests/fuzz fuzzes this with AFL++).
/// </summary>
public sealed class LabelSet
{
    private LabelSet(string filePath, IReadOnlyList<LabelEntry> entries)
    {
        FilePath = filePath;
        Directory = Path.GetDirectoryName(Path.GetFullPath(filePath)) ?? "/";
        Entries = entries;
    }

    public string FilePath { get; }

    /// <summary>Full path of the folder holding the labels file: relative image paths are relative to it.</summary>
    public string Directory { get; }

    public IReadOnlyList<LabelEntry> Entries { get; }

    public int Positives => Entries.Count(e => e.Memorized);

    public int Negatives => Entries.Count(e => !e.Memorized);

    /// <summary>The entries that satisfy <paramref name="keep"/>, as a label set of the same file.</summary>
    public LabelSet Where(Func<LabelEntry, bool> keep) => new(FilePath, Entries.Where(keep).ToList());

    /// <summary>The full path an entry's image names (relative paths are relative to the labels file's folder).</summary>
    public string FullPathOf(LabelEntry entry) => Path.GetFullPath(Path.IsPathRooted(entry.Image) ? entry.Image : Path.Combine(Directory, entry.Image));

    public static LabelSet Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"labels file not found: {path}", path);
        string text = File.ReadAllText(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        bool csv = extension == ".csv"
            || (extension is not (".jsonl" or ".json" or ".ndjson") && !text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n').StartsWith('{'));
        var raw = csv ? ParseCsv(text, path) : ParseJsonl(text, path);
        if (raw.Count == 0)
            throw new FormatException($"{path}: no labels in the file");

        // The same image listed twice must agree; keep one entry.
        var byImage = new Dictionary<string, (bool Memorized, int Line)>(StringComparer.Ordinal);
        var entries = new List<LabelEntry>();
        foreach (var (line, entry) in raw)
        {
            var (image, memorized, _, _) = entry;
            if (byImage.TryGetValue(image, out var earlier))
            {
                if (earlier.Memorized != memorized)
                    throw new FormatException($"{path} line {line}: '{image}' is labelled {Word(memorized)} here but {Word(earlier.Memorized)} on line {earlier.Line}");
                continue;
            }
            byImage[image] = (memorized, line);
            entries.Add(entry);
        }
        return new LabelSet(path, entries);
    }

    private static string Word(bool memorized) => memorized ? "memorized" : "not memorized";

    private static List<(int Line, LabelEntry Entry)> ParseJsonl(string text, string path)
    {
        var labels = new List<(int, LabelEntry)>();
        string[] lines = text.TrimStart('\uFEFF').Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0)
                continue;
            int lineNumber = i + 1;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path} line {lineNumber}: not valid JSON ({e.Message})", e);
            }
            using (document)
            {
                try
                {
                    labels.Add((lineNumber, JsonEntry(document.RootElement, path, lineNumber)));
                }
                catch (InvalidOperationException e)
                {
                    // A \u escape that is half a surrogate pair: System.Text.Json parses it and throws when the string is read.
                    throw new FormatException($"{path} line {lineNumber}: a string holds an invalid \\u escape ({e.Message})", e);
                }
            }
        }
        return labels;
    }

    private static LabelEntry JsonEntry(JsonElement root, string path, int lineNumber)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException($"{path} line {lineNumber}: expected a JSON object");
        if (!root.TryGetProperty("image", out var image) || image.ValueKind != JsonValueKind.String || image.GetString()!.Length == 0)
            throw new FormatException($"{path} line {lineNumber}: needs a non-empty string field \"image\"");
        bool? memorized = root.TryGetProperty("memorized", out var m) ? JsonFlag(m, "memorized", path, lineNumber) : null;
        bool? label = root.TryGetProperty("label", out var l) ? JsonFlag(l, "label", path, lineNumber) : null;
        string? set = root.TryGetProperty("set", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        string? augmentation = root.TryGetProperty("augmentation", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        return new LabelEntry(image.GetString()!, Combine(memorized, label, path, lineNumber), set, augmentation);
    }

    private static bool JsonFlag(JsonElement value, string name, string path, int line) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number when value.TryGetInt32(out int n) && n is 0 or 1 => n == 1,
        _ => throw new FormatException($"{path} line {line}: \"{name}\" must be true/false or 0/1, not {value.GetRawText()}"),
    };

    private static List<(int Line, LabelEntry Entry)> ParseCsv(string text, string path)
    {
        var rows = CsvRows.Parse(text, path);
        if (rows.Count == 0)
            throw new FormatException($"{path}: empty CSV");
        var header = rows[0].Fields.Select(h => h.Trim().ToLowerInvariant()).ToList();
        int imageColumn = header.IndexOf("image");
        int memorizedColumn = header.IndexOf("memorized");
        int labelColumn = header.IndexOf("label");
        int setColumn = header.IndexOf("set");
        int augmentationColumn = header.IndexOf("augmentation");
        if (imageColumn < 0 || (memorizedColumn < 0 && labelColumn < 0))
            throw new FormatException($"{path} line {rows[0].Line}: the CSV header needs an 'image' column and a 'memorized' or 'label' column; it has: {string.Join(", ", rows[0].Fields)}");

        var labels = new List<(int, LabelEntry)>();
        foreach (var (line, fields) in rows.Skip(1))
        {
            if (fields.Count != header.Count)
                throw new FormatException($"{path} line {line}: {fields.Count} fields but the header has {header.Count}");
            string image = fields[imageColumn];
            if (image.Length == 0)
                throw new FormatException($"{path} line {line}: empty image path");
            bool? memorized = memorizedColumn >= 0 ? CsvFlag(fields[memorizedColumn], "memorized", path, line) : null;
            bool? label = labelColumn >= 0 ? CsvFlag(fields[labelColumn], "label", path, line) : null;
            string? set = setColumn >= 0 && fields[setColumn].Length > 0 ? fields[setColumn] : null;
            string? augmentation = augmentationColumn >= 0 && fields[augmentationColumn].Length > 0 ? fields[augmentationColumn] : null;
            labels.Add((line, new LabelEntry(image, Combine(memorized, label, path, line), set, augmentation)));
        }
        return labels;
    }

    private static bool CsvFlag(string value, string name, string path, int line) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw new FormatException($"{path} line {line}: '{name}' must be true/false or 1/0, not '{value}'"),
    };

    private static bool Combine(bool? memorized, bool? label, string path, int line)
    {
        if (memorized is null && label is null)
            throw new FormatException($"{path} line {line}: needs \"memorized\" (true/false) or \"label\" (0/1)");
        if (memorized is not null && label is not null && memorized != label)
            throw new FormatException($"{path} line {line}: \"memorized\" and \"label\" disagree");
        return (memorized ?? label)!.Value;
    }
}
