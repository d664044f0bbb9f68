namespace IIP.Detection.Methods;

/// <summary>
/// One computer per cache entry across processes (the tasks of a sharded scan share the perturbation embedding and
/// the calibration): an exclusive lock on "&lt;entry&gt;.lock" (.NET's flock for <see cref="FileShare.None"/>), waited for
/// while another process holds it, so the second task reads what the first computed instead of computing it again.
/// The lock goes when its holder ends, however it ends; a holder that ends normally also removes the lock file, so the
/// cache folder holds only cache entries. (A process that locks the file just before it is removed can then share the
/// work with a third: the entry is computed twice, and written whole both times, since every cache write is a rename.)
/// </summary>
public sealed class CacheLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _path;

    private CacheLock(FileStream stream, string path)
    {
        _stream = stream;
        _path = path;
    }

    /// <summary>Takes the lock of <paramref name="entryPath"/>, waiting (and saying so once) while another process holds it.</summary>
    public static CacheLock Wait(string entryPath, IProgress<string>? log = null, TimeSpan? poll = null)
    {
        string lockPath = entryPath + ".lock";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(lockPath))!);
        bool said = false;
        while (true)
        {
            try
            {
                return new CacheLock(new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None), lockPath);
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
            {
                if (!said) log?.Report($"waiting for another iip process computing {Path.GetFileName(entryPath)} (lock {lockPath})");
                said = true;
                Thread.Sleep(poll ?? TimeSpan.FromSeconds(1));
            }
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a lock file left behind only costs a file
        }
    }
}
