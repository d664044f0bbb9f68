namespace IIP.Native;

/// <summary>
/// Page-locked host memory (cuMemHostAlloc), freed on Dispose or by its finalizer. The GPU copies from it by DMA while
/// the host goes on: <see cref="CudaStream.QueueCopyToDevice"/> returns before the copy has run, unlike a copy from
/// pageable memory, which the driver first stages through its own buffer. The caller must leave the bytes alone until
/// an event recorded after the copy has completed, and must not free the block before then.
/// </summary>
public sealed unsafe class CudaPinnedHostMemory : IDisposable
{
    private readonly CudaPinnedHostMemoryHandle _handle;

    public CudaDevice Device { get; }

    public long Bytes { get; }

    private CudaPinnedHostMemory(CudaDevice device, CudaPinnedHostMemoryHandle handle, long bytes)
    {
        Device = device;
        _handle = handle;
        Bytes = bytes;
    }

    internal void* Address => (void*)_handle.Value;

    /// <summary>Allocates <paramref name="bytes"/> bytes of page-locked host memory; a failure names the size.</summary>
    public static CudaPinnedHostMemory Allocate(CudaDevice device, long bytes) =>
        TryAllocate(device, bytes) ?? throw Failure(CudaResult.OutOfMemory, bytes);

    /// <summary>
    /// Allocates, or returns null when the driver has no page-locked memory to give (out of memory), for callers that
    /// then stage through pageable memory; any other failure throws, naming the size.
    /// </summary>
    public static CudaPinnedHostMemory? TryAllocate(CudaDevice device, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        device.MakeCurrent();
        var handle = new CudaPinnedHostMemoryHandle(device.Context);
        void* address;
        var result = Interop.CudaDriver.cuMemHostAlloc(&address, (nuint)bytes, 0);
        if (result != CudaResult.Success)
        {
            handle.Dispose();
            return result == CudaResult.OutOfMemory ? null : throw Failure(result, bytes);
        }
        handle.Adopt((nint)address);
        return new CudaPinnedHostMemory(device, handle, bytes);
    }

    private static CudaException Failure(CudaResult result, long bytes) =>
        new(result, $"cuMemHostAlloc({bytes} bytes)", "page-locked host memory");

    /// <summary>The block, or its first <paramref name="count"/> elements, as a span of <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>(int count) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * sizeof(T) > Bytes)
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} elements of {sizeof(T)} bytes exceed the block's {Bytes} bytes");
        return new Span<T>(Address, count);
    }

    public void Dispose() => _handle.Dispose();
}
