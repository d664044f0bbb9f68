using System.Buffers.Binary;
using System.Text;

namespace IIP.Engine.Tests.Weights;

/// <summary>Writes safetensors files byte by byte from a literal JSON header, to craft corrupt inputs.</summary>
internal static class RawSafetensors
{
    public static string Write(string dir, string fileName, string headerJson, byte[] data, ulong? declaredHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        string path = Path.Combine(dir, fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
