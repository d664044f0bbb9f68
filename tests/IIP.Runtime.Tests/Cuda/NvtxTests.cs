using System.Runtime.InteropServices;
using IIP.Native;

namespace IIP.Runtime.Tests.Cuda;

/// <summary>NVTX ranges: bound when libnvToolsExt.so.1 loads, a no-op otherwise; nesting and disposal never throw.</summary>
public class NvtxTests
{
    [Fact]
    public void Enabled_exactly_when_the_nvtx_library_loads()
    {
        bool loads = NativeLibrary.TryLoad("libnvToolsExt.so.1", out var handle)
                     && NativeLibrary.TryGetExport(handle, "nvtxRangePushA", out _);
        Assert.Equal(loads, Nvtx.Enabled);
    }

    [Fact]
    public void Ranges_nest_and_close_with_long_and_unicode_names()
    {
        using (Nvtx.Range("outer"))
        {
            using var inner = Nvtx.Range(new string('x', 600));
            using var unicode = Nvtx.Range("étape ✓");
        }
        default(Nvtx.RangeScope).Dispose();   // a scope that opened nothing closes nothing
    }
}
