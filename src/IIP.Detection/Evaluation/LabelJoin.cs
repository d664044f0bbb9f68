using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>A scan record with its ground-truth label entry.</summary>
public sealed record LabeledRecord(ScanRecord Record, LabelEntry Label)
{
    public bool Memorized => Label.Memorized;
}

/// <summary>
/// Pairs scan records with labels by image path, trying in order: (1) the exact string; (2) full paths, the
/// label's resolved against the labels file's folder and the record's against <c>recordBaseDirectory</c>
/// (the folder the scan ran in; default the current one); (3) the file name, when exactly one label has it.
/// Records that match nothing, or only a file name shared by several labels, are counted as unmatched.
/// </summary>
public sealed class LabelJoin
{
    private LabelJoin(IReadOnlyList<LabeledRecord> matched, int exact, int fullPath, int fileName,
        IReadOnlyList<ScanRecord> unmatched, int ambiguous)
    {
        Matched = matched;
        ByExactPath = exact;
        ByFullPath = fullPath;
        ByFileName = fileName;
        Unmatched = unmatched;
        AmbiguousFileName = ambiguous;
    }

    public IReadOnlyList<LabeledRecord> Matched { get; }

    public int ByExactPath { get; }

    public int ByFullPath { get; }

    public int ByFileName { get; }

    /// <summary>Records with no label (including the ambiguous ones).</summary>
    public IReadOnlyList<ScanRecord> Unmatched { get; }

    /// <summary>Of <see cref="Unmatched"/>, those whose file name belongs to several labels.</summary>
    public int AmbiguousFileName { get; }

    public static LabelJoin Create(LabelSet labels, IEnumerable<ScanRecord> records, string? recordBaseDirectory = null)
    {
        string recordBase = Path.GetFullPath(recordBaseDirectory ?? Environment.CurrentDirectory);
        var byExact = new Dictionary<string, LabelEntry>(StringComparer.Ordinal);
        var byFull = new Dictionary<string, LabelEntry>(StringComparer.Ordinal);
        var byName = new Dictionary<string, List<LabelEntry>>(StringComparer.Ordinal);
        foreach (var entry in labels.Entries)
        {
            byExact[entry.Image] = entry;
            byFull.TryAdd(Path.GetFullPath(entry.Image, labels.Directory), entry);
            string name = Path.GetFileName(entry.Image);
            if (!byName.TryGetValue(name, out var list))
                byName[name] = list = [];
            list.Add(entry);
        }

        var matched = new List<LabeledRecord>();
        var unmatched = new List<ScanRecord>();
        int exact = 0, full = 0, fileName = 0, ambiguous = 0;
        foreach (var record in records)
        {
            if (byExact.TryGetValue(record.Image, out var label))
                exact++;
            else if (byFull.TryGetValue(Path.GetFullPath(record.Image, recordBase), out label))
                full++;
            else if (byName.TryGetValue(Path.GetFileName(record.Image), out var candidates) && candidates.Count == 1)
            {
                label = candidates[0];
                fileName++;
            }
            else
            {
                if (candidates is { Count: > 1 })
                    ambiguous++;
                unmatched.Add(record);
                continue;
            }
            matched.Add(new LabeledRecord(record, label));
        }
        return new LabelJoin(matched, exact, full, fileName, unmatched, ambiguous);
    }
}
