namespace IIP.Detection.Files;

/// <summary>
/// Writes a file under a temporary name beside it (<see cref="TemporaryPath"/>), flushes it to the disk and renames it
/// over NAME, so a crash, a power loss or a full disk never leaves a half-written file under the final name; the
/// temporary file is removed when the write fails. The temporary name carries the process id, so processes writing the
/// same file (the tasks of a sharded scan) never remove or rename each other's.
/// </summary>
public static class AtomicFile
{
    /// <summary>NAME.PID.tmp: where this process writes <paramref name="path"/> before the rename.</summary>
    public static string TemporaryPath(string path) => $"{path}.{Environment.ProcessId}.tmp";

    /// <summary><paramref name="writeTemporary"/> writes the whole file to the path it is given.</summary>
    public static void Write(string path, Action<string> writeTemporary)
    {
        string temporary = TemporaryPath(path);
        try
        {
            writeTemporary(temporary);
            using (var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                written.Flush(flushToDisk: true);   // the data on the disk before the name points at it
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    public static void WriteAllText(string path, string text) => Write(path, temporary => File.WriteAllText(temporary, text));

    public static void WriteAllLines(string path, IEnumerable<string> lines) => Write(path, temporary => File.WriteAllLines(temporary, lines));
}
