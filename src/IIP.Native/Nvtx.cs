using System.Runtime.InteropServices;
using System.Text;

namespace IIP.Native;

/// <summary>
/// NVTX ranges for Nsight Systems / Nsight Compute: <c>using var _ = Nvtx.Range("unet");</c>. Binds
/// nvtxRangePushA / nvtxRangePop from libnvToolsExt.so.1 (the CUDA toolkit's NVTX v2 library, which Nsight
/// intercepts) when it can be loaded; otherwise every call is a no-op costing one branch.
/// </summary>
public static unsafe class Nvtx
{
    private static readonly delegate* unmanaged<byte*, int> s_push;
    private static readonly delegate* unmanaged<int> s_pop;

    static Nvtx()
    {
        if (NativeLibrary.TryLoad("libnvToolsExt.so.1", out var library)
            && NativeLibrary.TryGetExport(library, "nvtxRangePushA", out var push)
            && NativeLibrary.TryGetExport(library, "nvtxRangePop", out var pop))
        {
            s_push = (delegate* unmanaged<byte*, int>)push;
            s_pop = (delegate* unmanaged<int>)pop;
        }
    }

    /// <summary>Whether ranges reach a profiler (the NVTX library was found).</summary>
    public static bool Enabled => s_push != null;

    /// <summary>Opens a named range; disposing the result closes it.</summary>
    public static RangeScope Range(string name)
    {
        if (s_push == null) return default;
        int length = Encoding.UTF8.GetByteCount(name);
        Span<byte> bytes = length < 256 ? stackalloc byte[length + 1] : new byte[length + 1];
        Encoding.UTF8.GetBytes(name, bytes);
        bytes[length] = 0;
        fixed (byte* p = bytes) s_push(p);
        return new RangeScope(open: true);
    }

    /// <summary>Closes the range it came from when disposed (nothing when NVTX is absent).</summary>
    public readonly struct RangeScope(bool open) : IDisposable
    {
        public void Dispose()
        {
            if (open) s_pop();
        }
    }
}
