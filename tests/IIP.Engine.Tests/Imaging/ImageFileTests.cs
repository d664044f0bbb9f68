using IIP.Engine.Imaging;
using StbImageWriteSharp;

namespace IIP.Engine.Tests.Imaging;

public sealed class ImageFileTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("imaging");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string WriteWithStb(string name, byte[] samples, int w, int h, ColorComponents components)
    {
        using var ms = new MemoryStream();
        new ImageWriter().WritePng(samples, w, h, components, ms);
        return WriteFile(name, ms.ToArray());
    }

    private static void AssertPixels(string what, byte[] expected, RgbImage actual)
    {
        int first = Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != actual.Pixels[i], -1);
        Assert.True(expected.Length == actual.Pixels.Length && first < 0,
            $"{what}: {actual.Pixels.Length} bytes vs {expected.Length} expected; first difference at byte {first}: " +
            $"expected [{string.Join(",", expected.Take(12))}] got [{string.Join(",", actual.Pixels.Take(12))}]");
    }

    [Fact]
    public void RgbPngRoundTripsThroughSavePng()
    {
        var image = new RgbImage(5, 3);
        for (int i = 0; i < image.Pixels.Length; i++)
            image.Pixels[i] = (byte)(i * 37 + 11);
        string path = Path.Combine(_dir, "rgb.png");
        ImageFile.SavePng(image, path);
        RgbImage loaded = ImageFile.Load(path);
        Assert.Equal((5, 3), (loaded.Width, loaded.Height));
        AssertPixels("rgb round trip", image.Pixels, loaded);
    }

    [Fact]
    public void GrayIsReplicatedToThreeChannels()
    {
        byte[] gray = [0, 50, 100, 150, 200, 255];
        RgbImage loaded = ImageFile.Load(WriteWithStb("gray.png", gray, 3, 2, ColorComponents.Grey));
        AssertPixels("gray", gray.SelectMany(g => new[] { g, g, g }).ToArray(), loaded);
    }

    [Fact]
    public void AlphaIsDropped()
    {
        byte[] rgba = [10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255];
        RgbImage loaded = ImageFile.Load(WriteWithStb("rgba.png", rgba, 3, 1, ColorComponents.RedGreenBlueAlpha));
        AssertPixels("rgba", [10, 20, 30, 40, 50, 60, 70, 80, 90], loaded);

        byte[] grayAlpha = [7, 0, 200, 255];
        loaded = ImageFile.Load(WriteWithStb("ga.png", grayAlpha, 2, 1, ColorComponents.GreyAlpha));
        AssertPixels("gray+alpha", [7, 7, 7, 200, 200, 200], loaded);
    }

    [Fact]
    public void PaletteIsExpanded()
    {
        byte[] palette = [10, 20, 30, 40, 50, 60, 70, 80, 90];
        byte[] png = HandMadePng.Build(4, 1, 8, HandMadePng.Palette, [[2, 0, 1, 2]], palette);
        RgbImage loaded = ImageFile.Load(WriteFile("palette.png", png));
        AssertPixels("palette", [70, 80, 90, 10, 20, 30, 40, 50, 60, 70, 80, 90], loaded);
    }

    [Fact]
    public void SixteenBitSamplesKeepTheirHighByte()
    {
        // RGB 16-bit, big-endian samples: (0x1234, 0xFF00, 0x00FF), (0xFFFF, 0x8080, 0x7F7F)
        byte[] png = HandMadePng.Build(2, 1, 16, HandMadePng.Rgb, [[0x12, 0x34, 0xFF, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x80, 0x80, 0x7F, 0x7F]]);
        RgbImage loaded = ImageFile.Load(WriteFile("rgb16.png", png));
        AssertPixels("16-bit rgb", [0x12, 0xFF, 0x00, 0xFF, 0x80, 0x7F], loaded);

        png = HandMadePng.Build(2, 1, 16, HandMadePng.Gray, [[0xAB, 0xCD, 0x01, 0xFF]]);
        loaded = ImageFile.Load(WriteFile("gray16.png", png));
        AssertPixels("16-bit gray", [0xAB, 0xAB, 0xAB, 0x01, 0x01, 0x01], loaded);
    }

    [Fact]
    public void JpegLoads()
    {
        var flat = Enumerable.Repeat(new byte[] { 200, 100, 50 }, 16 * 16).SelectMany(p => p).ToArray();
        using var ms = new MemoryStream();
        new ImageWriter().WriteJpg(flat, 16, 16, ColorComponents.RedGreenBlue, ms, 95);
        RgbImage loaded = ImageFile.Load(WriteFile("flat.jpg", ms.ToArray()));
        Assert.Equal((16, 16), (loaded.Width, loaded.Height));
        // JPEG is lossy (4:2:0 chroma, quantization): a flat colour comes back within a few levels.
        int maxError = loaded.Pixels.Select((b, i) => Math.Abs(b - flat[i])).Max();
        Assert.True(maxError <= 4, $"flat JPEG max error {maxError} > 4");
    }

    [Fact]
    public void TestbedImagesLoad()
    {
        string[] files = Directory.GetFiles(Path.Combine(TestPaths.Testbed, "memorized"), "*.png");
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            RgbImage image = ImageFile.Load(file);
            Assert.True(image.Width == 64 && image.Height == 64, $"{file}: {image.Width}x{image.Height}, expected 64x64");
            Assert.True(image.Pixels.Distinct().Count() > 1, $"{file}: all bytes equal");
        }
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        string path = Path.Combine(_dir, "absent.png");
        var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("does not exist", e.Message);
        e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(Path.Combine(_dir, "no-dir", "x.png")));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void DirectoryIsNotAnImage()
    {
        var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(_dir));
        Assert.Contains(_dir, e.Message);
        Assert.Contains("cannot be read", e.Message);
    }

    [Fact]
    public void EmptyFileIsNamed()
    {
        string path = WriteFile("empty.png", []);
        var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void RandomBytesAreRejected()
    {
        var random = new Random(20250101);
        for (int trial = 0; trial < 20; trial++)
        {
            var bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            string path = WriteFile($"random{trial}.png", bytes);
            var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(path));
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void TruncatedPngIsRejectedAtEveryCut()
    {
        var image = new RgbImage(32, 32);
        new Random(3).NextBytes(image.Pixels);
        string full = Path.Combine(_dir, "full.png");
        ImageFile.SavePng(image, full);
        byte[] bytes = File.ReadAllBytes(full);
        for (int cut = 1; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 97))
        {
            string path = WriteFile("cut.png", bytes[..cut]);
            var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(path));
            Assert.True(e.Message.Contains(path) && e.Message.Length > path.Length + 20, $"cut at {cut}: message \"{e.Message}\"");
        }
        string lastByte = WriteFile("cut.png", bytes[..^1]);
        Assert.Contains("truncated", Assert.Throws<ImageLoadException>(() => ImageFile.Load(lastByte)).Message);
    }

    [Fact]
    public void TruncatedJpegIsRejectedAtEveryCut()
    {
        // stb_image pads a cut-off JPEG with zeros and decodes it; the marker walk must refuse it instead.
        var image = new RgbImage(32, 32);
        new Random(4).NextBytes(image.Pixels);
        using var ms = new MemoryStream();
        new ImageWriter().WriteJpg(image.Pixels, 32, 32, ColorComponents.RedGreenBlue, ms, 90);
        byte[] bytes = ms.ToArray();
        Assert.Equal((32, 32), (ImageFile.Decode(bytes, "whole.jpg").Width, ImageFile.Decode(bytes, "whole.jpg").Height));
        for (int cut = 3; cut < bytes.Length; cut += 7)
        {
            var e = Assert.Throws<ImageLoadException>(() => ImageFile.Decode(bytes[..cut], $"cut{cut}.jpg"));
            Assert.True(e.Message.Contains("JPEG is truncated") || e.Message.Contains("JPEG is corrupt"), $"cut at {cut}: \"{e.Message}\"");
        }
    }

    [Fact]
    public void FlippedBitInPngIsCaughtByCrc()
    {
        byte[] png = HandMadePng.Build(2, 2, 8, HandMadePng.Rgb, [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
        png[^20] ^= 0x10; // inside the IDAT data
        string path = WriteFile("flipped.png", png);
        var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(path));
        Assert.Contains("CRC", e.Message);
    }

    [Fact]
    public void UnsupportedFormatsAreNamed()
    {
        byte[] webp = [.. "RIFF"u8, 0, 0, 0, 0, .. "WEBPVP8 "u8, 0, 0, 0, 0];
        var e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(WriteFile("x.webp", webp)));
        Assert.Contains("WebP", e.Message);
        byte[] tiff = [.. "II*\0"u8, 8, 0, 0, 0, 0, 0];
        e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(WriteFile("x.tif", tiff)));
        Assert.Contains("TIFF", e.Message);
        // a valid 1x1 binary PPM: stb_image as packaged does not read PNM, so it is named unsupported, not "corrupt"
        byte[] ppm = [.. "P6\n1 1\n255\n"u8, 10, 20, 30];
        e = Assert.Throws<ImageLoadException>(() => ImageFile.Load(WriteFile("x.ppm", ppm)));
        Assert.Contains("PNM images are not supported", e.Message);
    }

    [Fact]
    public void CrcMatchesTheStandardCheckValue()
    {
        // CRC-32 check value of "123456789" (ITU-T V.42 / zlib crc32).
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0xCBF43926u, HandMadePng.BitwiseCrc32("123456789"u8));
    }
}
