using IIP.Engine.Imaging;

namespace IIP.Engine.Tests.Imaging;

public sealed class ImageResampleTests
{
    private static RgbImage RandomImage(int w, int h, int seed)
    {
        var image = new RgbImage(w, h);
        new Random(seed).NextBytes(image.Pixels);
        return image;
    }

    /// <summary>
    /// Independent reference: PIL's antialiased bicubic written out directly in double precision. Every
    /// input pixel whose scaled distance from the output center is under 2 gets Keys' cubic weight (a = -0.5),
    /// weights normalized to sum 1, result rounded half up and clamped to a byte, horizontal pass first.
    /// </summary>
    private static RgbImage ReferenceBicubic(RgbImage src, int outW, int outH)
    {
        static double Keys(double x)
        {
            x = Math.Abs(x);
            return x < 1 ? 1.5 * x * x * x - 2.5 * x * x + 1
                 : x < 2 ? -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2
                 : 0;
        }

        static byte[] Pass(byte[] input, int inLen, int outLen, int lines, Func<int, int, int> index)
        {
            // index(line, position) -> byte offset of channel 0
            var output = new byte[lines * outLen * 3];
            double scale = (double)inLen / outLen, stretch = Math.Max(1, scale);
            for (int line = 0; line < lines; line++)
                for (int o = 0; o < outLen; o++)
                {
                    double center = (o + 0.5) * scale;
                    var weights = Enumerable.Range(0, inLen).Select(i => Keys((i + 0.5 - center) / stretch)).ToArray();
                    double total = weights.Sum();
                    for (int c = 0; c < 3; c++)
                    {
                        double v = 0;
                        for (int i = 0; i < inLen; i++)
                            v += weights[i] / total * input[index(line, i) + c];
                        output[(line * outLen + o) * 3 + c] = (byte)Math.Clamp(Math.Floor(v + 0.5), 0, 255);
                    }
                }
            return output;
        }

        byte[] pixels = src.Pixels;
        int w = src.Width, h = src.Height;
        if (outW != w)
        {
            int width = w;
            pixels = Pass(pixels, w, outW, h, (y, x) => (y * width + x) * 3);   // rows: [h, outW, 3]
            w = outW;
        }
        if (outH != h)
        {
            int width = w;
            byte[] columns = Pass(pixels, h, outH, w, (x, y) => (y * width + x) * 3); // [w, outH, 3]
            pixels = new byte[outH * w * 3];
            for (int x = 0; x < w; x++)
                for (int y = 0; y < outH; y++)
                    for (int c = 0; c < 3; c++)
                        pixels[(y * w + x) * 3 + c] = columns[(x * outH + y) * 3 + c];
        }
        return new RgbImage(outW, outH, pixels);
    }

    [Theory]
    [InlineData(7, 5, 3, 2)]      // shrink both axes, non-integer factors
    [InlineData(7, 5, 11, 9)]     // enlarge both
    [InlineData(13, 4, 5, 9)]     // shrink x, enlarge y
    [InlineData(64, 48, 16, 12)]  // exact factor 4 shrink
    [InlineData(9, 9, 9, 20)]     // vertical only
    [InlineData(30, 1, 7, 1)]     // one row
    [InlineData(100, 75, 37, 29)]
    public void MatchesIndependentDoubleReference(int inW, int inH, int outW, int outH)
    {
        RgbImage src = RandomImage(inW, inH, seed: inW * 1000 + inH);
        RgbImage actual = ImageResample.Bicubic(src, outW, outH);
        RgbImage expected = ReferenceBicubic(src, outW, outH);
        Assert.Equal((outW, outH), (actual.Width, actual.Height));

        // Tolerance 1 level: PIL stores weights in 22-bit fixed point, the reference keeps doubles, so a
        // value within ~1e-4 of a .5 boundary may round the other way (and carry into the second pass).
        // Such ties are rare; more than 2% of bytes differing would mean a different formula.
        var diffs = Enumerable.Range(0, expected.Pixels.Length)
            .Where(i => expected.Pixels[i] != actual.Pixels[i]).ToArray();
        int maxError = diffs.Length == 0 ? 0 : diffs.Max(i => Math.Abs(expected.Pixels[i] - actual.Pixels[i]));
        string detail = $"{inW}x{inH} -> {outW}x{outH}: {diffs.Length} of {expected.Pixels.Length} bytes differ, max error {maxError}; " +
            string.Join(", ", diffs.Take(4).Select(i => $"byte {i} (x {i / 3 % outW}, y {i / 3 / outW}) expected {expected.Pixels[i]} got {actual.Pixels[i]}"));
        Assert.True(maxError <= 1 && diffs.Length <= expected.Pixels.Length / 50, detail);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(128)]
    [InlineData(254)]
    [InlineData(255)]
    public void ConstantImageStaysConstant(byte value)
    {
        var src = new RgbImage(37, 23);
        Array.Fill(src.Pixels, value);
        foreach (var (w, h) in new[] { (5, 3), (100, 71), (37, 60), (12, 23), (1, 1) })
        {
            RgbImage resized = ImageResample.Bicubic(src, w, h);
            int bad = Array.FindIndex(resized.Pixels, b => b != value);
            Assert.True(bad < 0, $"constant {value} resized to {w}x{h}: byte {bad} is {(bad >= 0 ? resized.Pixels[bad] : 0)}");
        }
    }

    [Fact]
    public void SameSizeIsAnExactCopy()
    {
        RgbImage src = RandomImage(19, 11, 5);
        RgbImage copy = ImageResample.Bicubic(src, 19, 11);
        Assert.NotSame(src.Pixels, copy.Pixels);
        Assert.Equal(src.Pixels, copy.Pixels);
    }

    [Theory]
    [InlineData(7, 3)]
    [InlineData(3, 7)]
    [InlineData(512, 64)]
    [InlineData(64, 512)]
    [InlineData(1000, 333)]
    public void FixedPointWeightsSumToOne(int inSize, int outSize)
    {
        var (first, count, weights) = ImageResample.Coefficients(inSize, outSize);
        for (int o = 0; o < outSize; o++)
        {
            Assert.True(first[o] >= 0 && first[o] + count[o] <= inSize, $"output {o}: taps [{first[o]}, {first[o] + count[o]}) outside [0, {inSize})");
            long sum = weights[o].Sum(w => (long)w);
            // each of the count weights is rounded to the nearest 2^-22, so the sum is within count/2 units of 2^22
            Assert.True(Math.Abs(sum - (1 << 22)) <= (count[o] + 1) / 2, $"{inSize} -> {outSize}, output {o}: weights sum {sum}, expected {1 << 22}");
        }
    }

    [Fact]
    public void CubicKernelHasKeysValues()
    {
        Assert.Equal(1.0, ImageResample.Cubic(0));
        Assert.Equal(0.0, ImageResample.Cubic(1));
        Assert.Equal(0.0, ImageResample.Cubic(-2));
        Assert.Equal(0.5625, ImageResample.Cubic(0.5));    // (1.5 * 0.125) - (2.5 * 0.25) + 1
        Assert.Equal(-0.0625, ImageResample.Cubic(-1.5));  // -0.5 * (3.375 - 5 * 2.25 + 8 * 1.5 - 4)
    }
}
