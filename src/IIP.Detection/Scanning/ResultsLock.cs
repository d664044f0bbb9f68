using System.Diagnostics;
using IIP.Detection.Files;

namespace IIP.Detection.Scanning;

/// <summary>
/// One writer per results file: an advisory lock on "&lt;results&gt;.lock" beside it, held while a scan writes. .NET takes
/// an exclusive flock for a file opened with <see cref="FileShare.None"/>, so a second scan into the same results file fails
/// at once, naming the process that holds it (written to "&lt;results&gt;.lock.owner": the locked file itself cannot be read
/// by another process), instead of interleaving lines. The lock goes when the process ends, however it ends (kill -9
/// included); the small files are left in place, since deleting the lock file would let two processes lock two files.
/// </summary>
public sealed class ResultsLock : IDisposable
{
    private readonly FileStream _stream;

    private ResultsLock(FileStream stream) => _stream = stream;

    /// <summary>The lock file: beside the results file's real path, so every spelling of it through linked folders takes one lock.</summary>
    public static string PathFor(string resultsPath) => RealPath.Of(resultsPath) + ".lock";

    /// <summary>Takes the lock of <paramref name="resultsPath"/>, or throws <see cref="IOException"/> saying who holds it.</summary>
    public static ResultsLock Acquire(string resultsPath)
    {
        string lockPath = PathFor(resultsPath);
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
        {
            throw new IOException($"{Path.GetFullPath(resultsPath)} is being written by another iip process ({Holder(lockPath) ?? "lock " + lockPath}); " +
                                  "wait for it to finish, or write to another --out", e);
        }
        try
        {
            File.WriteAllText(lockPath + ".owner", $"pid {Environment.ProcessId} on {Environment.MachineName}, since {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the owner note only helps the message of a second writer; the lock itself is held
        }
        return new ResultsLock(stream);
    }

    /// <summary>
    /// Whether a scan is writing <paramref name="resultsPath"/> now: its lock file exists and cannot be locked. Leaves
    /// nothing behind (no lock file is created, no owner note written). The holder's note, or null, in <paramref name="holder"/>.
    /// </summary>
    public static bool IsHeld(string resultsPath, out string? holder)
    {
        string lockPath = PathFor(resultsPath);
        holder = null;
        try
        {
            using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return false;   // no lock file (never scanned here), or one this user may not lock: nobody can be shown to hold it
        }
        catch (IOException)
        {
            holder = Holder(lockPath);
            return true;
        }
    }

    // the holder's note beside the lock ("pid N on HOST, since ..."), or null when it cannot be read
    private static string? Holder(string lockPath)
    {
        try
        {
            return File.ReadAllText(lockPath + ".owner").Trim() is { Length: > 0 } note ? note : null;
        }
        catch (Exception read) when (read is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose() => _stream.Dispose();
}
