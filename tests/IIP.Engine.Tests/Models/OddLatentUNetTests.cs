using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Models.Unet;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// Latents whose sides are not multiples of 2^(levels - 1) work as in diffusers: the down path's stride-2 convolutions round
/// odd sizes up and the up path upsamples to each skip's size (nearest 2x with the last row or column cut off). References:
/// tests/data/odd-latent-unet.safetensors, diffusers 0.25 on a 13 x 10 latent (tools/reference/odd_latent_unet.py made it).
/// </summary>
public class OddLatentUNetTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string References = Path.Combine(TestPaths.RepoRoot, "tests", "data", "odd-latent-unet.safetensors");

    [Theory]
    [InlineData("tiny-sd")]
    [InlineData("tiny-sd2")]
    public void AThirteenByTenLatentMatchesDiffusers(string model)
    {
        using var references = SafetensorsFile.Open(References);
        using var checkpoint = StableDiffusionCheckpoint.Open(Path.Combine(TestPaths.Data, "golden", model, "model"));
        var unet = new UNet2DConditionModel(checkpoint.UnetWeights, checkpoint.Unet, CpuBackend.Instance);
        var x = references.Load($"{model}.x");                   // [1, 4, 13, 10]: 13 -> 7 -> 4 -> 2 and 10 -> 5 -> 3 -> 2 down the levels
        var expected = references.Load($"{model}.eps.t501");
        var eps = unet.Forward(x, 501, references.Load($"{model}.ctx"));
        Assert.Equal(expected.Shape, eps.Shape);
        // the golden README's bound for one forward in fp32: max |err| <= 1e-4 max |ref| + 1e-5 (measured about 1e-6 relative)
        float max = expected.Data.Max(MathF.Abs), worst = expected.Data.Zip(eps.Data, (e, a) => MathF.Abs(e - a)).Max();
        output.WriteLine($"{model}: max |err| {worst:G3}, max |ref| {max:G3} ({worst / max:G3} relative)");
        Assert.True(worst <= 1e-4f * max + 1e-5f, $"{model}: max |err| {worst:G3} against max |ref| {max:G3}");
    }

    [Fact]
    public void NearestTwoTimesCutToAnOddSizeTakesEverySourceRowTwiceButTheLast()
    {
        IBackend cpu = CpuBackend.Instance;
        var x = Tensor.From([1f, 2f, 3f, 4f, 5f, 6f], 1, 1, 2, 3);    // rows [1 2 3], [4 5 6]
        var y = cpu.UpsampleNearest2x(x, 3, 5);                        // 2H - 1 = 3 rows, 2W - 1 = 5 columns
        Assert.Equal([1f, 1f, 2f, 2f, 3f, 1f, 1f, 2f, 2f, 3f, 4f, 4f, 5f, 5f, 6f], y.Data);
        // backward: each source pixel sums the outputs it fed (4, 2 at the cut edges, 1 at the cut corner)
        var dy = Tensor.From(Enumerable.Repeat(1f, 15).ToArray(), 1, 1, 3, 5);
        var dx = cpu.Gradients().UpsampleNearest2xBackward(dy);
        Assert.Equal([1, 1, 2, 3], dx.Shape);
        Assert.Equal([4f, 4f, 2f, 2f, 2f, 1f], dx.Data);
        Assert.Throws<ArgumentException>(() => cpu.UpsampleNearest2x(x, 2, 6));   // 2H - 2 rows is no such cut
    }
}
