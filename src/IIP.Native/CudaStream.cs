namespace IIP.Native;

/// <summary>
/// A non-blocking stream (CU_STREAM_NON_BLOCKING): work on it runs in order, asynchronously to the host.
/// Copies: host-to-device from pageable memory returns once the driver has staged the source, so the source
/// may be reused at once; from page-locked memory (<see cref="QueueCopyToDevice"/>) it returns before the copy has run;
/// <see cref="CopyToHost{T}"/> waits for the stream, so the data is there on return.
/// </summary>
public sealed unsafe class CudaStream : IDisposable
{
    private const uint NonBlocking = 1;

    private readonly CudaStreamHandle _handle;

    public CudaDevice Device { get; }

    internal nint Handle => _handle.Value;

    public CudaStream(CudaDevice device)
    {
        Device = device;
        device.MakeCurrent();
        _handle = new CudaStreamHandle(device.Context);
        nint stream;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamCreate(&stream, NonBlocking));
        _handle.Adopt(stream);
    }

    /// <summary>Blocks until all work queued on the stream has finished.</summary>
    public void Synchronize()
    {
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamSynchronize(Handle));
    }

    /// <summary>Later work on this stream waits for <paramref name="cudaEvent"/> (recorded on any stream).</summary>
    public void Wait(CudaEvent cudaEvent)
    {
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamWaitEvent(Handle, cudaEvent.Handle, 0));
    }

    /// <summary>Queues a copy of <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public void CopyToDevice<T>(ReadOnlySpan<T> source, DevicePointer destination) where T : unmanaged
    {
        if (source.IsEmpty) return;
        Device.MakeCurrent();
        DriverCallCounts.HostToDevice();
        fixed (T* pSource = source)
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemcpyHtoDAsync(destination.Address, pSource,
                (nuint)((long)source.Length * sizeof(T)), Handle));
    }

    /// <summary>
    /// Queues a copy of <paramref name="bytes"/> bytes of page-locked <paramref name="source"/> to
    /// <paramref name="destination"/> and returns at once, before the copy has run: leave the source bytes alone until an
    /// event recorded after this call has completed.
    /// </summary>
    public void QueueCopyToDevice(CudaPinnedHostMemory source, long bytes, DevicePointer destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, source.Bytes);
        if (bytes == 0) return;
        Device.MakeCurrent();
        DriverCallCounts.HostToDevice();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemcpyHtoDAsync(destination.Address, source.Address, (nuint)bytes, Handle));
    }

    /// <summary>Copies device memory into <paramref name="destination"/>; returns when the data is on the host.</summary>
    public void CopyToHost<T>(DevicePointer source, Span<T> destination) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        Device.MakeCurrent();
        DriverCallCounts.DeviceToHost();
        fixed (T* pDestination = destination)
        {
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemcpyDtoHAsync(pDestination, source.Address,
                (nuint)((long)destination.Length * sizeof(T)), Handle));
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamSynchronize(Handle));
        }
    }

    /// <summary>Queues a device-to-device copy of <paramref name="bytes"/> bytes.</summary>
    public void CopyDeviceToDevice(DevicePointer source, DevicePointer destination, long bytes)
    {
        if (bytes == 0) return;
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemcpyDtoDAsync(destination.Address, source.Address, (nuint)bytes, Handle));
    }

    /// <summary>Queues filling <paramref name="bytes"/> bytes with <paramref name="value"/>.</summary>
    public void Fill(DevicePointer destination, long bytes, byte value = 0)
    {
        if (bytes == 0) return;
        Device.MakeCurrent();
        if (bytes % 4 == 0 && destination.Address % 4 == 0)
        {
            uint word = value * 0x01010101u;
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemsetD32Async(destination.Address, word, (nuint)(bytes / 4), Handle));
        }
        else
        {
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemsetD8Async(destination.Address, value, (nuint)bytes, Handle));
        }
    }

    /// <summary>
    /// Starts recording the work queued on this stream into a graph instead of running it; end with
    /// <see cref="EndCapture"/>. Thread-local mode: other threads may keep using CUDA meanwhile.
    /// </summary>
    public void BeginCapture(CudaStreamCaptureMode mode = CudaStreamCaptureMode.ThreadLocal)
    {
        Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamBeginCapture(Handle, mode));
    }

    /// <summary>Ends a capture started with <see cref="BeginCapture"/> and returns the recorded graph.</summary>
    public CudaGraph EndCapture()
    {
        Device.MakeCurrent();
        var graph = new CudaGraphHandle(Device.Context);
        nint raw;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuStreamEndCapture(Handle, &raw));
        graph.Adopt(raw);
        return new CudaGraph(Device, graph);
    }

    public void Dispose() => _handle.Dispose();
}
