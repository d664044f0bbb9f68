namespace IIP.Detection.Methods;

/// <summary>
/// One computer per cache entry across processes (the tasks of a sharded scan share the perturbation embedding and
/// the calibration): an exclusive lock on "&lt;entry&gt;.lock" (.NET's flock for <see cref="FileShare.None"/>), waited for
/// while another process holds it, so the second task reads what the first computed instead of computing it again.
/// The lock goes when its holder ends, however it ends.
/// </summary>
public sealed class CacheLock : IDisposable
{
    private readonly FileStream _stream;

    private CacheLock(FileStream stream) => _stream = stream;

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
                return new CacheLock(new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException and not PathTooLongException)
            {
                if (!said) log?.Report($"waiting for another iip process computing {Path.GetFileName(entryPath)} (lock {lockPath})");
                said = true;
                Thread.Sleep(poll ?? TimeSpan.FromSeconds(1));
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
