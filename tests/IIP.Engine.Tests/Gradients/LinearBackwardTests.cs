using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Gradients;

public class LinearBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Theory]
    [InlineData(5, 7, 6)]
    [InlineData(1, 3, 9)]
    [InlineData(12, 16, 4)]
    public void InputGradientMatchesFiniteDifferences(int m, int k, int n)
    {
        var rng = new Random(m * 100 + k * 10 + n);
        var x = VjpHarness.Uniform(rng, 1f, m, k);   // [M, K]
        var w = VjpHarness.Uniform(rng, 1f, n, k);   // [N, K]
        var b = VjpHarness.Uniform(rng, 1f, n);      // [N]
        var r = VjpHarness.Uniform(rng, 1f, m, n);   // dy [M, N]
        var dx = Cpu.LinearBackwardInput(r, w);      // [M, K]
        var w64 = VjpHarness.ToDouble(w); var b64 = VjpHarness.ToDouble(b);
        VjpHarness.Check($"Linear m={m} k={k} n={n}", x, r, dx,
            v => Cpu.Linear(v, w, b),
            v => DoubleReference.Linear(v, w64, m, k, n).Select((y, i) => y + b64[i % n]).ToArray());
    }

    [Fact]
    public void AllocatingFormKeepsLeadingAxes()
    {
        var rng = new Random(3);
        var dy = VjpHarness.Uniform(rng, 1f, 2, 3, 5);  // [B, T, N]
        var w = VjpHarness.Uniform(rng, 1f, 5, 4);      // [N, K]
        var dx = Cpu.LinearBackwardInput(dy, w);
        Assert.Equal([2, 3, 4], dx.Shape);
        // dx[1, 2, 3] = sum_n dy[1, 2, n] w[n, 3]
        double expected = Enumerable.Range(0, 5).Sum(j => (double)dy.Data[(1 * 3 + 2) * 5 + j] * w.Data[j * 4 + 3]);
        Assert.Equal(expected, dx.Data[(1 * 3 + 2) * 4 + 3], 5);  // fp32 sum of 5 O(1) products: ~1e-6
    }

    [Fact]
    public void RejectsMismatchedShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Cpu.LinearBackwardInput(new IIP.Engine.Tensors.Tensor([3, 5]), new IIP.Engine.Tensors.Tensor([4, 2]), new IIP.Engine.Tensors.Tensor([3, 2])));
        Assert.Contains(nameof(CpuBackend.LinearBackwardInput), ex.Message);
    }
}
