using IIP.Runtime.Backends.Cuda;
using IIP.Runtime.Pipelines;
using IIP.Runtime.Tensors;
using IIP.Runtime.Weights;

namespace IIP.Runtime.Tests.Cuda;

/// <summary>
/// The sampling and inversion loops replay recorded UNet graphs on the CUDA backend (CudaUNetGraphs): the same kernels
/// in the same order as the eager forward, so the results must be identical bit for bit. Needs a GPU.
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class CudaUNetGraphsTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    // A random text context [1, 77, cross-attention width] on the GPU.
    private static Tensor Context(StableDiffusionCheckpoint checkpoint, int seed)
        => Gpu.FromHost(new GaussianNoise(seed).Sample(1, 77, checkpoint.Unet.CrossAttentionDim));

    [CudaFact]
    public void InversionThroughReplayedGraphsEqualsEagerForwards()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var model = new StableDiffusion(checkpoint, Gpu);
        var z0 = new GaussianNoise(3).Sample(model.NativeLatentShape);
        var context = Context(checkpoint, 4);

        var replayed = model.Invert(z0, 4, 50, context);   // the first step records, the next three replay
        var eager = z0.Clone();
        int ratio = model.Scheduler.StepRatio(50);
        int k = 1;
        foreach (int t in model.Scheduler.Timesteps(50).Reverse().Take(4))
        {
            var eps = Gpu.ToHost(model.Unet.Forward(Gpu.FromHost(eager), t, context));
            model.Scheduler.InvertStep(eager.Data, eps.Data, t, ratio, eager.Data);
            Assert.Equal(eager.Data, replayed[k++].Data);
        }
    }

    [CudaFact]
    public void EachCallReadsItsOwnContext()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var model = new StableDiffusion(checkpoint, Gpu);
        var z0 = new GaussianNoise(5).Sample(model.NativeLatentShape);
        var a = Context(checkpoint, 6);
        var b = Context(checkpoint, 7);

        var withA = model.Invert(z0, 1, 50, a)[1];
        var withB = model.Invert(z0, 1, 50, b)[1];   // the graph recorded with a replays with b copied in
        var eagerB = z0.Clone();
        int t = model.Scheduler.Timesteps(50)[^1];
        model.Scheduler.InvertStep(eagerB.Data, Gpu.ToHost(model.Unet.Forward(Gpu.FromHost(z0), t, b)).Data, t, model.Scheduler.StepRatio(50), eagerB.Data);
        Assert.NotEqual(withA.Data, withB.Data);
        Assert.Equal(eagerB.Data, withB.Data);
    }
}
