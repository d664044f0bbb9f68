namespace IIP.Native;

/// <summary>
/// A bump allocator over large device chunks for allocations that share one lifetime (a model's weights, one
/// captured graph's activations): <see cref="Allocate"/> hands out aligned slices, <see cref="Reset"/> takes them
/// all back at once and keeps the chunks, Dispose frees the chunks. Resetting while queued kernels still use
/// the memory is safe only for later work on the same stream (stream order); the arena does not track users.
/// The same sequence of allocations after a Reset gets the same addresses, which graph replay relies on.
/// </summary>
public sealed class CudaArena : IDisposable
{
    public const int Alignment = 256;

    private readonly List<CudaDeviceMemory> _chunks = [];
    private int _chunk;       // index of the chunk being filled
    private long _offset;     // bytes used in that chunk

    public CudaDevice Device { get; }

    /// <summary>Size of each new chunk (a larger request gets a chunk of its own size).</summary>
    public long ChunkBytes { get; }

    /// <summary>Bytes handed out since the last reset (alignment padding included).</summary>
    public long BytesInUse { get; private set; }

    public long BytesReserved => _chunks.Sum(c => c.Bytes);

    public CudaArena(CudaDevice device, long chunkBytes = 256L << 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, Alignment);
        Device = device;
        ChunkBytes = chunkBytes;
    }

    /// <summary>A <see cref="Alignment"/>-aligned slice of <paramref name="bytes"/> bytes, valid until Reset or Dispose.</summary>
    public DevicePointer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long size = Math.Max(Alignment, (bytes + Alignment - 1) / Alignment * Alignment);
        while (_chunk < _chunks.Count)
        {
            var chunk = _chunks[_chunk];
            if (_offset + size <= chunk.Bytes)
            {
                var pointer = chunk.Pointer + _offset;
                _offset += size;
                BytesInUse += size;
                return pointer;
            }
            // The rest of this chunk stays unused until Reset; later allocations go to later chunks, so the
            // address sequence after a Reset repeats exactly.
            BytesInUse += chunk.Bytes - _offset;
            _chunk++;
            _offset = 0;
        }
        _chunks.Add(CudaDeviceMemory.Allocate(Device, Math.Max(ChunkBytes, size)));
        return Allocate(bytes);
    }

    /// <summary>Takes back every allocation; the chunks are kept for reuse.</summary>
    public void Reset()
    {
        _chunk = 0;
        _offset = 0;
        BytesInUse = 0;
    }

    public void Dispose()
    {
        foreach (var chunk in _chunks) chunk.Dispose();
        _chunks.Clear();
        Reset();
    }
}
