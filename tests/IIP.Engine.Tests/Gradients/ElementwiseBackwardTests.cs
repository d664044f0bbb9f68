using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Gradients;

public class ElementwiseBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Theory]
    [InlineData(50, 4f)]
    [InlineData(40000, 6f)]   // more than one 16384-value parallel chunk; a subset of coordinates
    public void SiluInputGradientMatchesFiniteDifferences(int length, float scale)
    {
        var rng = new Random(length);
        var x = VjpHarness.Uniform(rng, scale, length);
        var r = VjpHarness.Uniform(rng, 1f, length);
        var dx = Cpu.SiluBackward(x, r);
        VjpHarness.Check($"Silu n={length}", x, r, dx, v => Cpu.Silu(v),
            v => v.Select(DoubleReference.Silu).ToArray(), new VjpTolerances { Coordinates = 200 });
    }

    [Theory]
    [InlineData(3, 2, 5)]
    [InlineData(1, 4, 16)]
    public void GegluInputGradientMatchesFiniteDifferences(int b, int t, int d)
    {
        var rng = new Random(b * 100 + t * 10 + d);
        var x = VjpHarness.Uniform(rng, 2.5f, b, t, 2 * d);   // [B, T, 2D] = [hidden | gate]
        var r = VjpHarness.Uniform(rng, 1f, b, t, d);         // dy [B, T, D]
        var dx = Cpu.GegluBackward(x, r);
        // The fp32 GELU uses an erf fit good to ~1.2e-7 absolute; forward agreement is within that.
        VjpHarness.Check($"Geglu x[{b},{t},{2 * d}]", x, r, dx, v => Cpu.Geglu(v), v => DoubleReference.Geglu(v, d));
    }
}
