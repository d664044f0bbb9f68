using IIP.Engine.Backends.Cuda;
using IIP.Native;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// PTX modules through the driver's JIT: its error log and missing entry points. Needs a GPU (the kernel emulator
/// compiles no PTX, so these stay out of tests/IIP.Cuda.EmulatorTests).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class CudaModuleTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    [CudaFact]
    public void BadPtxReportsTheJitErrorLog()
    {
        const string ptx = ".version 7.0\n.target sm_80\n.address_size 64\n.visible .entry broken() { not_an_instruction; }\n";
        var e = Assert.Throws<CudaException>(() => CudaModule.LoadPtx(Gpu.Device, ptx, "broken-test"));
        Assert.Contains("broken-test", e.Message);
        Assert.Contains("JIT error log", e.Message);
    }

    [CudaFact]
    public void MissingEntryPointIsNamed()
    {
        const string ptx = ".version 7.0\n.target sm_80\n.address_size 64\n.visible .entry present() { ret; }\n";
        using var module = CudaModule.LoadPtx(Gpu.Device, ptx, "tiny");
        Assert.Equal("present", module.GetKernel("present").Name);
        var e = Assert.Throws<CudaException>(() => module.GetKernel("absent"));
        Assert.Contains("has no entry point 'absent'", e.Message);
    }
}
