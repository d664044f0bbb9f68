using IIP.Runtime.Tests.Cuda;
using IIP.Runtime.Tests.Cuda.Conformance;

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
    public static TheoryData<string> CaseNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in ConformanceCases.Small) data.Add(c.Name);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesCpuReference(string caseName)
    {
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
