using IIP.Engine.Imaging;
using StbImageWriteSharp;

namespace IIP.Detection.Augmentation;

/// <summary>
/// The strengths of the augmentations a robustness study applies (`iip augment`). Defaults are the moderate settings of
/// torchvision-style robustness studies: a crop keeping 75% of the area, rotation up to 15 degrees, colour jitter of
/// +-30% in brightness, contrast and saturation, Gaussian blur of sigma 1.5 pixels, JPEG quality 75, Gaussian noise of
/// standard deviation 0.05 of the pixel range.
/// </summary>
public sealed record AugmentationSettings
{
    public double CropScale { get; init; } = 0.75;
    public double RotationDegrees { get; init; } = 15;
    public double Jitter { get; init; } = 0.3;
    public double BlurSigma { get; init; } = 1.5;
    public int JpegQuality { get; init; } = 75;
    public double NoiseStd { get; init; } = 0.05;

    /// <summary>Throws <see cref="ArgumentException"/> naming the option of a strength out of range.</summary>
    public void Validate()
    {
        if (!(CropScale > 0 && CropScale <= 1)) throw new ArgumentException($"--crop-scale {CropScale}: the kept area's fraction must be in (0, 1]");
        if (!(RotationDegrees >= 0 && RotationDegrees <= 180)) throw new ArgumentException($"--rotation {RotationDegrees}: must be in [0, 180] degrees");
        if (!(Jitter >= 0 && Jitter < 1)) throw new ArgumentException($"--jitter {Jitter}: must be in [0, 1)");
        if (!(BlurSigma > 0 && BlurSigma <= 50)) throw new ArgumentException($"--blur-sigma {BlurSigma}: must be in (0, 50] pixels");
        if (JpegQuality is < 1 or > 100) throw new ArgumentException($"--jpeg-quality {JpegQuality}: must be in [1, 100]");
        if (!(NoiseStd >= 0 && NoiseStd <= 1)) throw new ArgumentException($"--noise-std {NoiseStd}: must be in [0, 1] of the pixel range");
    }
}

/// <summary>One augmented image: its pixels and, for JPEG re-compression, the encoded file (the artefacts are in it).</summary>
public sealed record AugmentedImage(RgbImage Image, byte[]? Jpeg);

/// <summary>
/// The augmentations of a robustness study, each a function of the image, its strength and a random source (so a seed
/// reproduces them): <c>flip</c> (horizontal mirror), <c>crop</c> (a random crop of CropScale of the area, aspect kept,
/// resized back bicubically), <c>rotate</c> (uniform in +-RotationDegrees about the centre, bilinear, black outside),
/// <c>jitter</c> (brightness, contrast about the mean grey, saturation about the grey image, each by a factor uniform in
/// 1 +- Jitter, in that order), <c>blur</c> (separable Gaussian, radius ceil(3 sigma), edges clamped), <c>jpeg</c>
/// (re-encoded at JpegQuality), <c>noise</c> (N(0, NoiseStd x 255) added per channel, clamped).
/// </summary>
public static class ImageAugmentation
{
    public static readonly IReadOnlyList<string> Kinds = ["flip", "crop", "rotate", "jitter", "blur", "jpeg", "noise"];

    public static AugmentedImage Apply(string kind, RgbImage image, AugmentationSettings settings, Random random) => kind switch
    {
        "flip" => new(Flip(image), null),
        "crop" => new(Crop(image, settings.CropScale, random), null),
        "rotate" => new(Rotate(image, (random.NextDouble() * 2 - 1) * settings.RotationDegrees), null),
        "jitter" => new(Jitter(image, Factor(settings.Jitter, random), Factor(settings.Jitter, random), Factor(settings.Jitter, random)), null),
        "blur" => new(Blur(image, settings.BlurSigma), null),
        "jpeg" => Jpeg(image, settings.JpegQuality),
        "noise" => new(Noise(image, settings.NoiseStd, random), null),
        _ => throw new ArgumentException($"unknown augmentation '{kind}' (one of {string.Join(", ", Kinds)})"),
    };

    private static double Factor(double strength, Random random) => 1 + (random.NextDouble() * 2 - 1) * strength;

    public static RgbImage Flip(RgbImage image)
    {
        var result = new RgbImage(image.Width, image.Height);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                for (int c = 0; c < 3; c++)
                    result[x, y, c] = image[image.Width - 1 - x, y, c];
        return result;
    }

    public static RgbImage Crop(RgbImage image, double scale, Random random)
    {
        int width = Math.Max(1, (int)Math.Round(image.Width * Math.Sqrt(scale))), height = Math.Max(1, (int)Math.Round(image.Height * Math.Sqrt(scale)));
        int left = random.Next(image.Width - width + 1), top = random.Next(image.Height - height + 1);
        var cropped = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
            Array.Copy(image.Pixels, ((top + y) * image.Width + left) * 3, cropped.Pixels, y * width * 3, width * 3);
        return ImageResample.Bicubic(cropped, image.Width, image.Height);
    }

