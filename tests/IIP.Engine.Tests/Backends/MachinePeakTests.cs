using System.Runtime.Intrinsics.X86;
using IIP.Engine.Diagnostics;

namespace IIP.Engine.Tests.Backends;

public sealed class MachinePeakTests
{
    [Fact]
    public void DescribesCoresAndVectorSupport()
    {
        string text = MachinePeak.Describe();
        Assert.Contains($"{Environment.ProcessorCount} logical cores", text);
        Assert.Contains(Avx512F.IsSupported ? "AVX-512F" : Fma.IsSupported ? "FMA3" : "no AVX2/FMA", text);
        Assert.Contains("GEMM kernel", text);
    }

    [Fact]
    public void MeasuresAPlausiblePeak()
    {
        // Short rounds: the figure is noisy but must be a real rate: above 0.1 GFLOP/s and below
        // cores x 2 FMA ports x 16 lanes x 2 FLOP x 6 GHz.
        var peak = MachinePeak.MeasureForGemm(secondsPerRound: 0.01, rounds: 1);
        Assert.InRange(peak.GflopPerSecond, 0.1, Environment.ProcessorCount * 2 * 16 * 2 * 6.0);
        Assert.Equal(Environment.ProcessorCount, peak.Threads);
    }
}
