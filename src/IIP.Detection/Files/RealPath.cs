namespace IIP.Detection.Files;

/// <summary>
/// A path with every symbolic link in it resolved (the file's own and its folders'), as realpath(3) gives it for the
/// part that exists; the rest is kept as written. Two spellings of one file through linked folders
/// (~/runs/r.jsonl and /gpfs/u/runs/r.jsonl) give one real path.
/// </summary>
public static class RealPath
{
    public static string Of(string path)
    {
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (string part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                next = Of(target.FullName);   // a target's own folders may be links too
            current = next;
        }
        return current;
    }
}
