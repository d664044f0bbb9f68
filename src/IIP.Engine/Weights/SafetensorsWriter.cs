using System.Buffers.Binary;
using System.Text.Json;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>
/// One tensor to write: its name, shape, stored dtype, and a callback that fills its fp32 values
/// (row-major, exactly the element count) when the writer reaches it, so only one tensor is in memory.
/// </summary>
public sealed record SafetensorsTensor(string Name, int[] Shape, WeightDType DType, Action<Span<float>> Fill)
{
    public static SafetensorsTensor From(string name, Tensor tensor, WeightDType dtype) =>
        new(name, tensor.Shape, dtype, destination => tensor.Span.CopyTo(destination));
}

/// <summary>
/// Writes safetensors files: u64 LE header length, JSON header padded with spaces to a multiple of 8
/// bytes (so every tensor starts 8-byte aligned), then the tensors back to back in the given order.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (each filled in turn) with optional string metadata.</summary>
    public static void Write(string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var offsets = new long[tensors.Count + 1];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            if (tensors[i].Name == "__metadata__" || !seen.Add(tensors[i].Name))
                throw new ArgumentException($"tensor name '{tensors[i].Name}' is reserved or repeated");
            offsets[i + 1] = offsets[i] + Tensor.ElementCount(tensors[i].Shape) * WeightDTypes.Size(tensors[i].DType);
        }

        byte[] header = BuildHeader(tensors, offsets, metadata);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
        stream.Write(lengthBytes);
        stream.Write(header);

        float[] values = [];
        byte[] bytes = [];
        foreach (var tensor in tensors)
        {
            int count = checked((int)Tensor.ElementCount(tensor.Shape));
            int byteCount = checked(count * WeightDTypes.Size(tensor.DType));
            if (values.Length < count) values = new float[count];
            if (bytes.Length < byteCount) bytes = new byte[byteCount];
            var span = values.AsSpan(0, count);
            span.Clear();
            tensor.Fill(span);
            WeightDTypes.FromSingle(tensor.DType, span, bytes.AsSpan(0, byteCount));
            stream.Write(bytes, 0, byteCount);
        }
    }

    /// <summary>Writes host tensors, all stored as <paramref name="dtype"/>, in the dictionary's order.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, WeightDType dtype, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => SafetensorsTensor.From(t.Key, t.Value, dtype)).ToList(), metadata);

    private static byte[] BuildHeader(IReadOnlyList<SafetensorsTensor> tensors, long[] offsets, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            for (int i = 0; i < tensors.Count; i++)
            {
                json.WriteStartObject(tensors[i].Name);
                json.WriteString("dtype", WeightDTypes.SafetensorsName(tensors[i].DType));
                json.WriteStartArray("shape");
                foreach (int d in tensors[i].Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[i]);
                json.WriteNumberValue(offsets[i + 1]);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }
}
