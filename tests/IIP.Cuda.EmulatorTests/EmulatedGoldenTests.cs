using IIP.Detection.Golden;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;
using IIP.TestSupport;
using IIP.Engine.Tests.Cuda;

namespace IIP.Cuda.EmulatorTests;

/// <summary>
/// The golden cases (data/golden/README.md) end to end on the CUDA backend with its kernels on the emulator, judged
/// by the fp16-storage bounds a GPU is judged by: the text encoder, three UNet forwards, the VAE both ways, a DDIM step
/// and the gradient of the loss through the UNet (every backward kernel). The long chains (20-step inversion and
/// regeneration, 50-step generation, 10 optimizer steps) take minutes at the emulator's speed and run on a GPU instead
/// (`iip-gpu-check --golden`).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class EmulatedGoldenTests
{
    private static readonly string[] Cases = ["tokenizer", "text_encoder.", "scheduler.", "unet.eps.", "vae.", "ddim.", "grad."];

    [Fact]
    public void TheGoldenCasesPassWithTheFp16StorageBounds()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdLdm, Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"));
        using var references = SafetensorsFile.Open(TestPaths.GoldenTensors);
        var model = new StableDiffusion(checkpoint, EmulatedBackend.Instance);
        var runner = new GoldenRunner(model, references, TestPaths.GoldenJson, Cases);
        Assert.Equal(GoldenPrecision.Fp16Storage, runner.Precision);

        var results = runner.Run().ToList();
        Assert.Equal(13, results.Count);  // tokenizer, hidden, 2 scheduler, 3 UNet, 3 VAE, DDIM step, loss, gradient
        Assert.All(results, r => Assert.True(r.Status == GoldenStatus.Pass, r.Format()));
    }

    [Fact]
    public void TheSd2GoldenCasesPassWithTheFp16StorageBounds()
    {
        // SD 2.x conventions on the device: per-level head counts (head size 16 here), linear projections, exact GELU in
        // the text encoder, v-prediction in the DDIM step; the same fp16 bounds as SD v1
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers);
        using var references = SafetensorsFile.Open(TestPaths.Golden2Tensors);
        var model = new StableDiffusion(checkpoint, EmulatedBackend.Instance);
        var runner = new GoldenRunner(model, references, TestPaths.Golden2Json, Cases);
        var results = runner.Run().ToList();
        Assert.Equal(13, results.Count);
        Assert.All(results, r => Assert.True(r.Status == GoldenStatus.Pass, r.Format()));
    }
}
