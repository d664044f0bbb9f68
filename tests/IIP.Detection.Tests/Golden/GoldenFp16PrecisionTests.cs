using IIP.Detection.Golden;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Diagnostics;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Detection.Tests.Golden;

/// <summary>
/// The fp16-storage golden bounds (GoldenFp16Tolerances, used for the CUDA backend) checked without a GPU: the golden
/// cases run on the CPU with every op output rounded to fp16 (Fp16StorageBackend) fail the fp32 bounds, as the GPU does,
/// and pass the fp16 ones with a margin.
/// </summary>
public sealed class GoldenFp16PrecisionTests
{
    private static List<GoldenResult> Run(GoldenPrecision precision, bool emulateFp16, params string[] only) =>
        Run("tiny-sd", precision, emulateFp16, only);

    // tiny-sd from its fp16 single file, tiny-sd2 (SD 2.x conventions, v-prediction) from its folder
    private static List<GoldenResult> Run(string model, GoldenPrecision precision, bool emulateFp16, params string[] only)
    {
        bool v1 = model == "tiny-sd";
        using var checkpoint = v1
            ? StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm, Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"))
            : StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers);
        using var references = SafetensorsFile.Open(v1 ? TestPaths.GoldenTensors : TestPaths.Golden2Tensors);
        var sd = new StableDiffusion(checkpoint, emulateFp16 ? new Fp16StorageBackend(CpuBackend.Instance) : CpuBackend.Instance);
        return new GoldenRunner(sd, references, v1 ? TestPaths.GoldenJson : TestPaths.Golden2Json, only, precision).Run().ToList();
    }

    [Theory]
    [InlineData("tiny-sd")]
    [InlineData("tiny-sd2")]
    public void FpSixteenStorageFailsTheFp32BoundsAndPassesItsOwn(string model)
    {
        // the emulation rounds the latent between a loop's steps as the on-device loop stores it (txt2img: 50 steps)
        string[] only = ["tokenizer", "scheduler.", "unet.eps.t981", "vae.", "txt2img.", "grad."];
        var fp32Bounds = Run(model, GoldenPrecision.Fp32, emulateFp16: true, only);
        var fp16Bounds = Run(model, GoldenPrecision.Fp16Storage, emulateFp16: true, only);

        // fp16 storage moves a UNet forward by ~1.8e-3 of its max: 18x the fp32 bound of 1e-4 max|ref| + 1e-5
        Assert.Equal(GoldenStatus.Fail, fp32Bounds.Single(r => r.Case == "unet.eps.t981").Status);
        Assert.All(fp16Bounds, r => Assert.True(r.Status == GoldenStatus.Pass, r.Format()));
        // with a margin: each error is at most ~3/4 of its bound (the bounds are ~2x the larger of GPU and emulation)
        foreach (var r in fp16Bounds.Where(r => r.Tolerance!.Metric is GoldenMetric.Relative or GoldenMetric.RelativeL2))
            Assert.True(r.Relative <= 0.75 * r.Tolerance!.Rel, r.Format());
        // host-side cases keep their exact or fp32 bounds
        Assert.Equal(GoldenMetric.Exact, fp16Bounds.Single(r => r.Case == "tokenizer").Tolerance!.Metric);
        Assert.Equal(GoldenTolerance.Scheduler, fp16Bounds.Single(r => r.Case == "scheduler.timesteps50").Tolerance);
    }

    [Fact]
    public void TheFp32EngineIsFarInsideTheFp16Bounds()
    {
        foreach (var r in Run(GoldenPrecision.Fp16Storage, emulateFp16: false, "unet.eps.t1", "vae.mean"))
        {
            Assert.Equal(GoldenStatus.Pass, r.Status);
            Assert.True(r.Relative < 1e-4, r.Format());
        }
    }

    [Fact]
    public void TheRunnerJudgesByItsBackendsStorageUnlessTold()
    {
        Assert.Equal(GoldenPrecision.Fp32, GoldenRunner.PrecisionOf(CpuBackend.Instance));
        Assert.Equal(GoldenPrecision.Fp16Storage, GoldenRunner.PrecisionOf(new Fp16StorageBackend(CpuBackend.Instance)));
        Assert.Equal((TestPaths.GoldenTensors, TestPaths.GoldenJson), GoldenRunner.FilesOf(TestPaths.GoldenJson));
        Assert.Equal((TestPaths.GoldenTensors, TestPaths.GoldenJson), GoldenRunner.FilesOf(TestPaths.GoldenTensors));
    }

    [Fact]
    public void ACaseWithoutAMeasuredFp16BoundIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => GoldenFp16Tolerances.For("new.case", GoldenTolerance.Loop));
        Assert.Contains("new.case", e.Message);
        Assert.Contains("cpu-fp16", e.Message);
    }
}
