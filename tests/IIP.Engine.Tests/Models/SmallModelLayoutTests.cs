using IIP.TestSupport.References;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Models.Clip;
using IIP.Engine.Models.Unet;
using IIP.Engine.Models.Vae;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;
using IIP.Engine.Tests.Weights;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// <see cref="SmallSdModel"/> read three ways: the F16 diffusers folder, an F32 diffusers folder holding the same values,
/// and the packed .iipw file written from the F16 folder (what `weight-convert pack` writes). Every layout must carry the
/// configs through unchanged (heads and groups are not in the weights) and give bit-identical outputs.
/// A single-file LDM checkpoint cannot hold this model: it stores no head or group counts (SD v1's 8 heads, 32 groups,
/// CLIP head size 64 are assumed), so that layout is not compared here.
/// </summary>
public sealed class SmallModelLayoutTests
{
    private sealed record Outputs(Tensor Eps, Tensor Mean, Tensor LogVar, Tensor Decoded, Tensor Hidden);

    private static Outputs Run(StableDiffusionCheckpoint checkpoint)
    {
        var backend = CpuBackend.Instance;
        var unet = new UNet2DConditionModel(checkpoint.UnetWeights, checkpoint.Unet, backend);
        var vae = new AutoencoderKL(checkpoint.VaeWeights, checkpoint.Vae, backend);
        var text = new ClipTextModel(checkpoint.TextEncoderWeights, checkpoint.TextEncoder, backend);
        var eps = unet.Forward(SmallSdLoaded.Latent(seed: 90), 501f, SmallSdLoaded.Context(seed: 91));                   // [1, 4, 8, 12]
        var posterior = vae.Encode(SmallSdModel.RandomTensor(seed: 92, std: 0.5, 1, 3, SmallSdModel.ImageHeight, SmallSdModel.ImageWidth));
        var decoded = vae.Decode(SmallSdLoaded.Latent(seed: 93));                                                          // [1, 3, 16, 24]
        var hidden = text.Forward([SmallSdLoaded.Ids(seed: 94, words: 7)]);                                                 // [1, 77, 96]
        return new Outputs(eps, posterior.Mean, posterior.LogVar, decoded, hidden);
    }

    private static void AssertConfigsAreTheSmallModels(string layout, StableDiffusionCheckpoint checkpoint)
    {
        Assert.Equal(ConfigDescriptions.Describe(SmallSdModel.Unet), ConfigDescriptions.Describe(checkpoint.Unet));
        Assert.Equal(ConfigDescriptions.Describe(SmallSdModel.Vae), ConfigDescriptions.Describe(checkpoint.Vae));
        Assert.Equal(ConfigDescriptions.Describe(SmallSdModel.TextEncoder), ConfigDescriptions.Describe(checkpoint.TextEncoder));
        Assert.True(ConfigDescriptions.Describe(SmallSdModel.Scheduler) == ConfigDescriptions.Describe(checkpoint.Scheduler), $"{layout}: scheduler config changed");
    }

    [Fact]
    public void DiffusersF16F32AndPackedLayoutsKeepTheConfigsAndGiveBitIdenticalOutputs()
    {
        var diffusers = SmallSdLoaded.Checkpoint;
        string f32Folder = SmallSdModel.Write(Path.Combine(TestPaths.NewTempDir("small-sd-f32"), "model"), WeightDType.F32, seed: 1);
        string packedFile = Path.Combine(TestPaths.NewTempDir("small-sd-packed"), "small.iipw");
        PackedWeightsWriter.Write(diffusers, packedFile);
        using var f32 = StableDiffusionCheckpoint.Open(f32Folder);
        using var packed = StableDiffusionCheckpoint.Open(packedFile);

        Assert.Equal((CheckpointLayout.Diffusers, WeightDType.F16), (diffusers.Layout, diffusers.UnetWeights.Info("conv_in.weight").DType));
        Assert.Equal((CheckpointLayout.Diffusers, WeightDType.F32), (f32.Layout, f32.UnetWeights.Info("conv_in.weight").DType));
        Assert.Equal(CheckpointLayout.Packed, packed.Layout);
        var expected = Run(diffusers);
        foreach (var (layout, checkpoint) in new[] { ("diffusers F32", f32), ("packed .iipw", packed) })
        {
            AssertConfigsAreTheSmallModels(layout, checkpoint);
            var actual = Run(checkpoint);
            WeightAssert.ExactlyEqual($"{layout}: unet eps", expected.Eps.Data, actual.Eps.Data);
            WeightAssert.ExactlyEqual($"{layout}: vae mean", expected.Mean.Data, actual.Mean.Data);
            WeightAssert.ExactlyEqual($"{layout}: vae logvar", expected.LogVar.Data, actual.LogVar.Data);
            WeightAssert.ExactlyEqual($"{layout}: vae decoded", expected.Decoded.Data, actual.Decoded.Data);
            WeightAssert.ExactlyEqual($"{layout}: text encoder", expected.Hidden.Data, actual.Hidden.Data);
        }
        AssertConfigsAreTheSmallModels("diffusers F16", diffusers);
        Assert.Equal([1, 4, 8, 12], expected.Eps.Shape);
        Assert.Equal([1, 3, 16, 24], expected.Decoded.Shape);
    }
}
