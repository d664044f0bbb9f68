namespace IIP.Engine.Tests.Weights;

/// <summary>Builds altered diffusers folders of the golden tiny model (symlinks to the read-only files).</summary>
internal static class TinyModelCopies
{
    /// <summary>
    /// Mirrors the tiny-sd folder into a temp dir, linking each file; <paramref name="rename"/> maps a relative
    /// path to its new relative path, or null to leave the file out.
    /// </summary>
    public static string Create(string tag, Func<string, string?>? rename = null)
    {
        string source = TestPaths.TinySdDiffusers;
        string target = TestPaths.NewTempDir(tag);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(source, file);
            string? mapped = rename is null ? relative : rename(relative);
            if (mapped is null) continue;
            string destination = Path.Combine(target, mapped);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.CreateSymbolicLink(destination, file);
        }
        return target;
    }
}
