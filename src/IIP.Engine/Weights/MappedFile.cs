using System.IO.MemoryMappedFiles;

namespace IIP.Engine.Weights;

/// <summary>A whole file mapped read-only into memory, handing out spans of its bytes until disposed.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;
    private bool _disposed;

    public string Origin { get; }

    public long Length { get; }

    private MappedFile(string origin, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view)
    {
        Origin = origin;
        Length = length;
        _map = map;
        _view = view;
        if (view is not null)
        {
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _base = pointer + view.PointerOffset;
        }
    }

    /// <summary>Maps <paramref name="origin"/>, whose length the caller has already checked to be <paramref name="length"/>.</summary>
    public static MappedFile Open(string origin, long length)
    {
        if (length == 0) return new MappedFile(origin, 0, null, null);
        var map = MemoryMappedFile.CreateFromFile(origin, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(origin, length, map, view);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Bytes [offset, offset + count) of the file; the caller has validated the range.</summary>
    public ReadOnlySpan<byte> Span(long offset, long count, string tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count > int.MaxValue)
            throw new WeightException($"{Origin}: tensor '{tensor}' has {count} bytes, above the 2 GiB per-tensor limit");
        if (offset < 0 || count < 0 || offset + count > Length)
            throw new WeightException($"{Origin}: tensor '{tensor}' bytes [{offset}, {offset + count}) lie outside the {Length}-byte file");
        return count == 0 ? [] : new ReadOnlySpan<byte>(_base + offset, (int)count);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
        _base = null;
    }
}
