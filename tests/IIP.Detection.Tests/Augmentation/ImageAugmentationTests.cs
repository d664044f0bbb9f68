using IIP.Detection.Augmentation;
using IIP.Engine.Imaging;

namespace IIP.Detection.Tests.Augmentation;

/// <summary>Each augmentation of `iip augment` does what its name says, on small images whose answer is known.</summary>
public class ImageAugmentationTests
{
    // a 6x4 image with a different value in every pixel and channel
    private static RgbImage Gradient()
    {
        var image = new RgbImage(6, 4);
        for (int i = 0; i < image.Pixels.Length; i++) image.Pixels[i] = (byte)(i * 7 % 251);
        return image;
    }

    private static RgbImage Constant(byte value, int width = 8, int height = 8) =>
        new(width, height, Enumerable.Repeat(value, width * height * 3).ToArray());

    [Fact]
    public void FlipMirrorsEachRowAndTwiceIsTheIdentity()
    {
        var image = Gradient();
        var flipped = ImageAugmentation.Flip(image);
        for (int c = 0; c < 3; c++) Assert.Equal(image[0, 2, c], flipped[5, 2, c]);
        Assert.Equal(image.Pixels, ImageAugmentation.Flip(flipped).Pixels);
        Assert.NotEqual(image.Pixels, flipped.Pixels);
    }

    [Fact]
    public void RotationByZeroIsTheIdentityAndByNinetyTurnsTheImage()
    {
        var square = new RgbImage(5, 5, Enumerable.Range(0, 75).Select(i => (byte)(i * 3)).ToArray());
        Assert.Equal(square.Pixels, ImageAugmentation.Rotate(square, 0).Pixels);
        var turned = ImageAugmentation.Rotate(square, 90);
        // counter-clockwise on screen: the top row's right end goes to the top of the left column
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(square[4, 0, c], turned[0, 0, c]);
            Assert.Equal(square[2, 2, c], turned[2, 2, c]);   // the centre stays
        }
    }

    [Fact]
    public void JitterWithUnitFactorsIsTheIdentityAndBrightnessScales()
    {
        var image = Gradient();
        Assert.Equal(image.Pixels, ImageAugmentation.Jitter(image, 1, 1, 1).Pixels);
        var darker = ImageAugmentation.Jitter(Constant(100), 0.5, 1, 1);
        Assert.All(darker.Pixels, p => Assert.Equal(50, p));
        var grey = ImageAugmentation.Jitter(Gradient(), 1, 1, 0);   // saturation 0: every pixel grey (three equal channels)
        for (int p = 0; p < 24; p++) Assert.True(Math.Abs(grey.Pixels[3 * p] - grey.Pixels[3 * p + 2]) <= 1);
    }

    [Fact]
    public void BlurKeepsAConstantImageAndSpreadsAPoint()
    {
        Assert.All(ImageAugmentation.Blur(Constant(77), 1.5).Pixels, p => Assert.Equal(77, p));
        var point = Constant(0, 9, 9);
        for (int c = 0; c < 3; c++) point[4, 4, c] = 255;
        var blurred = ImageAugmentation.Blur(point, 1);
        Assert.InRange(blurred[4, 4, 0], 1, 100);   // the peak spreads: 255 x 0.399^2 ~ 41 at the centre
        Assert.True(blurred[5, 4, 0] > 0 && blurred[5, 4, 0] < blurred[4, 4, 0]);
        Assert.Equal(blurred[3, 4, 0], blurred[5, 4, 0]);   // symmetric
    }

    [Fact]
    public void JpegAtLowQualityLosesMoreThanAtHighQuality()
    {
        var image = new RgbImage(32, 32, Enumerable.Range(0, 32 * 32 * 3).Select(i => (byte)(i * 37 % 256)).ToArray());
        double Error(int quality)
        {
            var result = ImageAugmentation.Jpeg(image, quality);
            Assert.NotNull(result.Jpeg);
            Assert.True(JpegStructure.HasSignature(result.Jpeg));
            return image.Pixels.Zip(result.Image.Pixels, (a, b) => Math.Abs(a - b)).Average();
        }
        Assert.True(Error(10) > Error(95), "quality 10 should lose more than quality 95");
    }

    [Fact]
    public void NoiseHasTheRequestedSpreadAndNoneAtZero()
    {
        var image = Constant(128, 64, 64);
        Assert.Equal(image.Pixels, ImageAugmentation.Noise(image, 0, new Random(1)).Pixels);
        var noisy = ImageAugmentation.Noise(image, 0.05, new Random(1));
        var deviations = noisy.Pixels.Select(p => p - 128.0).ToArray();
        double mean = deviations.Average(), std = Math.Sqrt(deviations.Select(d => d * d).Average());
        Assert.InRange(mean, -0.5, 0.5);             // 12,288 draws: the mean's standard error is 0.12
        Assert.InRange(std, 0.05 * 255 * 0.97, 0.05 * 255 * 1.03);   // 12.75, within 3% (the spread's standard error ~0.6%)
    }

    [Fact]
    public void CropKeepsTheSizeAndTheSameSeedTheSameCrop()
    {
        var image = new RgbImage(16, 12, Enumerable.Range(0, 16 * 12 * 3).Select(i => (byte)(i % 256)).ToArray());
        var a = ImageAugmentation.Crop(image, 0.5, new Random(3));
        Assert.Equal((16, 12), (a.Width, a.Height));
        Assert.Equal(a.Pixels, ImageAugmentation.Crop(image, 0.5, new Random(3)).Pixels);
        Assert.Equal(image.Pixels, ImageAugmentation.Crop(image, 1, new Random(3)).Pixels);   // the whole image: nothing changes
    }

    [Fact]
    public void AStrengthOutOfRangeNamesItsOption()
    {
        Assert.Contains("--crop-scale", Assert.Throws<ArgumentException>(() => new AugmentationSettings { CropScale = 0 }.Validate()).Message);
        Assert.Contains("--jpeg-quality", Assert.Throws<ArgumentException>(() => new AugmentationSettings { JpegQuality = 0 }.Validate()).Message);
        Assert.Contains("unknown augmentation 'sharpen'", Assert.Throws<ArgumentException>(() => ImageAugmentation.Apply("sharpen", Constant(1), new(), new Random())).Message);
    }
}
