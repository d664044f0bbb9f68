namespace IIP.Runtime.Scanning;

/// <summary>
/// The (image, method, options hash) keys already in a results file, so a rerun with the same arguments
/// skips them. A record with an <see cref="ScanRecord.Error"/> counts as done: errors are final (a corrupt or
/// unreadable image fails the same way every time, and its record says why). Pass retryErrors: true to redo
/// them instead (a rerun then appends a new record; readers see both, the later one last).
/// Image paths compare exactly (ordinal), as given to the scan.
/// </summary>
public sealed class ResumeSet
{
    private readonly HashSet<(string Image, string Method, string Options)> _done = [];

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

    public bool IsDone(string image, string method, string? optionsHash) =>
        _done.Contains((image, method, optionsHash ?? ""));

    /// <summary>Marks a record's key done (call after writing it).</summary>
    public void Add(ScanRecord record) => _done.Add((record.Image, record.Method, record.Options ?? ""));
}
