using IIP.Runtime.Detection.Baselines;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Tests.Detection.Baselines;

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
    public void RejectsANonPositiveNorm()
    {
        var e = Assert.Throws<ArgumentException>(() => new PiaMethod(tiny.Model, new PiaOptions { NormP = 0 }, tiny.Empty));
        Assert.Contains("pia", e.Message);
    }
}
