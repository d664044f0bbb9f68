using System.Buffers.Binary;
using System.Text;

namespace IIP.Engine.Imaging;

/// <summary>
/// Checks a PNG's chunk sequence before decoding (PNG spec, ISO/IEC 15948 section 5): signature, then
/// chunks of [length u32 BE][type 4][data][CRC-32 of type+data], IHDR first, IEND last. The decoder
/// ignores CRCs and reads past the end as zeros, so a truncated or bit-flipped file could otherwise
/// decode to a silently wrong image.
/// </summary>
internal static class PngStructure
{
    public static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool HasSignature(ReadOnlySpan<byte> data) => data.StartsWith(Signature);

    /// <summary>Null when the chunk structure is sound, else what is wrong.</summary>
    public static string? FindProblem(ReadOnlySpan<byte> data)
    {
        int offset = Signature.Length;
        int index = 0;
        while (true)
        {
            if (data.Length - offset < 12)
                return $"PNG is truncated: it ends at byte {data.Length} inside chunk {index} without an IEND chunk";
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[offset..]);
            string type = Encoding.ASCII.GetString(data.Slice(offset + 4, 4));
            if (length > int.MaxValue || length > data.Length - offset - 12)
                return $"PNG is truncated: chunk {index} ({type}) at byte {offset} declares {length} data bytes, the file has {Math.Max(0, data.Length - offset - 12)} left";
            if (index == 0 && type != "IHDR")
                return $"PNG's first chunk is {type}, not IHDR";
            ReadOnlySpan<byte> typeAndData = data.Slice(offset + 4, 4 + (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(offset + 8 + (int)length)..]);
            uint computed = Crc32.Compute(typeAndData);
            if (stored != computed)
                return $"PNG is corrupt: chunk {index} ({type}) at byte {offset} has CRC {stored:x8}, its contents give {computed:x8}";
            offset += 12 + (int)length;
            index++;
            if (type == "IEND")
                return null;
        }
    }
}

/// <summary>CRC-32 (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320) as PNG uses it.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
