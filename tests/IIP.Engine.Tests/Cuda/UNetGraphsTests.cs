using IIP.Engine.Backends.Cuda;
using IIP.Engine.Pipelines;
using IIP.Engine.Sampling;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// The sampling and inversion loops replay recorded UNet graphs on the CUDA backend (UNetGraphs): the same kernels
/// in the same order as the eager forward, so a loop through graphs must equal the same loop through eager forwards bit
/// for bit. Needs a GPU.
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class UNetGraphsTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    // A random text context [1, 77, cross-attention width] on the GPU.
    private static Tensor Context(StableDiffusionCheckpoint checkpoint, int seed)
        => Gpu.FromHost(new GaussianNoise(seed).Sample(1, 77, checkpoint.Unet.CrossAttentionDim));

    // the model's loops with every UNet forward run eagerly, kernel by kernel
    private static DdimSampler Eager(StableDiffusion model) => new(new NoisePredictor(Gpu, model.Unet, recordGraphs: false), model.Scheduler);

    [CudaFact]
    public void InversionThroughReplayedGraphsEqualsEagerForwards()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var model = new StableDiffusion(checkpoint, Gpu);
        var z0 = new GaussianNoise(3).Sample(model.NativeLatentShape);
        var context = Context(checkpoint, 4);

        var replayed = new List<Tensor>();
        model.Sampler.Invert(z0, 4, 50, context, replayed);   // the first step records, the next three replay
        var eager = new List<Tensor>();
        Eager(model).Invert(z0, 4, 50, context, eager);
        Assert.Equal(5, replayed.Count);
        for (int k = 1; k < 5; k++) Assert.Equal(eager[k].Data, replayed[k].Data);
        Assert.NotEqual(replayed[1].Data, replayed[4].Data);  // the steps moved the latent
    }

    [CudaFact]
    public void GuidedSamplingThroughReplayedGraphsEqualsEagerForwards()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var model = new StableDiffusion(checkpoint, Gpu);
        var latents = new GaussianNoise(8).Sample([2, .. model.NativeLatentShape[1..]]);
        var (uncond, cond) = (Context(checkpoint, 9), Context(checkpoint, 10));
        var timesteps = model.Scheduler.Timesteps(50)[^3..];

        var replayed = model.Sampler.GuidedSample(latents, timesteps, model.Scheduler.StepRatio(50), uncond, cond, 7.5f);
        var eager = Eager(model).GuidedSample(latents, timesteps, model.Scheduler.StepRatio(50), uncond, cond, 7.5f);
        Assert.Equal(eager.Latents.Data, replayed.Latents.Data);
        for (int step = 0; step < 3; step++) Assert.Equal(eager.Tcnp[step], replayed.Tcnp[step]);
        Assert.NotEqual(replayed.Tcnp[0][0], replayed.Tcnp[0][1]);  // two latents, two TCNP values per step
    }

    [CudaFact]
    public void EachCallReadsItsOwnContext()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var model = new StableDiffusion(checkpoint, Gpu);
        var z0 = new GaussianNoise(5).Sample(model.NativeLatentShape);
        var a = Context(checkpoint, 6);
        var b = Context(checkpoint, 7);

        var withA = model.Sampler.Invert(z0, 1, 50, a);
        var withB = model.Sampler.Invert(z0, 1, 50, b);   // the graph recorded with a replays with b copied in
        var eagerB = Eager(model).Invert(z0, 1, 50, b);
        Assert.NotEqual(withA.Data, withB.Data);
        Assert.Equal(eagerB.Data, withB.Data);
    }
}
