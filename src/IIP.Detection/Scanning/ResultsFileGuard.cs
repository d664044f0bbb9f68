using System.Text.Json;

namespace IIP.Detection.Scanning;

/// <summary>
/// The checks a scan makes on its output files before it writes anything, so that it never destroys what it did not
/// write and never mixes the scores of two models in one file.
/// </summary>
public static class ResultsFileGuard
{
    /// <summary>
    /// Refuses (<see cref="ArgumentException"/>) a results path that is a folder, names a CSV, or is an existing file that is
    /// not a results file (its first line is not a scan record), and a CSV path that is the results path or an existing file
    /// that is not a CSV of scan results.
    /// </summary>
    public static void CheckPaths(string resultsPath, string csvPath)
    {
        string full = Path.GetFullPath(resultsPath);
        if (Directory.Exists(full))
            throw new ArgumentException($"--out {full} is a folder; give a results file, e.g. {Path.Combine(full, "results.jsonl")}");
        if (string.Equals(Path.GetExtension(full), ".csv", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--out {full} names a CSV file: results are JSONL (one record per line, e.g. results.jsonl); the CSV copy is written beside them (--csv chooses where)");
        if (File.Exists(full) && FirstLine(full) is { } line && !IsRecord(line) && !IsInterruptedFirstRecord(full, line))
            throw new ArgumentException($"--out {full} exists and is not an iip results file (its first line is not a scan record); refusing to append to it: give another --out");
        string csv = Path.GetFullPath(csvPath);
        if (csv == full)
            throw new ArgumentException($"--csv {csv} is the results file itself; give another path");
        if (Directory.Exists(csv))
            throw new ArgumentException($"--csv {csv} is a folder; give a file path");
        if (File.Exists(csv) && FirstLine(csv) is { } header && !header.StartsWith(ResultsCsv.HeaderStart, StringComparison.Ordinal))
            throw new ArgumentException($"{csv} exists and is not a CSV of scan results (its header does not start with {ResultsCsv.HeaderStart}); refusing to overwrite it: give another --csv");
    }

    /// <summary>
    /// Refuses to add the scores of model <paramref name="fingerprint"/> (its first 16 hex characters) to a results file that
    /// holds another model's, naming both; with <paramref name="fresh"/> moves the old results and CSV aside to
    /// "NAME.TIMESTAMP.bak" instead and returns their new paths (empty when nothing was moved).
    /// </summary>
    public static IReadOnlyList<string> RequireModel(string resultsPath, string csvPath, string modelPath, string fingerprint, bool fresh)
    {
        if (!File.Exists(resultsPath) || new FileInfo(resultsPath).Length == 0) return [];
        var records = ResultsReader.Read(resultsPath).Records;
        var models = ResumeSet.ModelOf(records);
        if (models.Count == 0 || (models.Count == 1 && models.Contains(fingerprint))) return [];
        if (!fresh)
        {
            string inFile = string.Join(", ", models.Select(m => m.Length == 0 ? "an unrecorded model (records written before models were recorded)" : $"the model with fingerprint {m}"));
            throw new ArgumentException($"{Path.GetFullPath(resultsPath)} holds the scores of {inFile}, not of {modelPath} (fingerprint {fingerprint}); " +
                                        "its records cannot be reused. Write to another --out, or pass --fresh to move the old file aside (to .bak) and start anew");
        }
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var moved = new List<string>();
        foreach (var path in new[] { resultsPath, csvPath }.Where(File.Exists))
        {
            string target = $"{path}.{stamp}.bak";
            File.Move(path, target);
            moved.Add(target);
        }
        return moved;
    }

    // the first non-blank line among the first 64 KiB (a file that is not text is not read whole to find a newline)
    private static string? FirstLine(string path)
    {
        var buffer = new byte[64 * 1024];
        int n;
        using (var stream = File.OpenRead(path))
            n = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, n).TrimStart('\uFEFF');
        return text.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(l => l.Trim().Length > 0);
    }

    // a scan killed while it wrote its first record leaves the start of one and no newline: the writer trims it on opening
    private static bool IsInterruptedFirstRecord(string path, string line) =>
        line.StartsWith("{\"image\":", StringComparison.Ordinal) && new FileInfo(path).Length < 64 * 1024 && !File.ReadAllText(path).Contains('\n');

    private static bool IsRecord(string line)
    {
        try
        {
            ScanRecordJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(line));
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
