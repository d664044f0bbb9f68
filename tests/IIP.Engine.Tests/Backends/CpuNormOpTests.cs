using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// GroupNorm and LayerNorm against <see cref="ReferenceOps"/> (double statistics).
/// Tolerance: the fp32 part is y = (x - mean) scale + beta with mean and scale rounded from double, one rounding
/// each plus the subtraction and the fused multiply-add: |error| &lt;= 8 u (|x scale| + |mean scale| + |beta| + |y|)
/// (the magnitude; the rounding of the mean costs u |mean scale|); SiLU adds a few ulp of |y| (exp polynomial, ~2 ulp).
/// Inputs carry a mean offset so that cancellation is exercised.
/// </summary>
public sealed class CpuNormOpTests
{
    private static Func<int, double> NormTolerance(double[] magnitude, double[] expected)
        => i => 8 * NumericAssert.U * (magnitude[i] + Math.Abs(expected[i])) + 1e-30;

    [Theory]
    [InlineData(1, 4, 2, 3, 5, false)]        // odd spatial size (vector tail)
    [InlineData(2, 6, 3, 4, 4, true)]         // batch 2, SiLU
    [InlineData(1, 64, 32, 16, 16, true)]     // UNet-like: 32 groups, threaded
    [InlineData(1, 8, 1, 9, 7, false)]        // one group = LayerNorm over C x H x W
    public void GroupNorm(int n, int c, int groups, int h, int w, bool silu)
    {
        var be = CpuBackend.Instance;
        var x = TestArrays.Tensor(51, 2f, 6f, n, c, h, w);
        var gamma = TestArrays.Tensor(52, 0.5f, 1.5f, c);
        var beta = TestArrays.Tensor(53, -1f, 1f, c);
        var y = be.GroupNorm(x, gamma, beta, groups, 1e-5f, silu);
        var (expected, magnitude) = ReferenceOps.GroupNorm(x, gamma, beta, groups, 1e-5, silu);
        NumericAssert.Close($"GroupNorm x[{x.ShapeText}] groups {groups} silu={silu}", y.Data, expected, NormTolerance(magnitude, expected));
    }

    [Fact]
    public void GroupNormOfAConstantGroupIsBeta()
    {
        // Zero variance and a mean exactly representable in fp32: x - mean = 0 exactly, so y = beta
        // (eps keeps the scale finite).
        var be = CpuBackend.Instance;
        var x = IIP.Engine.Tensors.Tensor.From(Enumerable.Repeat(3.25f, 2 * 4 * 3).ToArray(), 1, 2, 4, 3);
        var gamma = IIP.Engine.Tensors.Tensor.From([2f, 3f], 2);
        var beta = IIP.Engine.Tensors.Tensor.From([0.5f, -0.25f], 2);
        var y = be.GroupNorm(x, gamma, beta, 2, 1e-5f, false);
        var expected = Enumerable.Repeat(0.5f, 12).Concat(Enumerable.Repeat(-0.25f, 12)).ToArray();
        NumericAssert.Equal("GroupNorm of constant groups", y.Data, expected);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 13)]      // vector tail
    [InlineData(77, 768)]    // CLIP text encoder width
    [InlineData(300, 320)]   // UNet transformer at 320 channels, threaded
    public void LayerNorm(int rows, int c)
    {
        var be = CpuBackend.Instance;
        var x = TestArrays.Tensor(61, -3f, 5f, rows, c);
        var gamma = TestArrays.Tensor(62, 0.5f, 1.5f, c);
        var beta = TestArrays.Tensor(63, -1f, 1f, c);
        var y = be.LayerNorm(x, gamma, beta, 1e-5f);
        var (expected, magnitude) = ReferenceOps.LayerNorm(x, gamma, beta, 1e-5);
        NumericAssert.Close($"LayerNorm x[{rows},{c}]", y.Data, expected, NormTolerance(magnitude, expected));
    }
}
