using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// Element-wise and layout ops of <see cref="CpuBackend"/> against plain double formulas. Sizes include a
/// vector tail (not a multiple of 8) and one above the 64 Ki-element threading chunk.
/// </summary>
public sealed class CpuElementwiseOpTests
{
    private static readonly CpuBackend Be = CpuBackend.Instance;
    private const double U = NumericAssert.U;

    public static TheoryData<int> Lengths() => new(1, 13, 1000, 150_001);

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Add(int length)
    {
        var a = TestArrays.Tensor(1, -2, 2, length);
        var b = TestArrays.Tensor(2, -2, 2, length);
        var expected = Map(length, i => (double)a.Data[i] + b.Data[i]);
        var y = Be.Add(a, b);
        // One rounding of the exact sum.
        NumericAssert.Close($"Add n={length}", y.Data, expected, i => U * Math.Abs(expected[i]));
        Be.Add(a, b, a);  // in place (y aliases a)
        NumericAssert.Close($"Add in place n={length}", a.Data, expected, i => U * Math.Abs(expected[i]));
    }

    [Fact]
    public void AddChannelBias()
    {
        var x = TestArrays.Tensor(3, -1, 1, 2, 3, 5, 7);
        var bias = TestArrays.Tensor(4, -1, 1, 2, 3);
        var expected = Map((int)x.Length, i => (double)x.Data[i] + bias.Data[i / 35]);
        var y = Be.AddChannelBias(x, bias);
        NumericAssert.Close("AddChannelBias x[2,3,5,7] bias[2,3]", y.Data, expected, i => U * Math.Abs(expected[i]));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Axpby(int length)
    {
        var x = TestArrays.Tensor(5, -2, 2, length);
        var z = TestArrays.Tensor(6, -2, 2, length);
        foreach (var (alpha, beta) in new[] { (0.75f, -1.25f), (2f, 0f), (-1f, 1f) })
        {
            var expected = Map(length, i => (double)alpha * x.Data[i] + (double)beta * z.Data[i]);
            // fma(alpha, x, round(beta z)): two roundings, bounded by u (|alpha x| + |beta z|) each.
            Func<int, double> tol = i => 2 * U * (Math.Abs(alpha * x.Data[i]) + Math.Abs(beta * z.Data[i]));
            var y = Be.Allocate(length);
            Be.Axpby(alpha, x, beta, z, y);
            NumericAssert.Close($"Axpby n={length} alpha={alpha} beta={beta}", y.Data, expected, tol);
            var inPlace = x.Clone();
            Be.Axpby(alpha, inPlace, beta, z, inPlace);  // y aliases x (a DDIM-style update)
            NumericAssert.Close($"Axpby in place n={length} alpha={alpha} beta={beta}", inPlace.Data, expected, tol);
        }
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SiluAndQuickGelu(int length)
    {
        var x = TestArrays.Tensor(7, -12, 12, length);
        var silu = Map(length, i => x.Data[i] * ReferenceOps.Sigmoid(x.Data[i]));
        var quick = Map(length, i => x.Data[i] * ReferenceOps.Sigmoid(1.702 * x.Data[i]));
        // TensorPrimitives.Sigmoid is within a few ulp; the products add one rounding each: 16 u relative.
        // QuickGelu also rounds z = 1.702 x (and 1.702 itself) in fp32: a relative input error of 2 u moves
        // sigmoid(z) by 2 u |z| (1 - sigmoid(z)) relative, which dominates in the negative tail.
        NumericAssert.Close($"Silu n={length}", Be.Silu(x).Data, silu, i => 16 * U * Math.Abs(silu[i]) + 1e-37);
        NumericAssert.Close($"QuickGelu n={length}", Be.QuickGelu(x).Data, quick, i =>
        {
            double z = 1.702 * x.Data[i];
            return (16 * U + 2 * U * Math.Abs(z) * (1 - ReferenceOps.Sigmoid(z))) * Math.Abs(quick[i]) + 1e-37;
        });
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Gelu(int length)
    {
        var x = TestArrays.Tensor(13, -8, 8, length);
        var input = (float[])x.Data.Clone();
        var expected = Map(length, i => ReferenceOps.Gelu(input[i]));
        // Same erf bounds as Geglu below: |error| <= 2e-7 |x| + 8 u |gelu(x)|.
        Func<int, double> tol = i => 2e-7 * Math.Abs(input[i]) + 8 * U * Math.Abs(expected[i]) + 1e-37;
        NumericAssert.Close($"Gelu n={length}", Be.Gelu(x).Data, expected, tol);
        Be.Gelu(x, x);  // in place
        NumericAssert.Close($"Gelu in place n={length}", x.Data, expected, tol);
    }

    [Theory]
    [InlineData(3, 5)]       // scalar tail only
    [InlineData(7, 1280)]    // UNet GEGLU at 320 channels (inner 1280), vector path
    [InlineData(2, 13)]
    public void Geglu(int rows, int d)
    {
        var x = TestArrays.Tensor(8, -6, 6, rows, 2 * d);
        x.Data[1] = 10f; x.Data[d] = -9.5f; x.Data[d + 1] = 9.5f; x.Data[d + 2] = 0f;  // saturated and zero gates
        var expected = new double[rows * d];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < d; i++)
                expected[r * d + i] = x.Data[r * 2 * d + i] * ReferenceOps.Gelu(x.Data[r * 2 * d + d + i]);
        var y = Be.Geglu(x);
        // erf approximations: Abramowitz-Stegun 7.1.26 (vector, 1.5e-7 absolute) and Numerical Recipes (tail,
        // 1.2e-7), plus fp32 evaluation: |gelu error| <= 2e-7 |g| + 8 u |gelu|, times |hidden|.
        NumericAssert.Close($"Geglu x[{rows},{2 * d}]", y.Data, expected, i =>
        {
            int r = i / d, j = i % d;
            double h = x.Data[r * 2 * d + j], g = x.Data[r * 2 * d + d + j];
            return Math.Abs(h) * (2e-7 * Math.Abs(g) + 8 * U * Math.Abs(ReferenceOps.Gelu(g))) + 1e-37;
        });
    }

    [Theory]
    [InlineData(3, 2, 4, 5)]      // small: on the calling thread
    [InlineData(320, 640, 16, 16)] // an up-block skip join: the parts copied on both cores
    public void ConcatChannels(int ca, int cb, int height, int width)
    {
        var a = TestArrays.Tensor(9, -1, 1, 2, ca, height, width);
        var b = TestArrays.Tensor(10, -1, 1, 2, cb, height, width);
        var y = Be.ConcatChannels(a, b);
        Assert.Equal(new[] { 2, ca + cb, height, width }, y.Shape);
        var expected = new float[y.Length];
        int sa = ca * height * width, sb = cb * height * width;
        for (int n = 0; n < 2; n++)
        {
            Array.Copy(a.Data, n * sa, expected, n * (sa + sb), sa);
            Array.Copy(b.Data, n * sb, expected, n * (sa + sb) + sa, sb);
        }
        NumericAssert.Equal($"ConcatChannels [2,{ca},{height},{width}] + [2,{cb},{height},{width}]", y.Data, expected);
    }

    [Fact]
    public void UpsampleNearest2x()
    {
        var x = TestArrays.Tensor(11, -1, 1, 2, 3, 5, 7);
        var y = Be.UpsampleNearest2x(x);
        Assert.Equal(new[] { 2, 3, 10, 14 }, y.Shape);
        var expected = new float[y.Length];
        for (int nc = 0; nc < 6; nc++)
            for (int i = 0; i < 10; i++)
                for (int j = 0; j < 14; j++)
                    expected[(nc * 10 + i) * 14 + j] = x.Data[(nc * 5 + i / 2) * 7 + j / 2];
        NumericAssert.Equal("UpsampleNearest2x [2,3,5,7]", y.Data, expected);
    }

    [Theory]
    [InlineData(33, 37, 1)]   // crosses the 32-wide tiles and the 8 x 8 register blocks in both directions
    [InlineData(320, 16, 16)] // SD-sized, threaded, whole blocks
    [InlineData(13, 6, 5)]    // fewer than 8 rows in a tile: element by element only
    public void ChannelsToTokensAndBack(int channels, int height, int width)
    {
        int tokensPerImage = height * width;
        var x = TestArrays.Tensor(12, -1, 1, 2, channels, height, width);
        var tokens = Be.ChannelsToTokens(x);
        Assert.Equal(new[] { 2, tokensPerImage, channels }, tokens.Shape);
        var expected = new float[x.Length];
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < channels; c++)
                for (int t = 0; t < tokensPerImage; t++)
                    expected[(n * tokensPerImage + t) * channels + c] = x.Data[(n * channels + c) * tokensPerImage + t];
        NumericAssert.Equal($"ChannelsToTokens [2,{channels},{height},{width}]", tokens.Data, expected);
        var back = Be.TokensToChannels(tokens, height, width);
        NumericAssert.Equal("TokensToChannels round trip", back.Data, x.Data);
    }

    private static double[] Map(int length, Func<int, double> f)
    {
        var r = new double[length];
        for (int i = 0; i < length; i++) r[i] = f(i);
        return r;
    }
}
