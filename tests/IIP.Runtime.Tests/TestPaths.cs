namespace IIP.Runtime.Tests;

/// <summary>Locates the repository root and the read-only ../shared data beside it.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared from the repository root (golden models, testbed). CI lays it there too.</summary>
    public static string Shared { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string TinySd => Path.Combine(Shared, "golden", "tiny-sd");

    public static string TinySdDiffusers => Path.Combine(TinySd, "model");

    public static string TinySdLdm => Path.Combine(TinySd, "model-ldm-fp16.safetensors");

    public static string GoldenTensors => Path.Combine(TinySd, "golden.safetensors");

    public static string GoldenJson => Path.Combine(TinySd, "golden.json");

    public static string Testbed => Path.Combine(Shared, "testbed");

    /// <summary>The testbed whose model really memorizes (../shared/testbed-v2; the README's main job scans its copy in data/).</summary>
    public static string TestbedV2 => Path.Combine(Shared, "testbed-v2");

    /// <summary>A fresh empty directory under the system temp folder.</summary>
    public static string NewTempDir(string tag)
    {
        var dir = Path.Combine(Path.GetTempPath(), "iip-tests", $"{tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "IIP.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"IIP.sln not found above {AppContext.BaseDirectory}");
    }
}
