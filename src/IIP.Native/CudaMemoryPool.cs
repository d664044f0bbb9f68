using System.Collections.Concurrent;
using System.Numerics;

namespace IIP.Native;

/// <summary>
/// A caching allocator for buffers whose lifetime the garbage collector decides (tensors the model code allocates
/// and drops). Sizes are rounded to classes (powers of two up to 1 MiB, then multiples of 2 MiB); a buffer that is
/// disposed, or collected (its finalizer only queues the block, never calls CUDA), returns its block to the pool
/// for the next request of the same class. Reuse is stream-ordered: a returned block may still be read by queued
/// work, so all work on pooled memory must go to one stream (the backend's). When cuMemAlloc fails the pool
/// collects garbage, frees its cached blocks and tries once more.
/// </summary>
public sealed class CudaMemoryPool : IDisposable
{
    private const long SmallLimit = 1L << 20, LargeStep = 2L << 20, MinimumBlock = 512;

    private readonly Dictionary<long, Stack<CudaDeviceMemory>> _free = [];
    // Every block the pool owns, rented or cached. Holding them here keeps each block's SafeHandle reachable
    // while a rented buffer is finalized, so the block cannot be freed behind the pool's back.
    private readonly HashSet<CudaDeviceMemory> _blocks = [];
    private readonly ConcurrentQueue<CudaDeviceMemory> _returned = new();
    private bool _disposed;

    public CudaDevice Device { get; }

    /// <summary>Bytes of all blocks the pool has allocated and not freed (cached ones included).</summary>
    public long BytesReserved { get; private set; }

    /// <summary>Bytes cached in free lists (returned blocks not yet drained are not counted).</summary>
    public long BytesCached { get; private set; }

    private static long s_returnedByFinalizer;

    /// <summary>
    /// Buffers of any pool in the process whose block came back through their finalizer instead of a
    /// <see cref="CudaPooledBuffer.Dispose"/>: memory the code let go of without saying when, held until a collection.
    /// The product path keeps this at zero (activation scopes, Dispose); `iip scan --stats` prints it and a test counts it
    /// over a scan on the kernel emulator.
    /// </summary>
    public static long ReturnedByFinalizer => Interlocked.Read(ref s_returnedByFinalizer);

    public CudaMemoryPool(CudaDevice device) => Device = device;

    /// <summary>The size class a request of <paramref name="bytes"/> bytes is served from.</summary>
    public static long SizeClass(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes <= MinimumBlock) return MinimumBlock;
        if (bytes <= SmallLimit) return (long)BitOperations.RoundUpToPowerOf2((ulong)bytes);
        return (bytes + LargeStep - 1) / LargeStep * LargeStep;
    }

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes; call from the thread that queues work on the pool's stream.</summary>
    public CudaPooledBuffer Rent(long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long size = SizeClass(bytes);
        DrainReturned();
        if (_free.TryGetValue(size, out var stack) && stack.Count > 0)
        {
            BytesCached -= size;
            return new CudaPooledBuffer(this, stack.Pop(), bytes);
        }
        var result = CudaDeviceMemory.TryAllocate(Device, size, out var memory);
        if (result == CudaResult.OutOfMemory)
        {
            // Buffers nobody references may still hold blocks: let their finalizers return them, then give the
            // cached blocks back to the driver so one large request can be served.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            DrainReturned();
            if (_free.TryGetValue(size, out stack) && stack.Count > 0)
            {
                BytesCached -= size;
                return new CudaPooledBuffer(this, stack.Pop(), bytes);
            }
            Trim();
            result = CudaDeviceMemory.TryAllocate(Device, size, out memory);
        }
        if (result != CudaResult.Success)
        {
            var (free, total) = Device.MemoryInfo();
            throw new CudaException(result, $"cuMemAlloc_v2({size} bytes)",
                $"{free / (1L << 20)} MiB free of {total / (1L << 20)} MiB; the pool holds {BytesReserved / (1L << 20)} MiB");
        }
        BytesReserved += size;
        _blocks.Add(memory!);
        return new CudaPooledBuffer(this, memory!, bytes);
    }

    /// <summary>Frees every cached block (the blocks in use stay).</summary>
    public void Trim()
    {
        DrainReturned();
        foreach (var stack in _free.Values)
            while (stack.Count > 0)
            {
                var block = stack.Pop();
                BytesReserved -= block.Bytes;
                _blocks.Remove(block);
                block.Dispose();
            }
        BytesCached = 0;
    }

    // Called by a buffer's Dispose or finalizer: no CUDA call, no lock beyond the concurrent queue.
    internal void Return(CudaDeviceMemory block, bool byFinalizer)
    {
        if (byFinalizer) Interlocked.Increment(ref s_returnedByFinalizer);
        _returned.Enqueue(block);
    }

    private void DrainReturned()
    {
        while (_returned.TryDequeue(out var block))
        {
            if (_disposed)
            {
                _blocks.Remove(block);
                block.Dispose();
                continue;
            }
            if (!_free.TryGetValue(block.Bytes, out var stack)) _free[block.Bytes] = stack = new Stack<CudaDeviceMemory>();
            stack.Push(block);
            BytesCached += block.Bytes;
        }
    }

    /// <summary>Frees the cached blocks; blocks still rented are freed when their buffers return them.</summary>
    public void Dispose()
    {
        Trim();
        _disposed = true;
    }
}

/// <summary>
/// A block rented from a <see cref="CudaMemoryPool"/>. Dispose returns it at once; otherwise the finalizer does.
/// </summary>
public sealed class CudaPooledBuffer : IDisposable
{
    private readonly CudaMemoryPool _pool;
    private CudaDeviceMemory? _block;

    /// <summary>The requested size (the block may be larger).</summary>
    public long Bytes { get; }

    public DevicePointer Pointer { get; }

    internal CudaPooledBuffer(CudaMemoryPool pool, CudaDeviceMemory block, long bytes)
    {
        _pool = pool;
        _block = block;
        Bytes = bytes;
        Pointer = block.Pointer;
    }

    public void Dispose()
    {
        var block = Interlocked.Exchange(ref _block, null);
        if (block is not null) _pool.Return(block, byFinalizer: false);
        GC.SuppressFinalize(this);
    }

    ~CudaPooledBuffer()
    {
        var block = Interlocked.Exchange(ref _block, null);
        if (block is not null) _pool.Return(block, byFinalizer: true);
    }
}
