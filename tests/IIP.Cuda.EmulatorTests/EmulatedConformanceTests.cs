using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tests.Cuda;
using IIP.TestSupport.Conformance;

namespace IIP.Cuda.EmulatorTests;

/// <summary>
/// Every CUDA op against the CPU reference, at the small shapes of <see cref="ConformanceCases.Small"/>, with the
/// kernels of kernels/*.cu running on the kernel emulator: the launch code, the kernels' indexing, fragment layouts,
/// barriers and bounds, checked on any machine. Tolerances are the GPU cases' own (the emulator sums in fp32 as the
/// GPU does, in a different order).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class EmulatedConformanceTests
{
    public static TheoryData<string> CaseNames => NamesOf(ConformanceCases.Small);

    /// <summary>The cases whose kernels are in gemm.cu: the ones the GEMM main loop serves (1x1 convolutions included).</summary>
    public static TheoryData<string> GemmCaseNames => NamesOf(ConformanceCases.Small.Where(c => c.Kernel.Contains("gemm.cu")));

    private static TheoryData<string> NamesOf(IEnumerable<ConformanceCase> cases)
    {
        var data = new TheoryData<string>();
        foreach (var c in cases) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesCpuReference(string caseName)
    {
        var result = ConformanceCases.ByName(caseName, CaseShapes.Small).Run(EmulatedBackend.Instance, new ConformanceOptions());
        Assert.True(result.Passed, result.Report());
    }

    [Theory]
    [MemberData(nameof(GemmCaseNames))]
    public void MatchesCpuReferenceWithTheCpAsyncGemm(string caseName)
    {
        // The GEMM cases again with the opt-in cp.async main loop, which serves the products whose operands allow 16-byte
        // loads (linear layers, 1x1 convolutions, the materialized attention's products and their gradients).
        var backend = EmulatedBackend.Instance;
        Assert.NotNull(backend.Kernels.GemmPipelined);
        backend.GemmPipeline = GemmPipeline.CpAsync;
        try
        {
            var result = ConformanceCases.ByName(caseName, CaseShapes.Small).Run(backend, new ConformanceOptions());
            Assert.True(result.Passed, result.Report());
        }
        finally
        {
            backend.GemmPipeline = GemmPipeline.RegisterStaged;
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesCpuReferenceWithThreadsInReverseOrder(string caseName)
    {
        // The emulator runs a block's threads in turn between barriers; last to first, a kernel that reads what another
        // thread has yet to write (a missing barrier) or overwrites what another has yet to read reads different data.
        using var reversed = EmulatedBackend.ReverseThreadOrder();
        var result = ConformanceCases.ByName(caseName, CaseShapes.Small).Run(EmulatedBackend.Instance, new ConformanceOptions());
        Assert.True(result.Passed, result.Report());
    }

    [Fact]
    public void TheBackendRunsOnTheEmulator()
    {
        // A real driver would make these GPU tests, not emulator tests: the device must be the emulator.
        var device = EmulatedBackend.Instance.Device;
        Assert.StartsWith("IIP CUDA emulator", device.Name);
        Assert.Equal(90, device.ComputeCapability);
        Assert.Equal(132, device.MultiprocessorCount);  // an H200's, so split K and the split group norm choose as there
    }
}
