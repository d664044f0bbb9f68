using IIP.Detection.Methods;
using IIP.Detection.Methods.Baselines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.Detection.Baselines;

[Collection(TinyModelCollection.Name)]
public class DenoisingLossMethodTests(TinyModelFixture tiny)
{
    private static readonly int[] Timesteps = [100, 300];

    [Fact]
    public void MatchesTheTrainingLossComputedStepByStep()
    {
        var model = tiny.Model;
        var method = new DenoisingLossMethod(model, new DenoisingLossOptions { Timesteps = Timesteps, Seed = 3 }, tiny.Empty);
        var result = method.ScoreLatent(tiny.Latent);

        var z0 = tiny.Latent;                                                         // [1, C, h, w]
        double sum = 0;
        foreach (int t in Timesteps)
        {
            var noise = new GaussianNoise(3 * 1000L + t).Sample(z0.Shape);            // the documented noise of (seed 3, t)
            double a = model.Scheduler.AlphasCumprod[t];
            var xt = new Tensor(z0.Shape, z0.Data.Select((z, i) => (float)(Math.Sqrt(a) * z + Math.Sqrt(1 - a) * noise.Data[i])).ToArray());
            var eps = BaselineTestData.Unet(model, xt, t, tiny.Empty);
            double loss = eps.Data.Select((e, i) => ((double)e - noise.Data[i]) * ((double)e - noise.Data[i])).Average();
            // 1e-6 (measured 6e-8): the method forms x_t in float32 and batches both timesteps into one UNet call;
            // the loss is ~1, so another noise, timestep, context or sign fails by far more.
            BaselineTestData.Close($"loss at t={t}", loss, result.Components[$"loss_t{t}"], 1e-6);
            sum += loss;
        }
        BaselineTestData.Close("score = -mean loss", -sum / Timesteps.Length, result.Score, 1e-6);
        Assert.Equal(DenoisingLossMethod.Name, result.Method);
    }

    [Fact]
    public void SameSeedGivesBitIdenticalScoresAndAnotherSeedDiffers()
    {
        double Score(int seed) => new DenoisingLossMethod(tiny.Model, new DenoisingLossOptions { Timesteps = [300], Seed = seed }, tiny.Empty)
            .ScoreLatent(tiny.Latent).Score;
        double first = Score(0);
        Assert.Equal(first, Score(0));
        Assert.NotEqual(first, Score(1));
    }

    [Fact]
    public void OptionsKeyChangesWithEveryOption()
    {
        string Key(DenoisingLossOptions o) => new DenoisingLossMethod(tiny.Model, o, tiny.Empty).OptionsKey;
        var baseline = new DenoisingLossOptions();
        Assert.Equal(Key(baseline), Key(new DenoisingLossOptions { Timesteps = [100, 300] }));
        Assert.NotEqual(Key(baseline), Key(baseline with { Seed = 1 }));
        Assert.NotEqual(Key(baseline), Key(baseline with { Timesteps = [300, 100] }));
    }

    [Fact]
    public void RejectsTimestepsOutsideTraining()
    {
        var e = Assert.Throws<ArgumentException>(() => new DenoisingLossMethod(tiny.Model, new DenoisingLossOptions { Timesteps = [1000] }, tiny.Empty));
        Assert.Contains("denoising-loss", e.Message);
        Assert.Contains("1000", e.Message);
    }

    [Fact]
    public void RejectsAnImageThatIsNotAtTheNativeSize()
    {
        var method = new DenoisingLossMethod(tiny.Model, new DenoisingLossOptions(), tiny.Empty);
        var e = Assert.Throws<ArgumentException>(() => method.Score(new ScanInput("small.png", new Tensor([1, 3, 8, 8]), null)));
        Assert.Contains("small.png", e.Message);
        Assert.Contains($"[1, 3, {tiny.Model.NativeImageSize}, {tiny.Model.NativeImageSize}]", e.Message);
    }
}
