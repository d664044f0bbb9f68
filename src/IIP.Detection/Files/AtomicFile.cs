namespace IIP.Detection.Files;

/// <summary>
/// Writes a file under a temporary name beside it (NAME.tmp) and renames it over NAME, so a crash or a full disk never
/// leaves a half-written file under the final name; the temporary file is removed when the write fails.
/// </summary>
public static class AtomicFile
{
    /// <summary><paramref name="writeTemporary"/> writes the whole file to the path it is given.</summary>
    public static void Write(string path, Action<string> writeTemporary)
    {
        string temporary = path + ".tmp";
        try
        {
            writeTemporary(temporary);
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
