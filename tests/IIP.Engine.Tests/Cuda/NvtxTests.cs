using System.Runtime.InteropServices;
using IIP.Native;

namespace IIP.Engine.Tests.Cuda;

/// <summary>NVTX ranges: bound when libnvToolsExt.so.1 loads, a no-op otherwise.</summary>
public class NvtxTests
{
    [Fact]
    public void Enabled_exactly_when_the_nvtx_library_loads()
    {
        bool loads = NativeLibrary.TryLoad("libnvToolsExt.so.1", out var handle)
                     && NativeLibrary.TryGetExport(handle, "nvtxRangePushA", out _);
        Assert.Equal(loads, Nvtx.Enabled);
    }
}
