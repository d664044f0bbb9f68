namespace IIP.Engine.Imaging;

/// <summary>
/// PIL's <c>Image.resize(size, Image.BICUBIC)</c> for 8-bit RGB, reproduced to the byte
/// (Pillow src/libImaging/Resample.c: precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc /
/// ImagingResampleVertical_8bpc). This is what torchvision's Resize does to a PIL image.
/// </summary>
/// <remarks>
/// Separable: a horizontal pass (rounded to bytes), then a vertical pass; a pass whose size does not change
/// is skipped. Per axis, with scale = inSize / outSize and filterScale = max(scale, 1) (antialiasing: the
/// kernel is stretched when shrinking), output pixel o has center = (o + 0.5) * scale and takes input
/// pixels i in [trunc(center - support + 0.5), trunc(center + support + 0.5)) clipped to the image, with
/// support = 2 * filterScale and weight K((i - center + 0.5) / filterScale), normalized to sum 1, where
/// K is Keys' cubic with a = -0.5. Weights are computed in double, then stored as 22-bit fixed point
/// (rounded half away from zero); each output is (2^21 + sum byte * weight) >> 22, clamped to [0, 255].
/// </remarks>
public static class ImageResample
{
    /// <summary>Fixed-point fraction bits of the weights (Pillow's PRECISION_BITS = 32 - 8 - 2).</summary>
    private const int PrecisionBits = 22;

    /// <summary>Bicubic resize to <paramref name="width"/> x <paramref name="height"/>; same size gives a copy.</summary>
    public static RgbImage Bicubic(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"resize target {width}x{height} must be positive");
        RgbImage current = image;
        if (width != image.Width)
            current = ResampleHorizontal(current, width);
        if (height != image.Height)
            current = ResampleVertical(current, height);
        return ReferenceEquals(current, image) ? image.Clone() : current;
    }

    /// <summary>Keys' cubic convolution kernel with a = -0.5 (Pillow's bicubic_filter), support 2.</summary>
    internal static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0)
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
        if (x < 2.0)
            return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
        return 0.0;
    }

    /// <summary>Per output pixel: first input index, tap count and fixed-point weights (Pillow's precompute_coeffs + normalize_coeffs_8bpc).</summary>
    internal static (int[] First, int[] Count, int[][] Weights) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 2.0 * filterScale;
        double inverseFilterScale = 1.0 / filterScale;                 // Pillow multiplies by ss = 1 / filterscale
        var first = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize][];
        var w = new double[(int)Math.Ceiling(support) * 2 + 1];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            int lo = Math.Max(0, (int)(center - support + 0.5));      // C's (int) truncates toward zero
            int hi = Math.Min(inSize, (int)(center + support + 0.5));
            int n = hi - lo;
            double sum = 0.0;
            for (int k = 0; k < n; k++)
            {
                w[k] = Cubic((k + lo - center + 0.5) * inverseFilterScale);
                sum += w[k];
            }
            var fixedPoint = new int[n];
            for (int k = 0; k < n; k++)
            {
                double normalized = sum != 0.0 ? w[k] / sum : w[k];
                double scaled = normalized * (1 << PrecisionBits);
                fixedPoint[k] = (int)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
            }
            first[o] = lo;
            count[o] = n;
            weights[o] = fixedPoint;
        }
        return (first, count, weights);
    }

    private static RgbImage ResampleHorizontal(RgbImage src, int outWidth)
    {
        var (first, count, weights) = Coefficients(src.Width, outWidth);
        var dst = new RgbImage(outWidth, src.Height);
        byte[] s = src.Pixels, d = dst.Pixels;                              // [H, W, 3]
        Parallel.For(0, src.Height, y =>
        {
            int srcRow = y * src.Width * 3, dstRow = y * outWidth * 3;
            for (int o = 0; o < outWidth; o++)
            {
                int[] k = weights[o];
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                int p = srcRow + first[o] * 3;
                for (int t = 0; t < count[o]; t++, p += 3)
                {
                    r += s[p] * k[t];
                    g += s[p + 1] * k[t];
                    b += s[p + 2] * k[t];
                }
                int q = dstRow + o * 3;
                d[q] = Clip8(r);
                d[q + 1] = Clip8(g);
                d[q + 2] = Clip8(b);
            }
        });
        return dst;
    }

    private static RgbImage ResampleVertical(RgbImage src, int outHeight)
    {
        var (first, count, weights) = Coefficients(src.Height, outHeight);
        var dst = new RgbImage(src.Width, outHeight);
        byte[] s = src.Pixels, d = dst.Pixels;                              // [H, W, 3]
        int stride = src.Width * 3;
        Parallel.For(0, outHeight, o =>
        {
            int[] k = weights[o];
            int dstRow = o * stride;
            for (int i = 0; i < stride; i++)
            {
                int acc = 1 << (PrecisionBits - 1);
                int p = first[o] * stride + i;
                for (int t = 0; t < count[o]; t++, p += stride)
                    acc += s[p] * k[t];
                d[dstRow + i] = Clip8(acc);
            }
        });
        return dst;
    }

    /// <summary>Pillow's clip8: the fixed-point sum shifted down (floor) and clamped to a byte.</summary>
    private static byte Clip8(int fixedPointSum) => (byte)Math.Clamp(fixedPointSum >> PrecisionBits, 0, 255);
}
