using StbImageSharp;
using StbImageWriteSharp;

namespace IIP.Engine.Imaging;

/// <summary>Reads images of any common format into <see cref="RgbImage"/> and writes PNGs.</summary>
/// <remarks>
/// Decoding is stb_image (StbImageSharp): PNG (any bit depth, gray, palette, alpha), JPEG (baseline and
/// progressive), BMP, GIF (first frame), TGA, PSD, HDR (StbImageSharp 2.30 does not read PNM: such files are reported as
/// unsupported). Every source is converted to 8-bit RGB:
/// gray is replicated, alpha is dropped (not composited), 16-bit samples keep their high byte
/// (stb's v >> 8, the same bytes PIL's "RGB;16B" raw mode keeps).
/// </remarks>
public static class ImageFile
{
    /// <summary>Largest accepted image, in pixels: PIL's decompression-bomb error limit (2 x 89,478,485).</summary>
    public const long MaxPixels = 178_956_970;

    /// <summary>Decodes the image at <paramref name="path"/> to 8-bit RGB.</summary>
    /// <exception cref="ImageLoadException">The file is missing, unreadable, empty, corrupt, truncated or in an unsupported format.</exception>
    public static RgbImage Load(string path)
    {
        byte[] bytes = ReadAll(path);
        if (bytes.Length == 0)
            throw new ImageLoadException(path, "the file is empty");
        return Decode(bytes, path);
    }

    /// <summary>Decodes image file contents; <paramref name="name"/> is used in error messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        if (bytes.Length == 0)
            throw new ImageLoadException(name, "the file is empty");
        string? unsupported = UnsupportedFormatName(bytes);
        if (unsupported is not null)
            throw new ImageLoadException(name, $"{unsupported} images are not supported (PNG, JPEG, BMP, GIF, TGA, PSD and HDR are)");
        if (PngStructure.HasSignature(bytes) && PngStructure.FindProblem(bytes) is { } pngProblem)
            throw new ImageLoadException(name, pngProblem);
        if (JpegStructure.HasSignature(bytes) && JpegStructure.FindProblem(bytes) is { } jpegProblem)
            throw new ImageLoadException(name, jpegProblem);

        ImageInfo? info;
        try
        {
            info = ImageInfo.FromStream(new MemoryStream(bytes, writable: false));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // stb's header probe reports failure by throwing; a malformed header is just "not recognized"
            info = null;
        }
        if (info is null)
            throw new ImageLoadException(name, SupportedFormatName(bytes) is { } format
                ? $"the {format} header is invalid or uses a variant the decoder does not read"
                : "not a recognized image format (PNG, JPEG, BMP, GIF, TGA, PSD and HDR are read)");
        long pixels = (long)info.Value.Width * info.Value.Height;
        if (info.Value.Width <= 0 || info.Value.Height <= 0 || pixels > MaxPixels)
            throw new ImageLoadException(name, $"image size {info.Value.Width}x{info.Value.Height} is outside 1 .. {MaxPixels} pixels");

        ImageResult result;
        try
        {
            result = ImageResult.FromMemory(bytes, StbImageSharp.ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        // the stb port throws a variety of exception types on malformed data; every one means a bad file
        {
            throw new ImageLoadException(name, $"the image data is corrupt or truncated{DecoderDetail(e.Message)}", e);
        }
        if (result?.Data is null || result.Width <= 0 || result.Height <= 0 || result.Data.Length != (long)result.Width * result.Height * 3)
            throw new ImageLoadException(name, "the decoder returned no usable RGB pixels");
        return new RgbImage(result.Width, result.Height, result.Data);
    }

    /// <summary>Writes <paramref name="image"/> as an 8-bit RGB PNG, replacing any file at <paramref name="path"/>.</summary>
    public static void SavePng(RgbImage image, string path)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var stream = File.Create(path);
        new ImageWriter().WritePng(image.Pixels, image.Width, image.Height, StbImageWriteSharp.ColorComponents.RedGreenBlue, stream);
    }

    private static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageLoadException(path, "the file does not exist", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new ImageLoadException(path, $"the file cannot be read ({e.Message})", e);
        }
    }

    /// <summary>Formats recognized by their magic bytes that stb_image does not decode.</summary>
    private static string? UnsupportedFormatName(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b.Slice(8, 4).SequenceEqual("WEBP"u8))
            return "WebP";
        if (b.Length >= 4 && (b[..4].SequenceEqual("II*\0"u8) || b[..4].SequenceEqual("MM\0*"u8)))
            return "TIFF";
        if (b.Length >= 12 && b.Slice(4, 4).SequenceEqual("ftyp"u8))
            return "HEIF/AVIF";
        if (b.Length >= 2 && b[0] == 0xFF && b[1] == 0x0A)
            return "JPEG XL";
        if (b.Length >= 2 && b[0] == (byte)'P' && b[1] is (byte)'5' or (byte)'6')
            return "PNM";   // StbImageSharp 2.30 answers "unknown image type" to a valid PPM/PGM
        return null;
    }

    /// <summary>Supported formats that have magic bytes (TGA has none).</summary>
    private static string? SupportedFormatName(ReadOnlySpan<byte> b)
    {
        if (PngStructure.HasSignature(b))
            return "PNG";
        if (b.Length >= 2 && b[0] == 0xFF && b[1] == 0xD8)
            return "JPEG";
        if (b.StartsWith("BM"u8))
            return "BMP";
        if (b.StartsWith("GIF8"u8))
            return "GIF";
        if (b.StartsWith("8BPS"u8))
            return "PSD";
        if (b.StartsWith("#?RADIANCE"u8) || b.StartsWith("#?RGBE"u8))
            return "HDR";
        return null;
    }

    /// <summary>stb's failure reason when it is readable text; after a truncation it is often a stale buffer.</summary>
    private static string DecoderDetail(string reason)
    {
        string trimmed = reason.Trim('\0', ' ', '\t', '\r', '\n');
        bool readable = trimmed.Length >= 6 && trimmed.All(c => c is >= ' ' and <= '~');
        return readable ? $" ({trimmed})" : "";
    }
}