    /// <summary>Rotation by <paramref name="degrees"/> (counter-clockwise) about the image centre; bilinear; black where no source pixel is.</summary>
    public static RgbImage Rotate(RgbImage image, double degrees)
    {
        var result = new RgbImage(image.Width, image.Height);
        double angle = degrees * Math.PI / 180, cos = Math.Cos(angle), sin = Math.Sin(angle);
        double cx = (image.Width - 1) / 2.0, cy = (image.Height - 1) / 2.0;
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
            {
                // the source of output pixel (x, y): the inverse rotation (y grows downwards, so counter-clockwise on screen)
                double dx = x - cx, dy = y - cy;
                double sx = cos * dx - sin * dy + cx, sy = sin * dx + cos * dy + cy;
                int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                double fx = sx - x0, fy = sy - y0;
                for (int c = 0; c < 3; c++)
                {
                    double v = (1 - fx) * (1 - fy) * At(image, x0, y0, c) + fx * (1 - fy) * At(image, x0 + 1, y0, c)
                             + (1 - fx) * fy * At(image, x0, y0 + 1, c) + fx * fy * At(image, x0 + 1, y0 + 1, c);
                    result[x, y, c] = ToByte(v);
                }
            }
        return result;
    }

    private static double At(RgbImage image, int x, int y, int c) =>
        x < 0 || y < 0 || x >= image.Width || y >= image.Height ? 0 : image[x, y, c];

    /// <summary>Brightness (scale), contrast (about the mean grey, ITU-R 601 luma) and saturation (blend with the grey image), in that order.</summary>
    public static RgbImage Jitter(RgbImage image, double brightness, double contrast, double saturation)
    {
        int n = image.Width * image.Height;
        var v = new double[n * 3];
        for (int i = 0; i < v.Length; i++) v[i] = Math.Clamp(image.Pixels[i] * brightness, 0, 255);
        double mean = 0;
        for (int p = 0; p < n; p++) mean += Luma(v, p);
        mean /= n;
        for (int i = 0; i < v.Length; i++) v[i] = Math.Clamp(mean + (v[i] - mean) * contrast, 0, 255);
        var result = new RgbImage(image.Width, image.Height);
        for (int p = 0; p < n; p++)
        {
            double grey = Luma(v, p);
            for (int c = 0; c < 3; c++) result.Pixels[p * 3 + c] = ToByte(grey + (v[p * 3 + c] - grey) * saturation);
        }
        return result;
    }

    private static double Luma(double[] v, int p) => 0.299 * v[p * 3] + 0.587 * v[p * 3 + 1] + 0.114 * v[p * 3 + 2];

    /// <summary>Separable Gaussian blur, weights exp(-d^2 / 2 sigma^2) normalized over d in [-ceil(3 sigma), ceil(3 sigma)], edges clamped.</summary>
    public static RgbImage Blur(RgbImage image, double sigma)
    {
        int radius = (int)Math.Ceiling(3 * sigma);
        var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(d => Math.Exp(-d * d / (2 * sigma * sigma))).ToArray();
        double total = weights.Sum();
        for (int i = 0; i < weights.Length; i++) weights[i] /= total;
        int w = image.Width, h = image.Height;
        var horizontal = new double[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    double sum = 0;
                    for (int k = -radius; k <= radius; k++) sum += weights[k + radius] * image[Math.Clamp(x + k, 0, w - 1), y, c];
                    horizontal[(y * w + x) * 3 + c] = sum;
                }
        var result = new RgbImage(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    double sum = 0;
                    for (int k = -radius; k <= radius; k++) sum += weights[k + radius] * horizontal[(Math.Clamp(y + k, 0, h - 1) * w + x) * 3 + c];
                    result[x, y, c] = ToByte(sum);
                }
        return result;
    }

    /// <summary>The image re-encoded as JPEG at <paramref name="quality"/> (stb's encoder) and decoded again.</summary>
    public static AugmentedImage Jpeg(RgbImage image, int quality)
    {
        using var stream = new MemoryStream();
        new ImageWriter().WriteJpg(image.Pixels, image.Width, image.Height, ColorComponents.RedGreenBlue, stream, quality);
        byte[] bytes = stream.ToArray();
        return new AugmentedImage(ImageFile.Decode(bytes, "re-encoded JPEG"), bytes);
    }

    /// <summary>Gaussian noise of standard deviation <paramref name="std"/> x 255 per channel (Box-Muller), clamped to [0, 255].</summary>
    public static RgbImage Noise(RgbImage image, double std, Random random)
    {
        var result = new RgbImage(image.Width, image.Height);
        for (int i = 0; i < image.Pixels.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            result.Pixels[i] = ToByte(image.Pixels[i] + normal * std * 255);
        }
        return result;
    }

    private static byte ToByte(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);
}
