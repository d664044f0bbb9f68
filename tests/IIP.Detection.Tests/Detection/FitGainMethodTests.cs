using IIP.Detection.Methods;
using IIP.Detection.Methods.Baselines;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Tests.Detection.Baselines;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Detection.Tests.Detection;

/// <summary>The fit gain on the tiny golden model: its losses are the denoising losses they claim to be, and the optimization lowers the loss.</summary>
[Collection(TinyModelCollection.Name)]
public class FitGainMethodTests(TinyModelFixture tiny)
{
    private static readonly FitGainOptions Short = new() { Timesteps = [300, 500], Iterations = 3, LearningRate = 0.05, Seed = 2 };

    [Fact]
    public void TheUnconditionalLossIsTheDenoisingLossUnderTheEmptyPromptAndTheFitLowersIt()
    {
        var model = tiny.Model;
        var result = new FitGainMethod(model, Short, tiny.Empty).ScoreLatent(tiny.Latent);
        var z0 = tiny.Latent;
        double expected = 0;
        foreach (int t in Short.Timesteps)
        {
            var noise = new GaussianNoise(2 * 1000L + t).Sample(z0.Shape);             // the denoising loss's noise of (seed 2, t)
            double a = model.Scheduler.AlphasCumprod[t];
            var xt = new Tensor(z0.Shape, z0.Data.Select((z, i) => (float)(Math.Sqrt(a) * z + Math.Sqrt(1 - a) * noise.Data[i])).ToArray());
            var eps = BaselineTestData.Unet(model, xt, t, tiny.Empty);
            expected += eps.Data.Select((e, i) => ((double)e - noise.Data[i]) * ((double)e - noise.Data[i])).Average() / Short.Timesteps.Count;
        }
        // 1e-6 relative (the denoising loss's bound): the same UNet calls, one at a time instead of batched
        BaselineTestData.Close("loss_uncond", expected, result.Components["loss_uncond"], 1e-6);
        Assert.True(result.Components["loss_fit"] < result.Components["loss_uncond"],
            $"3 Adam steps did not lower the loss: {result.Components["loss_fit"]} vs {result.Components["loss_uncond"]}");
        Assert.Equal(Math.Log(result.Components["loss_uncond"]) - Math.Log(result.Components["loss_fit"]), result.Score, 12);
        Assert.True(result.Score > 0);
    }

    [Fact]
    public void OnAVPredictionModelTheLossesAreOnTheNoiseTheVelocityStandsFor()
    {
        // the golden tiny SD 2.x model predicts v: a loss on its raw output against the noise would measure nothing
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySd2Diffusers);
        var model = new StableDiffusion(checkpoint, CpuBackend.Instance);
        Assert.True(model.Scheduler.PredictsVelocity);
        var empty = model.EncodePrompts([""]);
        var z0 = model.EncodeImage(BaselineTestData.Pattern(model.NativeImageSize));
        var result = new FitGainMethod(model, Short, empty).ScoreLatent(z0);
        double expected = 0;
        foreach (int t in Short.Timesteps)
        {
            var noise = new GaussianNoise(2 * 1000L + t).Sample(z0.Shape);
            double a = model.Scheduler.AlphasCumprod[t];
            var xt = new Tensor(z0.Shape, z0.Data.Select((z, i) => (float)(Math.Sqrt(a) * z + Math.Sqrt(1 - a) * noise.Data[i])).ToArray());
            var eps = model.Sampler.PredictNoise(xt, [t], empty);                       // the sampler's eps from v
            expected += eps.Data.Select((e, i) => ((double)e - noise.Data[i]) * ((double)e - noise.Data[i])).Average() / Short.Timesteps.Count;
        }
        // 1e-6 relative, as on the epsilon model: the same UNet call and the same float32 conversion to eps
        BaselineTestData.Close("loss_uncond", expected, result.Components["loss_uncond"], 1e-6);
        Assert.True(result.Components["loss_fit"] < result.Components["loss_uncond"],
            $"3 Adam steps did not lower the loss: {result.Components["loss_fit"]} vs {result.Components["loss_uncond"]}");
    }

    [Fact]
    public void MoreStepsFitBetterAndEveryOptionChangesTheKey()
    {
        double Gain(FitGainOptions o) => new FitGainMethod(tiny.Model, o, tiny.Empty).ScoreLatent(tiny.Latent).Score;
        Assert.True(Gain(Short with { Iterations = 6 }) > Gain(Short with { Iterations = 1 }));
        string Key(FitGainOptions o) => new FitGainMethod(tiny.Model, o, tiny.Empty).OptionsKey;
        Assert.Equal(5, new[] { Key(Short), Key(Short with { Iterations = 4 }), Key(Short with { LearningRate = 0.1 }), Key(Short with { Seed = 3 }), Key(Short with { Timesteps = [300] }) }.Distinct().Count());
        Assert.Throws<ArgumentException>(() => new FitGainMethod(tiny.Model, Short with { Iterations = 0 }, tiny.Empty));
        Assert.Throws<ArgumentException>(() => new FitGainMethod(tiny.Model, Short with { Timesteps = [1000] }, tiny.Empty));
    }
}
