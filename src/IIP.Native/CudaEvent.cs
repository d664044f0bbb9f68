namespace IIP.Native;

/// <summary>A point in a stream's work, for ordering between streams, host waits and timing.</summary>
public sealed unsafe class CudaEvent : IDisposable
{
    private const uint DisableTiming = 2;

    private readonly CudaEventHandle _handle;

    public CudaDevice Device { get; }

    internal nint Handle => _handle.Value;

    public CudaEvent(CudaDevice device, bool timing = false)
    {
        Device = device;
        device.MakeCurrent();
        _handle = new CudaEventHandle(device.Context);
        nint raw;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuEventCreate(&raw, timing ? 0u : DisableTiming));
        _handle.Adopt(raw);
    }

    /// <summary>Marks the current end of <paramref name="stream"/>'s queued work.</summary>
    public void Record(CudaStream stream)
    {
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuEventRecord(Handle, stream.Handle));
    }

    /// <summary>Blocks until the recorded work has finished.</summary>
    public void Synchronize()
    {
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuEventSynchronize(Handle));
    }

    /// <summary>Whether the recorded work has finished (cuEventQuery), without blocking.</summary>
    public bool IsComplete
    {
        get
        {
            Device.MakeCurrent();
            var result = Interop.CudaDriver.cuEventQuery(Handle);
            if (result == CudaResult.NotReady) return false;
            CudaException.ThrowIfFailed(result);
            return true;
        }
    }

    /// <summary>Milliseconds between two completed timing events.</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        start.Device.MakeCurrent();
        float ms;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuEventElapsedTime(&ms, start.Handle, end.Handle));
        return ms;
    }

    public void Dispose() => _handle.Dispose();
}
