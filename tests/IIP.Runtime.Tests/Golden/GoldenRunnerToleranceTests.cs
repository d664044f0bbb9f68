using IIP.Runtime.Backends.Cpu;
using IIP.Runtime.Golden;
using IIP.Runtime.Pipelines;
using IIP.Runtime.Weights;

namespace IIP.Runtime.Tests.Golden;

/// <summary>
/// GoldenRunner's tolerance scale (used by the GPU runner, whose fp16 storage needs looser bounds than the fp32 ones):
/// it multiplies the bound each case is judged by and leaves exact cases exact.
/// </summary>
public sealed class GoldenRunnerToleranceTests
{
    [Fact]
    public void TheScaleMultipliesEveryNonExactBound()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        using var references = SafetensorsFile.Open(TestPaths.GoldenTensors);
        var model = new StableDiffusion(checkpoint, CpuBackend.Instance);
        string[] only = ["unet.", "tokenizer"];
        var plain = new GoldenRunner(model, references, TestPaths.GoldenJson, only).Run().ToList();
        var strict = new GoldenRunner(model, references, TestPaths.GoldenJson, only, toleranceScale: 1e-3).Run().ToList();

        // fp32 UNet errors are about 2e-6 against a bound of 1e-4 max|ref| + 1e-5: they pass it and fail a thousandth of it
        Assert.All(plain, r => Assert.Equal(GoldenStatus.Pass, r.Status));
        foreach (var (p, s) in plain.Zip(strict).Where(x => x.First.Case.StartsWith("unet.", StringComparison.Ordinal)))
        {
            Assert.Equal(p.Tolerance!.Rel * 1e-3, s.Tolerance!.Rel, 15);
            Assert.Equal(p.Tolerance.Abs * 1e-3, s.Tolerance.Abs, 15);
            Assert.Equal(GoldenStatus.Fail, s.Status);
        }
        var tokenizer = strict.Single(r => r.Case == "tokenizer");
        Assert.Equal(GoldenMetric.Exact, tokenizer.Tolerance!.Metric);
        Assert.Equal(GoldenStatus.Pass, tokenizer.Status);
    }
}
