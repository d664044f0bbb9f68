using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Gradients;

/// <summary>
/// <see cref="GradientCheck"/> itself, and module-level chains of the backward ops as the UNet will use them.
/// </summary>
public class GradientCheckTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Fact]
    public void FlagsAGradientThatIsOnePercentOff()
    {
        var rng = new Random(1);
        var x = VjpHarness.Uniform(rng, 2f, 40);
        var r = VjpHarness.Uniform(rng, 1f, 40);
        var good = Cpu.SiluBackward(x, r);
        var bad = new Tensor(x.Shape, good.Data.Select((v, i) => i == 17 ? v * 1.01f + 0.01f : v).ToArray());
        var options = new GradientCheckOptions { Coordinates = 40, AbsoluteTolerance = 3e-4, RelativeTolerance = 1e-4 };
        Func<Tensor, double> loss = v => GradientCheck.Dot(r, Cpu.Silu(v));

        Assert.True(GradientCheck.Compare("silu", x, loss, good, options).Passed);
        var result = GradientCheck.Compare("silu with a wrong entry", x, loss, bad, options);
        Assert.False(result.Passed);
        Assert.Equal(17, result.Indices[result.WorstPosition]);
        Assert.Contains("silu with a wrong entry: 1 of 40", result.Report());
        Assert.Contains("worst at [17]", result.Report());
    }

    [Fact]
    public void SamplesDistinctCoordinatesWhenTheInputIsLarge()
    {
        var x = new Tensor([10, 100]);
        var result = GradientCheck.Compare("sum", x, v => v.Data.Sum(f => (double)f), new Tensor([10, 100], Enumerable.Repeat(1f, 1000).ToArray()),
            new GradientCheckOptions { Coordinates = 50 });
        Assert.Equal(50, result.Indices.Distinct().Count());
        result.AssertPassed();
    }

    [Fact]
    public void ResnetBlockChainMatchesFiniteDifferences()
    {
        // h = conv2(silu(gn2(conv1(silu(gn1(x))) + temb))) ; y = h + x  (ResnetBlock2D without the shortcut conv)
        // x [1, 8, 6, 6], 4 groups, 3x3 convs with padding 1, temb [1, 8] per channel.
        var rng = new Random(2);
        var x = VjpHarness.Uniform(rng, 1f, 1, 8, 6, 6);
        Tensor g1 = VjpHarness.Uniform(rng, 1f, 8), b1 = VjpHarness.Uniform(rng, 0.5f, 8);
        Tensor g2 = VjpHarness.Uniform(rng, 1f, 8), b2 = VjpHarness.Uniform(rng, 0.5f, 8);
        Tensor w1 = VjpHarness.Uniform(rng, 0.2f, 8, 8, 3, 3), w2 = VjpHarness.Uniform(rng, 0.2f, 8, 8, 3, 3);
        Tensor c1 = VjpHarness.Uniform(rng, 0.1f, 8), c2 = VjpHarness.Uniform(rng, 0.1f, 8);
        var temb = VjpHarness.Uniform(rng, 1f, 1, 8);
        var pad = Padding2d.Same(1);
        var r = VjpHarness.Uniform(rng, 1f, x.Shape);

        Tensor Forward(Tensor v)
        {
            var a1 = Cpu.GroupNorm(v, g1, b1, 4, 1e-5f, true);
            var h1 = Cpu.AddChannelBias(Cpu.Conv2d(a1, w1, c1, 1, pad), temb);
            var a2 = Cpu.GroupNorm(h1, g2, b2, 4, 1e-5f, true);
            return Cpu.Add(Cpu.Conv2d(a2, w2, c2, 1, pad), v);
        }

        // backward, recomputing the activations the chain needs
        var a1f = Cpu.GroupNorm(x, g1, b1, 4, 1e-5f, true);
        var h1f = Cpu.AddChannelBias(Cpu.Conv2d(a1f, w1, c1, 1, pad), temb);
        var da2 = Cpu.Conv2dBackwardInput(r, w2, 1, pad, 6, 6);
        var dh1 = Cpu.GroupNormBackward(h1f, g2, b2, 4, 1e-5f, true, da2);   // AddChannelBias: gradient passes through
        var da1 = Cpu.Conv2dBackwardInput(dh1, w1, 1, pad, 6, 6);
        var dx = Cpu.GroupNormBackward(x, g1, b1, 4, 1e-5f, true, da1);
        Cpu.Add(dx, r, dx);                                                  // the residual branch

        // fp32 forward with step 1e-2 (see VjpTolerances.Fp32Absolute); measured max error 9.5e-5, max |n| 1.6.
        GradientCheck.Compare("ResnetBlock2D chain", x, v => GradientCheck.Dot(r, Forward(v)), dx,
            new GradientCheckOptions { Coordinates = 100, AbsoluteTolerance = 3e-4, RelativeTolerance = 1e-4 }).AssertPassed();
    }

    [Fact]
    public void CrossAttentionGradientWithRespectToContextMatchesFiniteDifferences()
    {
        // The IIP path: y = to_out(Attention(to_q(h), to_k(ctx), to_v(ctx))); d ctx = dk W_k + dv W_v.
        // h [1, 9, 8] image tokens, ctx [1, 4, 6] text tokens, 2 heads of 4 channels.
        var rng = new Random(3);
        var h = VjpHarness.Uniform(rng, 1f, 1, 9, 8);
        var ctx = VjpHarness.Uniform(rng, 1f, 1, 4, 6);
        Tensor wq = VjpHarness.Uniform(rng, 0.5f, 8, 8), wk = VjpHarness.Uniform(rng, 0.5f, 8, 6);
        Tensor wv = VjpHarness.Uniform(rng, 0.5f, 8, 6), wo = VjpHarness.Uniform(rng, 0.5f, 8, 8), bo = VjpHarness.Uniform(rng, 0.5f, 8);
        var r = VjpHarness.Uniform(rng, 1f, 1, 9, 8);
        var q = Cpu.Linear(h, wq, null);

        Tensor Forward(Tensor c) => Cpu.Linear(Cpu.Attention(q, Cpu.Linear(c, wk, null), Cpu.Linear(c, wv, null), 2, false), wo, bo);

        var dAttention = Cpu.LinearBackwardInput(r, wo);
        var (_, dk, dv) = Cpu.AttentionBackward(q, Cpu.Linear(ctx, wk, null), Cpu.Linear(ctx, wv, null), 2, false, dAttention);
        var dctx = Cpu.Add(Cpu.LinearBackwardInput(dk, wk), Cpu.LinearBackwardInput(dv, wv));

        // fp32 forward with step 1e-2; measured max error 1.5e-5, max |n| 0.39.
        GradientCheck.Compare("cross-attention d context", ctx, c => GradientCheck.Dot(r, Forward(c)), dctx,
            new GradientCheckOptions { Coordinates = 24, AbsoluteTolerance = 1e-4, RelativeTolerance = 1e-4 }).AssertPassed();
    }
}
