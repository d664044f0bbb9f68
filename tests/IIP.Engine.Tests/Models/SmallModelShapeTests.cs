using IIP.TestSupport.References;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using Xunit.Abstractions;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// Shapes, batching and the sampling loop on <see cref="SmallSdModel"/>: nothing may assume tiny-sd's widths, 4 UNet levels,
/// a VAE factor of 8 or a square latent.
/// </summary>
public sealed class SmallModelShapeTests(ITestOutputHelper output)
{
    [Fact]
    public void UnetOnANonSquareBatchGivesFiniteEpsEqualToTheSingleItemForwards()
    {
        var x = SmallSdLoaded.Latent(seed: 100, n: 2);           // [2, 4, 8, 12]
        var context = SmallSdLoaded.Context(seed: 101, n: 2);    // [2, 77, 96]
        float[] timesteps = [981, 21];
        var batch = SmallSdLoaded.Unet.Forward(x, timesteps, context);
        Assert.Equal([2, 4, 8, 12], batch.Shape);
        int bad = Array.FindIndex(batch.Data, v => !float.IsFinite(v));
        Assert.True(bad < 0, $"eps {batch.Data[Math.Max(bad, 0)]} at {Closeness.Where(bad, batch.Shape)}");
        Assert.True(batch.Data.Max(Math.Abs) > 0.1, "eps is (nearly) zero everywhere");
        for (int i = 0; i < 2; i++)
        {
            var single = SmallSdLoaded.Unet.Forward(x.SliceBatch(i), timesteps[i], context.SliceBatch(i));
            // Every op treats batch items independently; only a GEMM that blocks the batched rows differently may sum in
            // another order (fp32 dot products of <= 1440 terms: ~1e-6 relative at worst). Measured: 0 (bit-identical).
            double measured = Closeness.AssertClose($"batch item {i} vs single forward (t={timesteps[i]})", batch.SliceBatch(i), single, 1e-6);
            output.WriteLine($"item {i}: {measured:G3}");
        }
    }

    [Theory]
    [InlineData(8, 10)]   // 10 -> 5 -> 3 and back: 3 -> 6 cut to 5 -> 10
    [InlineData(6, 12)]   // 6 -> 3 -> 2 and back: 2 -> 4 cut to 3 -> 6
    public void UnetOnSidesItsThreeLevelsCannotHalveTwiceMatchesTheDoubleReference(int height, int width)
    {
        // diffusers takes any latent size: odd sides round up on the way down and are interpolated back to each skip's
        // size on the way up; the reference interpolates as PyTorch does, the engine cuts nearest 2x (the same values)
        var x = SmallSdModel.RandomTensor(seed: 102, std: 1, 1, 4, height, width);
        var context = SmallSdLoaded.Context(seed: 103);
        var eps = SmallSdLoaded.Unet.Forward(x, 501f, context);
        var reference = ReferenceUnet.Forward(SmallSdLoaded.Checkpoint.UnetWeights, SmallSdModel.Unet, Maps.From(x), [501f], Tokens.From(context));
        // as the whole-model reference test: fp32 against double, 1e-5 of the output's scale
        double measured = Closeness.AssertClose($"unet eps {height}x{width}", eps, reference.V, reference.Shape, 1e-5);
        output.WriteLine($"{height}x{width}: {measured:G3}");
    }

    [Fact]
    public void VaeRoundTripKeepsNonSquareShapesAtFactorTwo()
    {
        var vae = SmallSdLoaded.Vae;
        Assert.Equal(2, vae.DownsampleFactor);
        var image = SmallSdModel.RandomTensor(seed: 110, std: 0.5, 2, 3, SmallSdModel.ImageHeight, SmallSdModel.ImageWidth); // [2, 3, 16, 24]
        var posterior = vae.Encode(image);
        Assert.Equal([2, 4, 8, 12], posterior.Mean.Shape);
        Assert.Equal([2, 4, 8, 12], posterior.LogVar.Shape);
        var decoded = vae.Decode(posterior.Mean);
        Assert.Equal([2, 3, 16, 24], decoded.Shape);
        Assert.All(new[] { posterior.Mean, posterior.LogVar, decoded }, t => Assert.True(t.Data.All(float.IsFinite)));

        var odd = SmallSdModel.RandomTensor(seed: 111, std: 0.5, 1, 3, 16, 25);
        var e = Assert.Throws<ArgumentException>(() => vae.Encode(odd));
        Assert.Contains("16x25", e.Message);
        Assert.Contains("multiple of 2", e.Message);
    }

    [Fact]
    public void PipelineSizesFollowTheConfigsAndGuidedSamplingRunsOnANonSquareLatent()
    {
        var sd = new StableDiffusion(SmallSdLoaded.Checkpoint, CpuBackend.Instance);
        Assert.Null(sd.Tokenizer);
        Assert.Equal(4, sd.Unet.DownsampleFactor);                 // 3 levels
        Assert.Equal(16, sd.NativeImageSize);                      // VAE factor 2 x sample_size 8
        Assert.Equal([1, 4, 8, 8], sd.NativeLatentShape);

        // Pixels -> UNet-space latent -> pixels keeps the non-square shape (z = scaling_factor x posterior mean).
        var image = SmallSdModel.RandomTensor(seed: 120, std: 0.5, 1, 3, SmallSdModel.ImageHeight, SmallSdModel.ImageWidth);
        var z0 = sd.EncodeImage(image);
        Assert.Equal([1, 4, 8, 12], z0.Shape);
        var mean = SmallSdLoaded.Vae.Encode(image).Mean;
        Assert.Equal(mean.Data.Select(v => v * sd.ScalingFactor), z0.Data);
        Assert.Equal([1, 3, 16, 24], sd.DecodeLatent(z0).Shape);

        var hidden = sd.TextEncoder.Forward([SmallSdLoaded.Ids(seed: 121, words: 0), SmallSdLoaded.Ids(seed: 122, words: 6)]); // [2, 77, 96]
        var timesteps = sd.Scheduler.Timesteps(2);
        var generated = sd.Sampler.GuidedSample(SmallSdLoaded.Latent(seed: 123), timesteps, sd.Scheduler.StepRatio(2), hidden.SliceBatch(0), hidden.SliceBatch(1), 7.5f);
        var latent = generated.Latents;
        var tcnp = generated.Tcnp.Select(step => step[0]).ToList();
        Assert.Equal([1, 4, 8, 12], latent.Shape);
        Assert.True(latent.Data.All(float.IsFinite), "sampled latent is not finite");
        Assert.Equal(2, tcnp.Count);
        // TCNP = ||eps_c - eps_u||_2 over the 384 latent values; two different embeddings give a positive, finite norm.
        Assert.All(tcnp, v => Assert.True(double.IsFinite(v) && v > 0, $"TCNP {v}"));
        output.WriteLine($"tcnp {string.Join(", ", tcnp)}");
    }
}
