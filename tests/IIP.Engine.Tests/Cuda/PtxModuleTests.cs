using System.Text.RegularExpressions;
using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// Runs without a GPU: the PTX built from kernels/*.cu (tools/cuda/build-ptx.sh, before the .NET build) is embedded
/// for sm_80 and sm_90, and every module declares exactly the entry points the backend loads.
/// </summary>
public partial class PtxModuleTests
{
    private static readonly int[] Architectures = [80, 90];

    [Fact]
    public void EveryModuleIsEmbeddedForSm80AndSm90()
    {
        var names = CudaKernelSet.EmbeddedPtxNames();
        var missing = Architectures.SelectMany(a => CudaKernelSet.ModuleNames.Select(m => $"ptx/sm_{a}/{m}.ptx"))
            .Where(n => !names.Contains(n)).ToList();
        Assert.True(missing.Count == 0,
            $"missing PTX resources: {string.Join(", ", missing)} (embedded: {string.Join(", ", names)}); run tools/cuda/build-ptx.sh, then rebuild");
        Assert.Equal(Architectures, CudaKernelSet.AvailableArchitectures());
    }

    [Fact]
    public void EachModuleDeclaresExactlyTheEntryPointsTheBackendLoads()
    {
        var problems = new List<string>();
        foreach (int arch in Architectures)
            foreach (var (module, expected) in CudaKernelSet.EntryPoints)
            {
                string? ptx = CudaKernelSet.ReadPtx(arch, module);
                if (ptx is null)
                {
                    problems.Add($"sm_{arch}/{module}.ptx is not embedded");
                    continue;
                }
                if (!ptx.Contains($".target sm_{arch}", StringComparison.Ordinal))
                    problems.Add($"sm_{arch}/{module}.ptx does not target sm_{arch}");
                var declared = EntryPattern().Matches(ptx).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
                var wanted = expected.Order(StringComparer.Ordinal).ToList();
                if (!declared.SequenceEqual(wanted))
                    problems.Add($"sm_{arch}/{module}.ptx declares [{string.Join(", ", declared)}], the backend loads [{string.Join(", ", wanted)}]");
            }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void TensorCoreKernelsUseMmaSync()
    {
        foreach (int arch in Architectures)
            foreach (var module in new[] { "gemm", "attention" })
            {
                string ptx = CudaKernelSet.ReadPtx(arch, module) ?? throw new InvalidOperationException($"sm_{arch}/{module}.ptx is not embedded");
                Assert.True(ptx.Contains("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", StringComparison.Ordinal),
                    $"sm_{arch}/{module}.ptx has no m16n8k16 f16 -> f32 mma.sync");
            }
    }

    [Theory]
    [InlineData(90, 90)]   // H100/H200: the sm_90 build
    [InlineData(89, 80)]   // Ada: sm_80 PTX, JIT-compiled
    [InlineData(86, 80)]
    [InlineData(80, 80)]   // A100
    [InlineData(100, 90)]  // a newer GPU runs the newest PTX
    public void ChoosesTheNewestArchitectureNotAboveTheDevice(int capability, int expected) =>
        Assert.Equal(expected, CudaKernelSet.ChooseArchitecture(capability, Architectures));

    [Fact]
    public void NoArchitectureForAnOlderDevice() => Assert.Null(CudaKernelSet.ChooseArchitecture(75, Architectures));

    [Fact]
    public void FusedAttentionFitsTheSharedMemoryOfTheTargets()
    {
        // opt-in shared memory per block: A100 (sm_80) 163 KiB, H100/H200 (sm_90) 227 KiB; d = 160 is the largest SD v1 head
        Assert.Equal(107520, CudaKernelSet.AttentionSharedBytes(160));
        Assert.True(CudaKernelSet.AttentionSharedBytes(CudaKernelSet.AttentionHeadSizes.Max()) <= 163 * 1024);
        Assert.True(CudaKernelSet.AttentionSharedBytes(48) <= 48 * 1024);  // d = 40 needs no opt-in
    }

    [GeneratedRegex(@"\.visible\s+\.entry\s+(\w+)\(")]
    private static partial Regex EntryPattern();
}
