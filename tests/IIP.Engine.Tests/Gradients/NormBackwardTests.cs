using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Gradients;

public class NormBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Theory]
    // n, c, h, w, groups, silu, eps
    [InlineData(2, 6, 3, 4, 3, false, 1e-5f)]
    [InlineData(2, 6, 3, 4, 3, true, 1e-5f)]
    [InlineData(1, 8, 5, 5, 2, true, 1e-6f)]    // the VAE's eps
    [InlineData(3, 4, 2, 3, 4, true, 1e-5f)]    // one channel per group
    public void GroupNormInputGradientMatchesFiniteDifferences(int n, int c, int h, int w, int groups, bool silu, float eps)
    {
        var rng = new Random(n * 31 + c * 7 + groups + (silu ? 100 : 0));
        var x = VjpHarness.Uniform(rng, 2f, n, c, h, w);       // [N, C, H, W]
        var gamma = VjpHarness.Uniform(rng, 1.5f, c);         // [C]
        var beta = VjpHarness.Uniform(rng, 1f, c);            // [C]
        var r = VjpHarness.Uniform(rng, 1f, x.Shape);         // dy like x
        var dx = Cpu.GroupNormBackward(x, gamma, beta, groups, eps, silu, r);
        double[] g64 = VjpHarness.ToDouble(gamma), b64 = VjpHarness.ToDouble(beta);
        VjpHarness.Check($"GroupNorm x[{n},{c},{h},{w}] groups={groups} silu={silu} eps={eps}", x, r, dx,
            v => Cpu.GroupNorm(v, gamma, beta, groups, eps, silu),
            v => DoubleReference.GroupNorm(v, g64, b64, n, c, h * w, groups, eps, silu));
    }

    [Theory]
    [InlineData(3, 4, 10)]
    [InlineData(1, 2, 32)]
    public void LayerNormInputGradientMatchesFiniteDifferences(int b, int t, int c)
    {
        var rng = new Random(b * 100 + t * 10 + c);
        var x = VjpHarness.Uniform(rng, 2f, b, t, c);         // [B, T, C]
        var gamma = VjpHarness.Uniform(rng, 1.5f, c);
        var beta = VjpHarness.Uniform(rng, 1f, c);
        var r = VjpHarness.Uniform(rng, 1f, x.Shape);
        var dx = Cpu.LayerNormBackward(x, gamma, 1e-5f, r);
        double[] g64 = VjpHarness.ToDouble(gamma), b64 = VjpHarness.ToDouble(beta);
        VjpHarness.Check($"LayerNorm x[{b},{t},{c}]", x, r, dx,
            v => Cpu.LayerNorm(v, gamma, beta, 1e-5f),
            v => DoubleReference.LayerNorm(v, g64, b64, c, 1e-5));
    }

    [Fact]
    public void GroupNormGradientSumsToZeroOverEachGroupWithoutSilu()
    {
        // Without SiLU the output is invariant to adding a constant to a group, so dx sums to 0 per group.
        var rng = new Random(5);
        var x = VjpHarness.Uniform(rng, 3f, 2, 8, 4, 4);
        var gamma = VjpHarness.Uniform(rng, 1f, 8);
        var beta = VjpHarness.Uniform(rng, 1f, 8);
        var dx = Cpu.GroupNormBackward(x, gamma, beta, 4, 1e-5f, false, VjpHarness.Uniform(rng, 1f, x.Shape));
        for (int g = 0; g < 8; g++)
        {
            double sum = dx.Data.AsSpan(g * 32, 32).ToArray().Sum(v => (double)v);
            Assert.True(Math.Abs(sum) < 1e-5, $"group {g}: dx sums to {sum:g3}");  // 32 fp32 terms of O(1): ~1e-6
        }
    }
}
