using IIP.Detection.Methods.Baselines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.Detection.Baselines;

[Collection(TinyModelCollection.Name)]
public class PiaMethodTests(TinyModelFixture tiny)
{
    [Fact]
    public void MatchesTheProximalInitializationErrorComputedByHand()
    {
        var model = tiny.Model;
        int[] timesteps = [200];
        var method = new PiaMethod(model, new PiaOptions(), tiny.Empty);   // defaults: t = 200, p = 4
        var result = method.ScoreLatent(tiny.Latent);

        var z0 = tiny.Latent;
        var eps0 = BaselineTestData.Unet(model, z0, 0, tiny.Empty);                   // eps(z0, 0, e0)
        double sum = 0;
        foreach (int t in timesteps)
        {
            double a = model.Scheduler.AlphasCumprod[t];
            var xt = new Tensor(z0.Shape, z0.Data.Select((z, i) => (float)(Math.Sqrt(a) * z + Math.Sqrt(1 - a) * eps0.Data[i])).ToArray());
            var eps = BaselineTestData.Unet(model, xt, t, tiny.Empty);
            double norm4 = Math.Pow(eps.Data.Select((e, i) => Math.Pow((double)e - eps0.Data[i], 4)).Sum(), 0.25);
            // 2e-6 (measured 1.6e-7, x_t formed in float32); eps0 taken at t = 1 instead of 0 is off by 8e-4.
            BaselineTestData.Close($"l4 norm at t={t}", norm4, result.Components[$"norm_t{t}"], 2e-6);
            sum += norm4;
        }
        BaselineTestData.Close("score = -mean norm", -sum / timesteps.Length, result.Score, 2e-6);
        Assert.Single(result.Components);
    }

    [Fact]
    public void TheAuthorsStableDiffusionSettingsGuideEveryPredictionTowardTheCaption()
    {
        var model = tiny.Model;
        var options = PiaOptions.AuthorsStableDiffusion with { Timesteps = [10, 20] };   // two of its 50 timesteps, to stay fast
        var method = new PiaMethod(model, options, tiny.Empty, PiaMethod.StableDiffusionName);
        Assert.True(method.NeedsCaption);
        const string Caption = "a small red circle at the center";
        var input = new IIP.Detection.Methods.ScanInput("pattern.png", tiny.Image, Caption);
        var result = Assert.Single(method.Score(input));
        Assert.Equal(PiaMethod.StableDiffusionName, result.Method);

        // by hand: eps = eps_u + 7.5 (eps_c - eps_u) at every call, eps0 included; score = -mean_t ln ||eps_t - eps0||_4
        var cond = model.EncodePrompts([Caption]);
        Tensor Guided(Tensor x, int t)
        {
            var u = BaselineTestData.Unet(model, x, t, tiny.Empty);
            var c = BaselineTestData.Unet(model, x, t, cond);
            return new Tensor(x.Shape, u.Data.Select((v, i) => v + 7.5f * (c.Data[i] - v)).ToArray());
        }
        var z0 = tiny.Latent;
        var eps0 = Guided(z0, 0);
        double sumLog = 0;
        foreach (int t in options.Timesteps)
        {
            double a = model.Scheduler.AlphasCumprod[t];
            var xt = new Tensor(z0.Shape, z0.Data.Select((z, i) => (float)(Math.Sqrt(a) * z + Math.Sqrt(1 - a) * eps0.Data[i])).ToArray());
            var eps = Guided(xt, t);
            double norm4 = Math.Pow(eps.Data.Select((e, i) => Math.Pow((double)e - eps0.Data[i], 4)).Sum(), 0.25);
            // 2e-5: guidance multiplies the float32 difference of two predictions by 7.5 (measured below 3e-6)
            BaselineTestData.Close($"l4 norm at t={t}", norm4, result.Components[$"norm_t{t}"], 2e-5);
            sumLog += Math.Log(norm4);
        }
        BaselineTestData.Close("score = -mean ln norm", -sumLog / 2, result.Score, 2e-5);

        var e = Assert.Throws<ArgumentException>(() => method.Score(input with { Caption = null }));
        Assert.Contains("pia-sd needs the image's caption", e.Message);
        Assert.Equal(50, PiaOptions.AuthorsStableDiffusion.Timesteps.Count);
        Assert.Equal([10, 500], new[] { PiaOptions.AuthorsStableDiffusion.Timesteps[0], PiaOptions.AuthorsStableDiffusion.Timesteps[^1] });
    }

    [Fact]
    public void RejectsANonPositiveNorm()
    {
        var e = Assert.Throws<ArgumentException>(() => new PiaMethod(tiny.Model, new PiaOptions { NormP = 0 }, tiny.Empty));
        Assert.Contains("pia", e.Message);
    }
}
