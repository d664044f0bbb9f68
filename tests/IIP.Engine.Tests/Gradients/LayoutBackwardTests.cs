using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Gradients;

public class LayoutBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Fact]
    public void UpsampleNearest2xGradientMatchesFiniteDifferences()
    {
        var rng = new Random(21);
        var x = VjpHarness.Uniform(rng, 1f, 2, 3, 4, 5);     // [N, C, H, W]
        var r = VjpHarness.Uniform(rng, 1f, 2, 3, 8, 10);    // dy [N, C, 2H, 2W]
        var dx = Cpu.UpsampleNearest2xBackward(r);
        VjpHarness.Check("UpsampleNearest2x x[2,3,4,5]", x, r, dx, v => Cpu.UpsampleNearest2x(v),
            v => DoubleReference.UpsampleNearest2x(v, 6, 4, 5));
    }

    [Fact]
    public void ConcatChannelsGradientSplitsIntoBothInputs()
    {
        var rng = new Random(22);
        var a = VjpHarness.Uniform(rng, 1f, 2, 3, 4, 5);     // [N, Ca, H, W]
        var b = VjpHarness.Uniform(rng, 1f, 2, 2, 4, 5);     // [N, Cb, H, W]
        var r = VjpHarness.Uniform(rng, 1f, 2, 5, 4, 5);     // dy [N, Ca + Cb, H, W]
        var (da, db) = Cpu.ConcatChannelsBackward(r, 3);
        double[] a64 = VjpHarness.ToDouble(a), b64 = VjpHarness.ToDouble(b);
        VjpHarness.Check("ConcatChannels da", a, r, da, v => Cpu.ConcatChannels(v, b), v => DoubleReference.ConcatChannels(v, b64, 2));
        VjpHarness.Check("ConcatChannels db", b, r, db, v => Cpu.ConcatChannels(a, v), v => DoubleReference.ConcatChannels(a64, v, 2));

        var onlyB = new Tensor(b.Shape);
        Cpu.ConcatChannelsBackward(r, null, onlyB);
        Assert.Equal(db.Data, onlyB.Data);
    }

    [Fact]
    public void ChannelsToTokensGradientIsTokensToChannels()
    {
        // The documented rule: no op of its own; the adjoint of a transpose is the inverse transpose.
        var rng = new Random(23);
        var x = VjpHarness.Uniform(rng, 1f, 2, 3, 4, 5);     // [N, C, H, W]
        var r = VjpHarness.Uniform(rng, 1f, 2, 20, 3);       // dy [N, HW, C]
        var dx = Cpu.TokensToChannels(r, 4, 5);
        VjpHarness.Check("ChannelsToTokens", x, r, dx, v => Cpu.ChannelsToTokens(v),
            v => Enumerable.Range(0, v.Length).Select(i =>
            {
                int n = i / 60, p = i / 3 % 20, c = i % 3;   // y[n, p, c] = x[n, c, p]
                return v[(n * 3 + c) * 20 + p];
            }).ToArray());
    }
}
