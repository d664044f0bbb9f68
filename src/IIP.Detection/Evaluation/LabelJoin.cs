using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>A scan record with its ground-truth label entry.</summary>
public sealed record LabeledRecord(ScanRecord Record, LabelEntry Label)
{
    public bool Memorized => Label.Memorized;
}

/// <summary>
/// Pairs scan records with labels by image path, trying in order: (1) the absolute path the scan recorded
/// (<see cref="ScanRecord.Path"/>) against the label's, resolved against the labels file's folder; (2) the exact string;
/// (3) the record's image resolved against <c>recordBaseDirectory</c> (the folder the scan ran in; default the current
/// one); (4) the file name, when exactly one label has it, no other record of the series has it, and no record matched
/// that label by path. A label that two records of one series reach is given to neither (two images cannot be one
/// labelled image): they are counted as unmatched, with the records whose file name belongs to several labels.
/// </summary>
public sealed class LabelJoin
{
    private LabelJoin(IReadOnlyList<LabeledRecord> matched, int exact, int fullPath, int fileName,
        IReadOnlyList<ScanRecord> unmatched, int ambiguous, int sharedLabel)
    {
        Matched = matched;
        ByExactPath = exact;
        ByFullPath = fullPath;
        ByFileName = fileName;
        Unmatched = unmatched;
        AmbiguousFileName = ambiguous;
        SharedLabel = sharedLabel;
    }

    public IReadOnlyList<LabeledRecord> Matched { get; }

    public int ByExactPath { get; }

    /// <summary>Matched by the recorded absolute path or by the image resolved against the scan's folder.</summary>
    public int ByFullPath { get; }

    public int ByFileName { get; }

    /// <summary>Records with no label (including the ambiguous ones).</summary>
    public IReadOnlyList<ScanRecord> Unmatched { get; }

    /// <summary>Of <see cref="Unmatched"/>, those whose file name belongs to several labels, or to one label another record also has by name.</summary>
    public int AmbiguousFileName { get; }

    /// <summary>Of <see cref="Unmatched"/>, those that reached a label another record of the series also reached.</summary>
    public int SharedLabel { get; }

    private enum Way { Exact, Full, Name }

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

        var all = records.ToList();
        var recordsByName = all.GroupBy(r => Path.GetFileName(r.Image), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var found = new List<(ScanRecord Record, LabelEntry? Label, Way Way)>();
        int ambiguous = 0;
        foreach (var record in all)
        {
            if (record.Path is not null && byFull.TryGetValue(record.Path, out var label))
                found.Add((record, label, Way.Full));
            else if (byExact.TryGetValue(record.Image, out label))
                found.Add((record, label, Way.Exact));
            else if (byFull.TryGetValue(Path.GetFullPath(record.Image, recordBase), out label))
                found.Add((record, label, Way.Full));
            else
                found.Add((record, null, Way.Name));
        }
        var reachedByPath = new HashSet<LabelEntry>(found.Where(f => f.Label is not null).Select(f => f.Label!), ReferenceEqualityComparer.Instance);
        for (int i = 0; i < found.Count; i++)
        {
            var (record, label, way) = found[i];
            if (label is not null) continue;
            string name = Path.GetFileName(record.Image);
            if (!byName.TryGetValue(name, out var candidates)) continue;
            if (candidates.Count == 1 && recordsByName[name] == 1 && !reachedByPath.Contains(candidates[0]))
                found[i] = (record, candidates[0], way);
            else
                ambiguous++;
        }

        var claims = new Dictionary<LabelEntry, int>(ReferenceEqualityComparer.Instance);   // records per label (entries are records: compare by reference)
        foreach (var f in found.Where(f => f.Label is not null))
            claims[f.Label!] = claims.GetValueOrDefault(f.Label!) + 1;
        var matched = new List<LabeledRecord>();
        var unmatched = new List<ScanRecord>();
        int exact = 0, full = 0, fileName = 0, shared = 0;
        foreach (var (record, label, way) in found)
        {
            if (label is null)
            {
                unmatched.Add(record);
                continue;
            }
            if (claims[label] > 1)
            {
                shared++;
                unmatched.Add(record);
                continue;
            }
            if (way == Way.Exact) exact++;
            else if (way == Way.Full) full++;
            else fileName++;
            matched.Add(new LabeledRecord(record, label));
        }
        return new LabelJoin(matched, exact, full, fileName, unmatched, ambiguous, shared);
    }
}
