using IIP.Engine;
using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Engine;

/// <summary>EngineOptions: the one place the engine's environment switches are read, and what each maps to.</summary>
public class EngineOptionsTests
{
    private static EngineOptions From(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return EngineOptions.FromVariables(name => map.GetValueOrDefault(name));
    }

    [Fact]
    public void NoVariablesGiveTheProductDefaults() => Assert.Equal(EngineOptions.Default, From());

    [Fact]
    public void EachVariableSetsItsSetting()
    {
        var options = From(("IIP_CUDA_GRAPHS", "0"), ("IIP_CUBLAS", "1"), ("IIP_CUBLAS_DIR", "/opt/blas"), ("IIP_GEMM_PIPELINE", "cp.async"),
            ("IIP_CPU_GEMM", "avx2"), ("IIP_CPU_PACKED_WEIGHTS", "0"), ("IIP_CUDA_DRIVER", "/tmp/libemulator.so"));
        Assert.Equal(new EngineOptions
        {
            CudaGraphs = false, Cublas = true, CublasDirectory = "/opt/blas", GemmPipeline = GemmPipeline.CpAsync,
            CpuGemm = "avx2", CpuPackedWeights = false, CudaDriverPath = "/tmp/libemulator.so",
        }, options);
        Assert.Contains("CUDA graphs off (IIP_CUDA_GRAPHS=0)", string.Join("\n", options.Describe()));
        Assert.Contains("cp.async (IIP_GEMM_PIPELINE)", string.Join("\n", options.Describe()));
    }

    [Fact]
    public void AnUnknownGemmPipelineIsAnErrorNamingTheVariable()
    {
        var e = Assert.Throws<ArgumentException>(() => From(("IIP_GEMM_PIPELINE", "wgmma")));
        Assert.Contains("IIP_GEMM_PIPELINE=wgmma", e.Message);
    }

    [Fact]
    public void OnlyEngineOptionsAndTheShardOptionReadTheEnvironment()
    {
        // every engine setting is read once, in EngineOptions; a second reader elsewhere would bypass the options passed
        // down. The other reader is the cluster task's identity (`--shard auto`), which the scheduler gives that way.
        var readers = Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadAllText(f).Contains("GetEnvironmentVariable"))
            .Select(f => Path.GetRelativePath(TestPaths.RepoRoot, f))
            .ToList();
        Assert.Equal([Path.Combine("src", "IIP.Cli", "Commands", "Scan", "ShardOption.cs"), Path.Combine("src", "IIP.Engine", "EngineOptions.cs")],
            readers.Order(StringComparer.Ordinal));
    }
}
