namespace IIP.Detection.Scanning;

/// <summary>
/// Appends <see cref="ScanRecord"/>s to a JSONL results file, one line per record, each flushed to the disk
/// (fsync) before <see cref="Append"/> returns: a scan that is killed or loses power keeps every record it
/// had written. Opening a file whose last line has no newline (a crash mid-write) repairs it first: the tail
/// is kept and terminated when it is a complete record, otherwise removed; <see cref="RepairNote"/> says which.
/// Thread-safe: concurrent <see cref="Append"/> calls write whole lines, one after another. One writer per file: opening
/// takes the file's <see cref="ResultsLock"/>, so a second process that opens it fails at once. Readers may read meanwhile.
/// </summary>
public sealed class ResultsWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly ResultsLock? _ownLock;
    private readonly Lock _gate = new();

    private ResultsWriter(string path, FileStream stream, ResultsLock? ownLock, string? repairNote)
    {
        FilePath = path;
        _stream = stream;
        _ownLock = ownLock;
        RepairNote = repairNote;
    }

    public string FilePath { get; }

    /// <summary>What opening did to an interrupted last line, or null when the file was clean or new.</summary>
    public string? RepairNote { get; }

    /// <summary>
    /// Opens (creating it and its folder if needed) a results file for appending, taking its <see cref="ResultsLock"/>;
    /// a caller that already holds the lock passes it as <paramref name="heldLock"/> (and keeps disposing it).
    /// </summary>
    public static ResultsWriter Open(string path, ResultsLock? heldLock = null)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        var ownLock = heldLock is null ? ResultsLock.Acquire(path) : null;
        FileStream? stream = null;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
            string? note = RepairTail(path, stream);
            stream.Seek(0, SeekOrigin.End);
            return new ResultsWriter(path, stream, ownLock, note);
        }
        catch
        {
            stream?.Dispose();
            ownLock?.Dispose();
            throw;
        }
    }

    /// <summary>Writes one record as one line and flushes it to the disk.</summary>
    public void Append(ScanRecord record)
    {
        byte[] json = ScanRecordJson.Serialize(record);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        lock (_gate)
        {
            // One write call per line, then fsync: a line is either fully on disk or is an unterminated tail
            // that the next Open repairs.
            _stream.Write(line);
            _stream.Flush(flushToDisk: true);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stream.Dispose();
            _ownLock?.Dispose();
        }
    }

    /// <summary>Terminates or trims an unterminated last line; returns a note for the user, or null.</summary>
    private static string? RepairTail(string path, FileStream stream)
    {
        long length = stream.Length;
        if (length == 0)
            return null;
        long tailStart = FindTailStart(stream, length);
        if (tailStart == length)
            return null; // ends with '\n'

        var tail = new byte[length - tailStart];
        stream.Seek(tailStart, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        if (ScanRecordJson.IsCompleteRecord(tail))
        {
            stream.Seek(0, SeekOrigin.End);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
            return $"{path}: the last record had no newline (interrupted scan); kept it and added the newline";
        }
        stream.SetLength(tailStart);
        stream.Flush(flushToDisk: true);
        return $"{path}: removed an incomplete last line of {tail.Length} bytes left by an interrupted scan; that (image, method) will be redone";
    }

    /// <summary>Offset just after the last '\n' (0 when there is none); equals <paramref name="length"/> when the file ends with '\n'.</summary>
    private static long FindTailStart(FileStream stream, long length)
    {
        const int ChunkSize = 64 * 1024;
        var chunk = new byte[ChunkSize];
        long end = length;
        while (end > 0)
        {
            long start = Math.Max(0, end - ChunkSize);
            int count = (int)(end - start);
            stream.Seek(start, SeekOrigin.Begin);
            stream.ReadExactly(chunk, 0, count);
            int newline = Array.LastIndexOf(chunk, (byte)'\n', count - 1, count);
            if (newline >= 0)
                return start + newline + 1;
            end = start;
        }
        return 0;
    }
}
