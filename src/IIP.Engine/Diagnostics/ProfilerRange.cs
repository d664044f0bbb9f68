using IIP.Native;

namespace IIP.Engine.Diagnostics;

/// <summary>A named range on the profiler's timeline (NVTX under Nsight; nothing otherwise): <c>using var _ = ProfilerRange.Open("iip inversion");</c></summary>
public static class ProfilerRange
{
    public static IDisposable Open(string name) => Nvtx.Range(name);
}
