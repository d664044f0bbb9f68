namespace IIP.Detection.Scanning;

/// <summary>
/// What a results file already holds, so a rerun with the same arguments skips it: per (image, method, options hash) the
/// SHA-256 of the image file that was scored. A record is reused only while it is still true: the same method and options,
/// and the file unchanged (an image replaced in place is scored again; its new record follows the old one, and readers
/// take the later). The image is known by its absolute normalized path (<see cref="ScanRecord.Path"/>; the path as given
/// for records written before it was recorded), so the same file reached through different spellings is one image. A
/// record with an <see cref="ScanRecord.Error"/> counts as done: errors are final (a corrupt image fails the same way
/// every time, and its record says why); pass retryErrors: true to redo them. The model is not part of the key: a scan
/// refuses a results file of another model before it starts (<see cref="ModelOf"/>). For a method conditioned on the
/// caption the caption is part of what must be unchanged (<see cref="ScanRecord.CaptionSha256"/>): an edited caption is
/// scored again, and so is an image whose record says it had no caption once a manifest gives it one.
/// </summary>
public sealed class ResumeSet
{
    private readonly Dictionary<(string Image, string Method, string Options), (string Sha256, string? CaptionSha256)> _done = [];

    /// <summary>Number of distinct keys done.</summary>
    public int Count => _done.Count;

    public static ResumeSet From(IEnumerable<ScanRecord> records, bool retryErrors = false)
    {
        var set = new ResumeSet();
        foreach (var record in records)
            if (!(retryErrors && record.Error is not null))
                set.Add(record);
        return set;
    }

    /// <summary>The keys in a results file; empty when the file does not exist yet.</summary>
    public static ResumeSet Load(string resultsPath, bool retryErrors = false) =>
        File.Exists(resultsPath) ? From(ResultsReader.Read(resultsPath).Records, retryErrors) : new ResumeSet();

    /// <summary>
    /// Whether <paramref name="method"/> under <paramref name="optionsHash"/> is done for the image at <paramref name="path"/>
    /// (absolute) or, in records without a path, named <paramref name="image"/>; with <paramref name="sha256"/> given, only
    /// when the recorded file had that hash (an unreadable file, recorded with an empty hash, matches an empty hash); with
    /// <paramref name="captionSha256"/> given (a caption-conditioned method: the caption's hash, or "" for an image without
    /// one), only when the record was made with that caption.
    /// </summary>
    public bool IsDone(string image, string method, string? optionsHash, string? path = null, string? sha256 = null, string? captionSha256 = null)
    {
        string options = optionsHash ?? "";
        (string Sha256, string? CaptionSha256) recorded = default;
        bool found = (path is not null && _done.TryGetValue((KeyOf(path), method, options), out recorded))
                     || _done.TryGetValue((image, method, options), out recorded);   // records from before paths were recorded
        return found && (sha256 is null || recorded.Sha256 == sha256) && (captionSha256 is null || (recorded.CaptionSha256 ?? "") == captionSha256);
    }

    /// <summary>Marks a record's key done (call after writing it); a later record of the same key replaces an earlier one.</summary>
    public void Add(ScanRecord record) =>
        _done[(record.Path is { } p ? KeyOf(p) : record.Image, record.Method, record.Options ?? "")] = (record.Sha256, record.CaptionSha256);

    // absolute paths are keyed with a prefix no relative image name has
    private static string KeyOf(string path) => "\0" + path;

    /// <summary>
    /// The model fingerprints the records of a results file carry: an empty set for a file without records; "" stands for
    /// records written before fingerprints were recorded.
    /// </summary>
    public static IReadOnlySet<string> ModelOf(IEnumerable<ScanRecord> records) => records.Select(r => r.Model ?? "").ToHashSet(StringComparer.Ordinal);
}
