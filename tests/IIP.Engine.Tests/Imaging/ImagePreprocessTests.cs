using IIP.Engine.Imaging;

namespace IIP.Engine.Tests.Imaging;

public sealed class ImagePreprocessTests
{
    private static RgbImage Indexed(int w, int h)
    {
        // pixel (x, y) = (x, y, x + y): crops can be located from their first pixel
        var image = new RgbImage(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                image[x, y, 0] = (byte)x;
                image[x, y, 1] = (byte)y;
                image[x, y, 2] = (byte)(x + y);
            }
        return image;
    }

    [Theory]
    [InlineData(640, 480, 512, 682, 512)]   // int(512 * 640 / 480) = int(682.67)
    [InlineData(480, 640, 512, 512, 682)]
    [InlineData(64, 64, 512, 512, 512)]
    [InlineData(1000, 999, 512, 512, 512)]  // int(512.51) = 512
    [InlineData(3, 1000, 7, 7, 2333)]
    public void ShortSideSizeTruncatesTheLongSide(int w, int h, int size, int expectedW, int expectedH)
    {
        Assert.Equal((expectedW, expectedH), ImagePreprocess.ShortSideSize(w, h, size));
    }

    [Theory]
    [InlineData(10, 4, 4, 3, 0)]   // (10 - 4) / 2 = 3
    [InlineData(5, 4, 4, 0, 0)]    // round(0.5) = 0 (half to even)
    [InlineData(7, 4, 4, 2, 0)]    // round(1.5) = 2
    [InlineData(9, 4, 4, 2, 0)]    // round(2.5) = 2
    [InlineData(4, 9, 4, 0, 2)]
    public void CenterCropUsesPythonRounding(int w, int h, int size, int left, int top)
    {
        RgbImage crop = ImagePreprocess.CenterCrop(Indexed(w, h), size, size);
        Assert.Equal((size, size), (crop.Width, crop.Height));
        Assert.Equal((left, top), (crop[0, 0, 0], crop[0, 0, 1]));
        Assert.Equal((left + size - 1, top + size - 1), (crop[size - 1, size - 1, 0], crop[size - 1, size - 1, 1]));
    }

    [Fact]
    public void CenterCropLargerThanImageIsRejected()
    {
        Assert.Throws<ArgumentException>(() => ImagePreprocess.CenterCrop(Indexed(4, 4), 5, 4));
    }

    [Fact]
    public void SquareImageAtTargetSizeIsUnchanged()
    {
        RgbImage src = Indexed(64, 64);
        Assert.Equal(src.Pixels, ImagePreprocess.ResizeShortSideCenterCrop(src, 64).Pixels);
    }

    [Fact]
    public void ResizeThenCropEqualsItsParts()
    {
        var src = new RgbImage(90, 60);
        new Random(11).NextBytes(src.Pixels);
        RgbImage actual = ImagePreprocess.ResizeShortSideCenterCrop(src, 32);
        // short side 60 -> 32, long side int(32 * 90 / 60) = 48; crop left round((48 - 32) / 2) = 8
        RgbImage resized = ImageResample.Bicubic(src, 48, 32);
        Assert.Equal((32, 32), (actual.Width, actual.Height));
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++)
                    Assert.True(resized[x + 8, y, c] == actual[x, y, c], $"pixel ({x}, {y}) channel {c}: {actual[x, y, c]} vs resized {resized[x + 8, y, c]}");
    }

    [Fact]
    public void ConstantImageStaysConstantThroughPreprocess()
    {
        var src = new RgbImage(123, 77);
        for (int i = 0; i < src.Pixels.Length; i += 3)
            (src.Pixels[i], src.Pixels[i + 1], src.Pixels[i + 2]) = ((byte)17, (byte)130, (byte)250);
        RgbImage out512 = ImagePreprocess.ResizeShortSideCenterCrop(src, 512);
        for (int i = 0; i < out512.Pixels.Length; i += 3)
            Assert.True(out512.Pixels[i] == 17 && out512.Pixels[i + 1] == 130 && out512.Pixels[i + 2] == 250, $"pixel {i / 3} changed");
    }
}
