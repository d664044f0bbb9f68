namespace IIP.Native;

/// <summary>One device allocation (cuMemAlloc_v2, 256-byte aligned), freed on Dispose or by its finalizer.</summary>
public sealed unsafe class CudaDeviceMemory : IDisposable
{
    private readonly CudaDeviceMemoryHandle _handle;

    public CudaDevice Device { get; }

    public long Bytes { get; }

    public DevicePointer Pointer => new((ulong)_handle.Value);

    private CudaDeviceMemory(CudaDevice device, CudaDeviceMemoryHandle handle, long bytes)
    {
        Device = device;
        _handle = handle;
        Bytes = bytes;
    }

    /// <summary>Allocates <paramref name="bytes"/> bytes; a failure names the size and the memory still free.</summary>
    public static CudaDeviceMemory Allocate(CudaDevice device, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        var result = TryAllocate(device, bytes, out var memory);
        if (result == CudaResult.Success) return memory!;
        var (free, total) = device.MemoryInfo();
        throw new CudaException(result, $"cuMemAlloc_v2({bytes} bytes)",
            $"{free / (1L << 20)} MiB free of {total / (1L << 20)} MiB on {device.Name}");
    }

    /// <summary>Allocates without throwing on out-of-memory (the caching pool retries after freeing).</summary>
    public static CudaResult TryAllocate(CudaDevice device, long bytes, out CudaDeviceMemory? memory)
    {
        device.MakeCurrent();
        var handle = new CudaDeviceMemoryHandle(device.Context);
        ulong address;
        var result = Interop.CudaDriver.cuMemAlloc(&address, (nuint)bytes);
        if (result != CudaResult.Success)
        {
            handle.Dispose();
            memory = null;
            return result;
        }
        handle.Adopt((nint)address);
        memory = new CudaDeviceMemory(device, handle, bytes);
        return result;
    }

    public void Dispose() => _handle.Dispose();
}
