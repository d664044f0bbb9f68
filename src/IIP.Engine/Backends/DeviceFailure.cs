using IIP.Native;

namespace IIP.Engine.Backends;

/// <summary>
/// Whether an exception is a failure of the device itself (out of memory on the GPU, a lost context, a faulting kernel),
/// whichever backend raised it: no fault of the input, and every later call on that device would fail too. The
/// application asks this instead of naming a backend's exception type.
/// </summary>
public static class DeviceFailure
{
    public static bool Is(Exception e) => e is CudaException;
}
