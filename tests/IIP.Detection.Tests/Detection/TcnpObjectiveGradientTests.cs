using IIP.Detection.Methods;
using IIP.Engine.Backends.Cpu;
using IIP.TestSupport.References;
using Xunit.Abstractions;

namespace IIP.Detection.Tests.Detection;

/// <summary>
/// The gradient IIP optimizes its perturbation embedding with, dL/dc of Wen et al.'s L(c) = ||eps(x, t, c) - eps(x, t, u)||_2,
/// back-propagated through <see cref="SmallSdModel"/>'s UNet (3 levels, 4 heads, 8x12 and 8x10 latents), against a central difference
/// of the double-precision reference UNet along a random direction r: (L(c + h r) - L(c - h r)) / 2h = &lt;dL/dc, r&gt; + O(h^2).
/// </summary>
public sealed class TcnpObjectiveGradientTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(8, 12)]
    [InlineData(8, 10)]   // an odd skip (10 -> 5 -> 3): the up path's cut upsampling and its backward
    public void TcnpGradientThroughTheUnetMatchesADoubleCentralDifference(int height, int width)
    {
        const int Timestep = 981;
        var x = SmallSdModel.RandomTensor(seed: 130, std: 1, 1, SmallSdModel.Unet.InChannels, height, width);   // [1, 4, h, w]
        var cond = SmallSdLoaded.Context(seed: 131);             // [1, 77, 96]
        var uncond = SmallSdLoaded.Context(seed: 132);
        var (loss, gradient) = TcnpObjective.LossAndGradient(SmallSdLoaded.Unet, CpuBackend.Instance, x, Timestep, cond, uncond);
        Assert.Equal(cond.Shape, gradient.Shape);

        var weights = SmallSdLoaded.Checkpoint.UnetWeights;
        var latent = Maps.From(x);
        var epsU = ReferenceUnet.Forward(weights, SmallSdModel.Unet, latent, [Timestep], Tokens.From(uncond)).V;
        double Loss(double[] c)
        {
            var epsC = ReferenceUnet.Forward(weights, SmallSdModel.Unet, latent, [Timestep], new Tokens(c, 1, cond.Shape[1], cond.Shape[2])).V;
            return Math.Sqrt(epsC.Zip(epsU, (p, q) => (p - q) * (p - q)).Sum());
        }

        var c0 = cond.Data.Select(v => (double)v).ToArray();
        var r = SmallSdModel.RandomTensor(seed: 133, std: 1, cond.Shape).Data;
        // h = 1e-4: the O(h^2 |r|^3 L''') truncation and the 1e-16 L / h rounding of double are both far below 1e-8 relative.
        const double H = 1e-4;
        double lossPlus = Loss(c0.Select((v, i) => v + H * r[i]).ToArray());
        double lossMinus = Loss(c0.Select((v, i) => v - H * r[i]).ToArray());
        double numeric = (lossPlus - lossMinus) / (2 * H);
        double analytic = gradient.Data.Select((g, i) => (double)g * r[i]).Sum();
        double gradientNorm = Math.Sqrt(gradient.Data.Sum(g => (double)g * g));
        double referenceLoss = Loss(c0);
        output.WriteLine($"L {loss:G9} (reference {referenceLoss:G9}), <g, r> {analytic:G9}, central difference {numeric:G9}, |g| {gradientNorm:G4}");

        // For a random r, <g, r> ~ N(0, |g|^2): a value far below |g| would make the comparison weak, so the case must not be one.
        Assert.True(Math.Abs(numeric) > 0.1 * gradientNorm, $"directional derivative {numeric} is small against |g| {gradientNorm}: pick another seed");
        // Measured 1.5e-6 relative (fp32 forward and backward through ~20 layers, summed over 7392 coordinates); 2e-5 leaves
        // room for a GEMM that sums in another order, while an error of 0.01% of |g| along r already moves <g, r> by more.
        Assert.True(Math.Abs(analytic - numeric) <= 2e-5 * Math.Abs(numeric),
            $"<dL/dc, r> = {analytic:G9}, central difference of the double reference {numeric:G9}: relative error {Math.Abs(analytic - numeric) / Math.Abs(numeric):G3}");
        // L itself: measured 1.9e-7 relative.
        Assert.True(Math.Abs(loss - referenceLoss) <= 2e-6 * loss, $"engine L {loss:G9}, reference {referenceLoss:G9}");
    }
}
