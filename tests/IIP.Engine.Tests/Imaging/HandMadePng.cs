using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace IIP.Engine.Tests.Imaging;

/// <summary>
/// Builds PNG files byte by byte (PNG spec: signature, IHDR, optional PLTE, one zlib IDAT, IEND; every
/// scanline with filter type 0), for the layouts StbImageWriteSharp cannot write: palette and 16-bit.
/// Its CRC is a bitwise loop, independent of the runtime's table-driven one.
/// </summary>
internal static class HandMadePng
{
    public const byte Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6;

    /// <summary><paramref name="scanlines"/>: each row's samples packed big-endian, without the filter byte.</summary>
    public static byte[] Build(int width, int height, byte bitDepth, byte colorType, byte[][] scanlines, byte[]? palette = null)
    {
        var file = new MemoryStream();
        file.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colorType;                     // compression 0, filter 0, interlace 0
        WriteChunk(file, "IHDR", ihdr);
        if (palette is not null)
            WriteChunk(file, "PLTE", palette);
        var raw = new MemoryStream();
        foreach (byte[] row in scanlines)
        {
            raw.WriteByte(0);                    // filter type None
            raw.Write(row);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(raw.ToArray());
        WriteChunk(file, "IDAT", compressed.ToArray());
        WriteChunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void WriteChunk(Stream file, string type, byte[] data)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        file.Write(header);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typeAndData);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, BitwiseCrc32(typeAndData));
        file.Write(crc);
    }

    /// <summary>CRC-32, reflected polynomial 0xEDB88320, one bit at a time.</summary>
    public static uint BitwiseCrc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
