using System.Numerics;
using System.Numerics.Tensors;
using IIP.Native;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Page-locked staging for <see cref="CudaBackend.CopyFromHost"/>: an upload is converted to fp16 straight into a pinned
/// block and its copy is queued, to run by DMA in stream order while the host goes on queuing work (from pageable
/// memory the driver would first copy it through its own staging buffer, and the host would convert into a fresh
/// managed array each time). A block is used again only once the event recorded after its last copy has completed, as
/// in PyTorch's CachingHostAllocator, so a queued copy never reads bytes the host has overwritten. Blocks are powers of
/// two from 64 KiB; the pool grows to <c>capacityBytes</c> or <c>maximumBlocks</c> blocks, then waits for the
/// copies in flight and frees the blocks too small for the upload at hand. An upload under
/// <see cref="SmallestUploadBytes"/> or over the capacity is refused: the caller copies it from pageable memory, which
/// for a small upload costs the driver one memcpy into its own staging and no event to record and query. Not
/// thread-safe, like the backend that owns it.
/// </summary>
internal sealed class PinnedUploadStaging(
    CudaDevice device, CudaStream stream, long capacityBytes, int maximumBlocks = PinnedUploadStaging.MaximumBlocks) : IDisposable
{
    public const long MinimumBlockBytes = 64L << 10;

    /// <summary>Uploads below this many bytes (a timestep's features, a few scalars) go through pageable memory.</summary>
    public const long SmallestUploadBytes = 16L << 10;

    /// <summary>The most blocks the pool holds by default: past it, it waits for the copies in flight instead of growing.</summary>
    public const int MaximumBlocks = 64;

    private readonly List<Block> _blocks = [];

    /// <summary>Page-locked bytes held now (every block, free or in flight).</summary>
    public long PinnedBytes => _blocks.Sum(b => b.Memory.Bytes);

    public int BlockCount => _blocks.Count;

    /// <summary>
    /// Converts <paramref name="host"/> to fp16 (round to nearest even) into a free pinned block and queues its copy to
    /// <paramref name="destination"/>; returns at once. False, with nothing done, when the upload is under
    /// <see cref="SmallestUploadBytes"/> or over the capacity, or the driver has no page-locked memory to give.
    /// </summary>
    public bool TryUpload(ReadOnlySpan<float> host, DevicePointer destination)
    {
        long bytes = 2L * host.Length;
        if (bytes < SmallestUploadBytes || bytes > capacityBytes) return false;
        if (Acquire(bytes) is not { } block) return false;
        TensorPrimitives.ConvertToHalf(host, block.Memory.AsSpan<Half>(host.Length));
        stream.QueueCopyToDevice(block.Memory, bytes, destination);
        block.Copied.Record(stream);
        block.InFlight = true;
        return true;
    }

    // The smallest block of at least `bytes` whose last copy has completed; else a new one while the capacity and the
    // block count allow; else wait for every copy in flight and free the blocks smaller than `bytes` to make room. Null
    // when the driver refuses the page-locked memory.
    private Block? Acquire(long bytes)
    {
        if (SmallestFree(bytes) is { } free) return free;
        long size = Math.Max(bytes, Math.Min(capacityBytes, Math.Max(MinimumBlockBytes, (long)BitOperations.RoundUpToPowerOf2((ulong)bytes))));
        if (PinnedBytes + size > capacityBytes || _blocks.Count >= maximumBlocks)
        {
            foreach (var b in _blocks.Where(b => b.InFlight)) b.Copied.Synchronize();
            _blocks.ForEach(b => b.InFlight = false);
            if (SmallestFree(bytes) is { } waited) return waited;
            // no free block fits, and all are free now: every block is smaller than `bytes`, and freeing them empties the pool
            _blocks.ForEach(b => b.Dispose());
            _blocks.Clear();
        }
        if (CudaPinnedHostMemory.TryAllocate(device, size) is not { } memory) return null;
        var block = new Block(memory, new CudaEvent(device));
        _blocks.Add(block);
        return block;
    }

    private Block? SmallestFree(long bytes)
    {
        Block? best = null;
        foreach (var b in _blocks)
        {
            if (b.Memory.Bytes < bytes || (best is not null && b.Memory.Bytes >= best.Memory.Bytes)) continue;
            if (b.InFlight && !b.Copied.IsComplete) continue;
            best = b;
        }
        if (best is not null) best.InFlight = false;
        return best;
    }

    /// <summary>Waits for the copies in flight (their source must outlive them), then frees every block.</summary>
    public void Dispose()
    {
        foreach (var b in _blocks)
        {
            if (b.InFlight) b.Copied.Synchronize();
            b.Dispose();
        }
        _blocks.Clear();
    }

    private sealed class Block(CudaPinnedHostMemory memory, CudaEvent copied) : IDisposable
    {
        public CudaPinnedHostMemory Memory { get; } = memory;

        /// <summary>Recorded after the block's last queued copy.</summary>
        public CudaEvent Copied { get; } = copied;

        public bool InFlight { get; set; }

        public void Dispose()
        {
            Copied.Dispose();
            Memory.Dispose();
        }
    }
}
