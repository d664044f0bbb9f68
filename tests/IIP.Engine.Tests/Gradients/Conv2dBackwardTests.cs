using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Gradients;

public class Conv2dBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Theory]
    // n, c, h, w, o, kh, kw, stride, top, left, bottom, right
    [InlineData(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1)]   // UNet 3x3 "same" conv
    [InlineData(1, 4, 8, 8, 3, 3, 3, 2, 1, 1, 1, 1)]   // UNet Downsample2D: stride 2, pad 1
    [InlineData(2, 3, 8, 8, 2, 3, 3, 2, 0, 0, 1, 1)]   // VAE encoder downsample: pad right and bottom only
    [InlineData(1, 2, 7, 9, 3, 3, 3, 2, 1, 0, 2, 1)]   // odd sizes, every side different
    [InlineData(1, 3, 8, 7, 2, 3, 3, 2, 0, 0, 0, 0)]   // stride 2 leaves the last row and column unread: zero gradient
    [InlineData(2, 5, 4, 3, 6, 1, 1, 1, 0, 0, 0, 0)]   // 1x1 pointwise (GEMM only)
    [InlineData(1, 2, 5, 6, 3, 2, 3, 1, 0, 2, 1, 0)]   // non-square kernel, asymmetric pad
    public void InputGradientMatchesFiniteDifferences(int n, int c, int h, int w, int o, int kh, int kw, int stride,
        int top, int left, int bottom, int right)
    {
        var pad = new Padding2d(top, left, bottom, right);
        var rng = new Random(h * 1000 + w * 100 + stride * 10 + top + 3 * right);
        var x = VjpHarness.Uniform(rng, 1f, n, c, h, w);       // [N, C, H, W]
        var wt = VjpHarness.Uniform(rng, 1f, o, c, kh, kw);    // [O, C, KH, KW]
        var bias = VjpHarness.Uniform(rng, 1f, o);             // [O]
        var y = Cpu.Conv2d(x, wt, bias, stride, pad);          // [N, O, Ho, Wo]
        var r = VjpHarness.Uniform(rng, 1f, y.Shape);
        var dx = Cpu.Conv2dBackwardInput(r, wt, stride, pad, h, w);
        var w64 = VjpHarness.ToDouble(wt); var b64 = VjpHarness.ToDouble(bias);
        int plane = y.Shape[2] * y.Shape[3];
        VjpHarness.Check($"Conv2d x[{n},{c},{h},{w}] w[{o},{c},{kh},{kw}] s={stride} pad={pad}", x, r, dx,
            v => Cpu.Conv2d(v, wt, bias, stride, pad),
            v => DoubleReference.Conv2d(v, w64, n, c, h, w, o, kh, kw, stride, top, left, bottom, right)
                .Select((yv, i) => yv + b64[i / plane % o]).ToArray());
    }

    [Fact]
    public void UnreadInputPixelsGetZeroGradient()
    {
        // x [1, 1, 6, 6], 3x3 stride 2 no padding: outputs read rows/cols 0..4, never 5.
        var rng = new Random(7);
        var wt = VjpHarness.Uniform(rng, 1f, 2, 1, 3, 3);
        var dy = VjpHarness.Uniform(rng, 1f, 1, 2, 2, 2);
        var dx = Cpu.Conv2dBackwardInput(dy, wt, 2, default, 6, 6);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(0f, dx.Data[5 * 6 + i]);
            Assert.Equal(0f, dx.Data[i * 6 + 5]);
        }
        Assert.NotEqual(0f, dx.Data[0]);
    }

    [Fact]
    public void RejectsOutputGradientOfWrongSize()
    {
        var ex = Assert.Throws<ArgumentException>(() => Cpu.Conv2dBackwardInput(
            new IIP.Engine.Tensors.Tensor([1, 2, 4, 4]), new IIP.Engine.Tensors.Tensor([2, 3, 3, 3]), 1, Padding2d.Same(1), new IIP.Engine.Tensors.Tensor([1, 3, 5, 5])));
        Assert.Contains(nameof(CpuBackend.Conv2dBackwardInput), ex.Message);
    }
}
