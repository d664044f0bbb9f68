using System.Text.Json;

namespace IIP.Detection.Scanning;

/// <summary>The records of one results file, and how many bytes of an interrupted last line were ignored.</summary>
public sealed record ResultsFile(string FilePath, IReadOnlyList<ScanRecord> Records, int IgnoredTailBytes);

/// <summary>A results file line that is not a valid <see cref="ScanRecord"/>.</summary>
public sealed class ResultsFormatException(string filePath, int lineNumber, string problem, Exception? inner = null)
    : FormatException($"{filePath} line {lineNumber}: {problem}", inner)
{
    public string FilePath { get; } = filePath;

    /// <summary>1-based line number.</summary>
    public int LineNumber { get; } = lineNumber;
}

/// <summary>Reads JSONL results written by <see cref="ResultsWriter"/>.</summary>
public static class ResultsReader
{
    /// <summary>
    /// Reads every record. Blank lines are skipped. An unterminated last line that is not a complete record
    /// (a scan killed mid-write) is ignored and counted in <see cref="ResultsFile.IgnoredTailBytes"/>; any other
    /// invalid line throws <see cref="ResultsFormatException"/> naming the file and the line.
    /// </summary>
    public static ResultsFile Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"results file not found: {path}", path);
        byte[] bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> rest = bytes;
        if (rest.StartsWith("\uFEFF"u8))
            rest = rest[3..];

        var records = new List<ScanRecord>();
        int ignoredTail = 0;
        for (int lineNumber = 1; !rest.IsEmpty; lineNumber++)
        {
            int newline = rest.IndexOf((byte)'\n');
            bool terminated = newline >= 0;
            ReadOnlySpan<byte> line = terminated ? rest[..newline] : rest;
            rest = terminated ? rest[(newline + 1)..] : [];
            if (line.EndsWith("\r"u8))
                line = line[..^1];
            if (line.Trim(" \t"u8).IsEmpty)
                continue;
            try
            {
                records.Add(ScanRecordJson.Deserialize(line));
            }
            catch (JsonException) when (!terminated)
            {
                // An interrupted last write, not corruption: the writer trims it on its next open.
                ignoredTail = line.Length;
            }
            catch (JsonException e)
            {
                throw new ResultsFormatException(path, lineNumber, $"not a valid scan record ({e.Message})", e);
            }
        }
        return new ResultsFile(path, records, ignoredTail);
    }
}
