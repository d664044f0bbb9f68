namespace IIP.TestSupport;

/// <summary>
/// Locates the repository root and the test data in it: <c>data/golden</c>, <c>data/testbed</c> and <c>data/testbed-v2</c>
/// are copies of ../shared/golden, ../shared/testbed and ../shared/testbed-v2 (data/README.md), so a clone alone runs the tests.
/// </summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The repository's test data (copies of ../shared's golden models and testbeds).</summary>
    public static string Data => Path.Combine(RepoRoot, "data");

    /// <summary>The tiny SD-v1-shaped golden model and diffusers' reference outputs (data/golden/README.md).</summary>
    public static string TinySd => Path.Combine(Data, "golden", "tiny-sd");

    public static string TinySdDiffusers => Path.Combine(TinySd, "model");

    public static string TinySdLdm => Path.Combine(TinySd, "model-ldm-fp16.safetensors");

    public static string GoldenTensors => Path.Combine(TinySd, "golden.safetensors");

    public static string GoldenJson => Path.Combine(TinySd, "golden.json");

    /// <summary>The tiny SD-2.x-shaped golden model (per-level heads, linear projections, OpenCLIP single file, v-prediction).</summary>
    public static string TinySd2 => Path.Combine(Data, "golden", "tiny-sd2");

    public static string TinySd2Diffusers => Path.Combine(TinySd2, "model");

    public static string TinySd2Ldm => Path.Combine(TinySd2, "model-ldm-fp16.safetensors");

    public static string Golden2Tensors => Path.Combine(TinySd2, "golden.safetensors");

    public static string Golden2Json => Path.Combine(TinySd2, "golden.json");

    /// <summary>The shallow v1 testbed (its model barely memorizes): small images and a small model for scan tests.</summary>
    public static string Testbed => Path.Combine(Data, "testbed");

    /// <summary>The testbed whose model really memorizes, which the README's main job scans.</summary>
    public static string TestbedV2 => Path.Combine(Data, "testbed-v2");

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
