using System.Buffers.Binary;

namespace IIP.Engine.Imaging;

/// <summary>
/// Walks a JPEG's marker segments (ITU-T T.81 annex B) to find truncation before decoding: the decoder
/// pads a cut-off file with zeros and returns a partly grey image without complaint. Segments are
/// FF xx [length u16 BE, counting itself]; SOI, EOI, RSTn and TEM have no length; after SOS the
/// entropy-coded data runs to the next marker that is not a stuffed FF 00 or an RSTn.
/// </summary>
internal static class JpegStructure
{
    private const byte StartOfImage = 0xD8, EndOfImage = 0xD9, StartOfScan = 0xDA, Temporary = 0x01;

    /// <summary>
    /// True when the data starts with an SOI marker, which the decoder (like libjpeg) also finds after fill bytes:
    /// FF FF .. FF D8. A file starting so must pass <see cref="FindProblem"/> too: the decoder skips a segment
    /// length past the end of the data and then loops forever looking for the next marker (a fuzzer found this
    /// with FF FF D8 FF E6 FF FF: tests/fuzz/regressions/image).
    /// </summary>
    public static bool HasSignature(ReadOnlySpan<byte> data) => AfterStartOfImage(data) > 0;

    /// <summary>The offset just past the SOI marker (and the fill bytes before it), or -1 when there is none.</summary>
    private static int AfterStartOfImage(ReadOnlySpan<byte> data)
    {
        int i = 0;
        while (i < data.Length && data[i] == 0xFF)
            i++;
        return i >= 1 && i < data.Length && data[i] == StartOfImage ? i + 1 : -1;
    }

    /// <summary>Null when the segments run from SOI to an EOI inside the file, else what is wrong.</summary>
    public static string? FindProblem(ReadOnlySpan<byte> data)
    {
        int offset = AfterStartOfImage(data);
        if (offset < 0)
            return "JPEG has no start-of-image marker";
        while (true)
        {
            if (offset >= data.Length)
                return $"JPEG is truncated: it ends at byte {data.Length} before the end-of-image marker";
            if (data[offset] != 0xFF)
                return $"JPEG is corrupt: expected a marker at byte {offset}, found 0x{data[offset]:x2}";
            while (offset < data.Length && data[offset] == 0xFF)
                offset++;                                     // fill bytes before the marker code
            if (offset >= data.Length)
                return $"JPEG is truncated: it ends at byte {data.Length} inside a marker";
            byte marker = data[offset++];
            if (marker == EndOfImage)
                return null;
            if (marker is StartOfImage or Temporary or >= 0xD0 and <= 0xD7)
                continue;
            if (data.Length - offset < 2)
                return $"JPEG is truncated: it ends at byte {data.Length} inside the length of marker 0x{marker:x2}";
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[offset..]);
            if (length < 2)
                return $"JPEG is corrupt: marker 0x{marker:x2} at byte {offset - 2} has length {length}";
            if (length > data.Length - offset)
                return $"JPEG is truncated: marker 0x{marker:x2} at byte {offset - 2} declares {length} bytes, the file has {data.Length - offset} left";
            offset += length;
            if (marker == StartOfScan)
                offset = SkipEntropyCodedData(data, offset);
        }
    }

    /// <summary>Index of the FF that starts the next real marker, or the file length.</summary>
    private static int SkipEntropyCodedData(ReadOnlySpan<byte> data, int offset)
    {
        for (int i = offset; i + 1 < data.Length; i++)
            if (data[i] == 0xFF && data[i + 1] != 0x00 && data[i + 1] != 0xFF && data[i + 1] is not (>= 0xD0 and <= 0xD7))
                return i;
        return data.Length;
    }
}
