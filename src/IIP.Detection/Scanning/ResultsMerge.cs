using System.Globalization;

namespace IIP.Detection.Scanning;

/// <summary>What one results file brought to a merge: its distinct images, records and compute time.</summary>
public sealed record MergedFile(string FilePath, int Images, int Records, double Seconds, string? Device)
{
    /// <summary>Images per second of compute (the records' seconds; methods computed together, which share one figure, once).</summary>
    public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : double.NaN;
}

/// <summary>The merged records (the latest per image, method and options) and what the merge found.</summary>
public sealed record MergeResult(IReadOnlyList<ScanRecord> Records, IReadOnlyList<MergedFile> Files, int Images, IReadOnlyList<string> Conflicts,
    int ImagesInSeveralFiles)
{
    /// <summary>Images per second over all files together (the sum of their compute times: what one machine would take).</summary>
    public double ImagesPerSecondPerTask => Files.Sum(f => f.Seconds) is > 0 and var s ? Images / s : double.NaN;
}

/// <summary>
/// `iip merge` and `iip eval` over several files: the results of the tasks of a sharded scan (or any results of one
/// model) as one. Records are keyed as <see cref="ResultsCsv.Latest"/> keys them (image path, method, options); a key in
/// several files keeps the record of the later file, and one whose score or error differs between files is reported.
/// Files of different models are refused: their scores do not belong in one evaluation.
/// </summary>
public static class ResultsMerge
{
    public static MergeResult Merge(IReadOnlyList<ResultsFile> files)
    {
        if (files.Count == 0) throw new ArgumentException("no results files to merge");
        var models = files.SelectMany(f => f.Records.Select(r => (r.Model, f.FilePath))).Where(m => m.Model is not null)
            .GroupBy(m => m.Model).ToList();
        if (models.Count > 1)
            throw new ArgumentException("the results are of different models: " +
                                        string.Join("; ", models.Select(g => $"{g.Key} in {string.Join(", ", g.Select(m => m.FilePath).Distinct().Take(3))}")));
        var latest = new Dictionary<(string, string, string), (ScanRecord Record, string File)>();
        var conflicts = new List<string>();
        var filesOfImage = new Dictionary<string, HashSet<string>>();
        var perFile = new List<MergedFile>();
        foreach (var file in files)
        {
            var records = ResultsCsv.Latest(file.Records);
            foreach (var record in records)
            {
                string image = record.Path ?? record.Image;
                var key = (image, record.Method, record.Options ?? "");
                if (latest.TryGetValue(key, out var earlier) && earlier.File != file.FilePath && !SameOutcome(earlier.Record, record))
                    conflicts.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{record.Image} {record.Method}: {Outcome(earlier.Record)} in {earlier.File}, {Outcome(record)} in {file.FilePath} (kept)"));
                latest[key] = (record, file.FilePath);
                (filesOfImage.TryGetValue(image, out var inFiles) ? inFiles : filesOfImage[image] = []).Add(file.FilePath);
            }
            perFile.Add(new MergedFile(file.FilePath, records.Select(r => r.Path ?? r.Image).Distinct().Count(), records.Count,
                records.Select(r => (Image: r.Path ?? r.Image, r.Seconds)).Distinct().Sum(x => x.Seconds),
                string.Join(", ", records.Select(r => r.Device).OfType<string>().Distinct()) is { Length: > 0 } d ? d : null));
        }
        var merged = latest.Values.Select(v => v.Record).ToList();
        return new MergeResult(merged, perFile, filesOfImage.Count, conflicts, filesOfImage.Values.Count(f => f.Count > 1));
    }

    /// <summary>
    /// The files a `--results` value names: several separated by commas, each a path or a pattern with * or ? in its
    /// file name (matched in its folder, sorted). A pattern that matches nothing is an error naming it.
    /// </summary>
    public static IReadOnlyList<string> Expand(string value)
    {
        var paths = new List<string>();
        foreach (string part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string name = Path.GetFileName(part);
            if (name.IndexOfAny(['*', '?']) < 0)
            {
                paths.Add(part);
                continue;
            }
            string folder = Path.GetDirectoryName(part) is { Length: > 0 } d ? d : ".";
            var matches = Directory.Exists(folder)
                ? Directory.GetFiles(folder, name).Where(f => !f.EndsWith(".csv", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList()
                : [];
            if (matches.Count == 0) throw new ArgumentException($"{part}: no results files match");
            paths.AddRange(matches);
        }
        return paths;
    }

    private static bool SameOutcome(ScanRecord a, ScanRecord b) => a.Score == b.Score && a.Error == b.Error;

    private static string Outcome(ScanRecord r) => r.Error is not null ? "error" : r.Score?.ToString("R", CultureInfo.InvariantCulture) ?? "no score";
}
