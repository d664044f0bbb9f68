using System.Buffers.Binary;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>
/// A memory-mapped safetensors file: 8-byte little-endian header length N, N bytes of JSON header, then
/// the raw little-endian data section that the header's data_offsets index. The header is read and
/// validated with ordinary file reads before the file is mapped; tensors are converted to fp32 straight
/// from the mapped pages on <see cref="Load"/>.
/// </summary>
public sealed class SafetensorsFile : IWeightSource, IHalfWeightSource, IDisposable
{
    private readonly MappedFile _file;

    public string Origin { get; }

    public SafetensorsHeader Header { get; }

    public IReadOnlyCollection<string> Names => Header.Names;

    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>File offset of the data section (8 + header length).</summary>
    public long DataStart { get; }

    private SafetensorsFile(string origin, SafetensorsHeader header, long dataStart, MappedFile file)
    {
        Origin = origin;
        Header = header;
        DataStart = dataStart;
        _file = file;
    }

    /// <summary>Opens and validates <paramref name="path"/>. Throws <see cref="WeightException"/> naming the file.</summary>
    public static SafetensorsFile Open(string path)
    {
        string origin = Path.GetFullPath(path);
        if (!File.Exists(origin))
            throw new WeightException($"{origin}: safetensors file not found");

        SafetensorsHeader header;
        long fileLength, dataStart;
        using (var handle = File.OpenHandle(origin, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            fileLength = RandomAccess.GetLength(handle);
            if (fileLength < 8)
                throw new WeightException($"{origin}: truncated safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> lengthBytes = stackalloc byte[8];
            RandomAccess.Read(handle, lengthBytes, 0);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > (ulong)(fileLength - 8))
                throw new WeightException($"{origin}: truncated safetensors file or bad header: header length {headerLength} exceeds the {fileLength - 8} bytes after the length field");
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new WeightException($"{origin}: bad safetensors header: header length {headerLength} is above the {SafetensorsHeader.MaxHeaderBytes}-byte limit");
            var json = new byte[headerLength];
            int read = RandomAccess.Read(handle, json, 8);
            if (read != json.Length)
                throw new WeightException($"{origin}: truncated safetensors file: read {read} of {headerLength} header bytes");
            dataStart = 8 + (long)headerLength;
            header = SafetensorsHeader.Parse(origin, json, fileLength - dataStart);
        }

        return new SafetensorsFile(origin, header, dataStart, MappedFile.Open(origin, fileLength));
    }

    public WeightInfo Info(string name) => Entry(name).Info;

    public SafetensorsEntry Entry(string name)
    {
        if (!Header.Entries.TryGetValue(name, out var entry))
            throw new WeightException($"{Origin}: tensor '{name}' not found");
        return entry;
    }

    public Tensor Load(string name)
    {
        var entry = Entry(name);
        var tensor = new Tensor(entry.Info.Shape);
        LoadInto(entry, tensor.Span);
        return tensor;
    }

    /// <summary>Converts tensor <paramref name="name"/> to fp32 into <paramref name="destination"/> (exactly its element count).</summary>
    public void LoadInto(string name, Span<float> destination) => LoadInto(Entry(name), destination);

    private void LoadInto(SafetensorsEntry entry, Span<float> destination)
    {
        if (!WeightDTypes.IsFloat(entry.Info.DType))
            throw new WeightException($"{Origin}: tensor '{entry.Info.Name}' is {entry.Info.DType}, not a float tensor");
        long count = Tensor.ElementCount(entry.Info.Shape);
        if (destination.Length != count)
            throw new ArgumentException($"destination has {destination.Length} elements, tensor '{entry.Info.Name}' has {count}");
        WeightDTypes.ToSingle(entry.Info.DType, Raw(entry), destination);
    }

    public void LoadHalf(string name, Span<Half> destination)
    {
        var entry = Entry(name);
        if (!WeightDTypes.IsFloat(entry.Info.DType))
            throw new WeightException($"{Origin}: tensor '{name}' is {entry.Info.DType}, not a float tensor");
        long count = Tensor.ElementCount(entry.Info.Shape);
        if (destination.Length != count)
            throw new ArgumentException($"destination has {destination.Length} elements, tensor '{name}' has {count}");
        WeightDTypes.ToHalf(Origin, name, entry.Info.DType, Raw(entry), destination);
    }

    /// <summary>The stored little-endian bytes of <paramref name="name"/>; valid until the file is disposed.</summary>
    public ReadOnlySpan<byte> RawBytes(string name) => Raw(Entry(name));

    private ReadOnlySpan<byte> Raw(SafetensorsEntry entry) => _file.Span(DataStart + entry.Begin, entry.ByteLength, entry.Info.Name);

    public void Dispose() => _file.Dispose();
}
