using IIP.TestSupport.References;
using Xunit.Abstractions;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// The engine's UNet, VAE and CLIP text encoder on <see cref="SmallSdModel"/> (3 UNet levels, 4 heads, 16 groups, a 2-level VAE,
/// 3 CLIP heads, an 8x12 latent) against double-precision references built from the weights and configs alone.
/// </summary>
/// <remarks>
/// Tolerance <see cref="Tolerance"/> = 1e-5 x max |ref|: each fp32 op rounds dot products of up to 9 x 160 = 1440 terms
/// (about sqrt(K) x 6e-8 = 2e-6 relative at worst, far less on average) and the errors pass through some 20 layers. Measured
/// on this model (CPU backend): UNet 1.2e-6, VAE mean 8e-7, logvar 1.0e-6, decoded 6e-7, text encoder 5e-7. A wrong head
/// count, group count, skip order, padding or activation moves the outputs by 1e-2 or more (see ModuleReferenceTests).
/// </remarks>
public sealed class WholeModelReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    [Fact]
    public void UnetOnANonSquareLatentMatchesTheDoubleReference()
    {
        var x = SmallSdLoaded.Latent(seed: 10, n: 2);      // [2, 4, 8, 12]
        var context = SmallSdLoaded.Context(seed: 11, n: 2); // [2, 77, 96]
        float[] timesteps = [981, 1];
        var eps = SmallSdLoaded.Unet.Forward(x, timesteps, context);
        var reference = ReferenceUnet.Forward(SmallSdLoaded.Checkpoint.UnetWeights, SmallSdModel.Unet, Maps.From(x), timesteps, Tokens.From(context));
        double measured = Closeness.AssertClose("unet eps t=[981, 1]", eps, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"unet: {measured:G3}");
    }

    [Fact]
    public void VaeEncodeAndDecodeOfANonSquareImageMatchTheDoubleReference()
    {
        var image = SmallSdModel.RandomTensor(seed: 20, std: 0.5, 1, 3, SmallSdModel.ImageHeight, SmallSdModel.ImageWidth); // [1, 3, 16, 24]
        var posterior = SmallSdLoaded.Vae.Encode(image);
        var (mean, logvar) = ReferenceVae.Encode(SmallSdLoaded.Checkpoint.VaeWeights, SmallSdModel.Vae, Maps.From(image));
        double m = Closeness.AssertClose("vae mean", posterior.Mean, mean.V, mean.Shape, Tolerance);
        double l = Closeness.AssertClose("vae logvar", posterior.LogVar, logvar.V, logvar.Shape, Tolerance);

        var z = SmallSdLoaded.Latent(seed: 21);                // [1, 4, 8, 12]
        var decoded = SmallSdLoaded.Vae.Decode(z);
        var reference = ReferenceVae.Decode(SmallSdLoaded.Checkpoint.VaeWeights, SmallSdModel.Vae, Maps.From(z));
        double d = Closeness.AssertClose("vae decoded", decoded, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"vae mean {m:G3} logvar {l:G3} decoded {d:G3}");
    }

    [Fact]
    public void TextEncoderWithThreeHeadsMatchesTheDoubleReference()
    {
        int[][] ids = [SmallSdLoaded.Ids(seed: 30, words: 5), SmallSdLoaded.Ids(seed: 31, words: 40)];
        var hidden = SmallSdLoaded.TextEncoder.Forward(ids);
        var reference = ReferenceClip.Forward(SmallSdLoaded.Checkpoint.TextEncoderWeights, SmallSdModel.TextEncoder, ids);
        double measured = Closeness.AssertClose("text encoder", hidden, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"clip: {measured:G3}");
    }
}
