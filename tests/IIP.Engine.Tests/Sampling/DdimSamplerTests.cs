using IIP.TestSupport.References;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Sampling;
using IIP.Engine.Tensors;
using IIP.Engine.Tests.Models;

namespace IIP.Engine.Tests.Sampling;

/// <summary>
/// The one DDIM module on the CPU backend against loops written out here from the scheduler's formulas (DdimScheduler:
/// Step, InvertStep; guidance eps_u + g (eps_c - eps_u); TCNP ||eps_c - eps_u||_2) with plain UNet calls: the same
/// arithmetic in the same order, so the results must be equal bit for bit. The small model has a non-square 8x12 latent.
/// </summary>
public class DdimSamplerTests
{
    private static readonly StableDiffusion Model = new(SmallSdLoaded.Checkpoint, CpuBackend.Instance);

    private static Tensor Eps(Tensor x, int t, Tensor context) => SmallSdLoaded.Unet.Forward(x, t, context);   // [N, C, h, w]

    [Fact]
    public void GuidedSamplingOfTwoLatentsIsTheWrittenOutLoopForEach()
    {
        var latents = SmallSdLoaded.Latent(seed: 11, n: 2);                       // [2, 4, 8, 12]
        var (uncond, cond) = (SmallSdLoaded.Context(12), SmallSdLoaded.Context(13));
        var timesteps = Model.Scheduler.Timesteps(50)[^3..];                     // 41, 21, 1
        int ratio = Model.Scheduler.StepRatio(50);

        var sampled = Model.Sampler.GuidedSample(latents, timesteps, ratio, uncond, cond, 7.5f);

        Assert.Equal(3, sampled.Tcnp.Length);
        // written out: one UNet call per step on [x_0, x_1, x_0, x_1] under [u, u, c, c] (the batch the sampler builds, so
        // the CPU GEMM rounds as it does: its results depend on the batch by ~1e-7), then each item's guidance and step
        var x = latents.Clone();
        var contexts = Tensor.ConcatBatch(uncond, uncond, cond, cond);
        int per = (int)(x.Length / 2);
        for (int step = 0; step < 3; step++)
        {
            int t = timesteps[step];
            var e = SmallSdLoaded.Unet.Forward(Tensor.ConcatBatch(x, x), new float[] { t, t, t, t }, contexts).Data;   // [4, C, h, w]
            var eps = new float[x.Length];
            for (int item = 0; item < 2; item++)
            {
                double sq = 0;
                for (int i = item * per; i < (item + 1) * per; i++)
                {
                    float diff = e[x.Length + i] - e[i];
                    sq += (double)diff * diff;
                    eps[i] = e[i] + 7.5f * diff;
                }
                Assert.Equal(Math.Sqrt(sq), sampled.Tcnp[step][item]);
            }
            Model.Scheduler.Step(x.Data, eps, t, ratio, x.Data);
        }
        Assert.Equal(x.Data, sampled.Latents.Data);
        Assert.NotEqual(sampled.Tcnp[0][0], sampled.Tcnp[0][1]);
    }

    [Fact]
    public void InversionRecordsEveryStepOfTheWrittenOutLoop()
    {
        var z0 = SmallSdLoaded.Latent(seed: 21);
        var context = SmallSdLoaded.Context(22);
        var path = new List<Tensor>();

        var last = Model.Sampler.Invert(z0, steps: 3, gridSteps: 50, context, path);

        Assert.Equal(4, path.Count);
        Assert.Equal(z0.Data, path[0].Data);
        var x = z0.Clone();
        int k = 1;
        foreach (int t in new[] { 1, 21, 41 })   // the ascending 50-step grid
        {
            Model.Scheduler.InvertStep(x.Data, Eps(x, t, context).Data, t, 20, x.Data);
            Assert.Equal(x.Data, path[k++].Data);
        }
        Assert.Equal(x.Data, last.Data);
    }

    [Fact]
    public void ATransferGoesEitherWayAsTheSchedulerDoes()
    {
        var x = SmallSdLoaded.Latent(seed: 31);
        var context = SmallSdLoaded.Context(32);

        var up = Model.Sampler.Transfer(x, from: 10, to: 20, context);    // SecMI's inversion step a(10) -> a(20), eps at 10
        var down = Model.Sampler.Transfer(x, from: 20, to: 10, context);  // a sampling step a(20) -> a(10), eps at 20

        var expectedUp = new Tensor(x.Shape);
        Model.Scheduler.InvertStep(x.Data, Eps(x, 10, context).Data, 20, 10, expectedUp.Data);
        var expectedDown = new Tensor(x.Shape);
        Model.Scheduler.Step(x.Data, Eps(x, 20, context).Data, 20, 10, expectedDown.Data);
        Assert.Equal(expectedUp.Data, up.Data);
        Assert.Equal(expectedDown.Data, down.Data);
        Assert.Equal(x.Data, SmallSdLoaded.Latent(seed: 31).Data);   // the input is not overwritten
    }

    [Fact]
    public void MismatchedBatchesAreRefusedWithTheirSizes()
    {
        var x = SmallSdLoaded.Latent(seed: 41, n: 2);
        var e = Assert.Throws<ArgumentException>(() => Model.Sampler.PredictNoise(x, [5], SmallSdLoaded.Context(42)));
        Assert.Contains("2 latents need 2 timesteps, got 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => Model.Sampler.Invert(x, 1, 50, SmallSdLoaded.Context(43, n: 3)));
        Assert.Contains("one context or 2", e.Message);
    }
}
