using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Detection.Tests.Detection.Baselines;

/// <summary>The golden tiny SD model on the CPU, loaded once per test class, with e0 and a fixed test image.</summary>
public sealed class TinyModelFixture : IDisposable
{
    private readonly StableDiffusionCheckpoint _checkpoint;

    public TinyModelFixture()
    {
        _checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Model = new StableDiffusion(_checkpoint, CpuBackend.Instance);
        Empty = Model.EncodePrompts([""]);
        Image = BaselineTestData.Pattern(Model.NativeImageSize);
        Latent = Model.EncodeImage(Image);
    }

    public StableDiffusion Model { get; }

    /// <summary>e0, [1, 77, D].</summary>
    public Tensor Empty { get; }

    /// <summary>A smooth deterministic test image [1, 3, S, S] in [-1, 1].</summary>
    public Tensor Image { get; }

    /// <summary>z0 of <see cref="Image"/>, [1, 4, 16, 16]: encoded once, the VAE is the slowest part on the CPU.</summary>
    public Tensor Latent { get; }

    public void Dispose() => _checkpoint.Dispose();
}

public static class BaselineTestData
{
    /// <summary>[1, 3, size, size]: 0.8 sin(0.1 (x + 1)(c + 1) + 0.07 y), in [-0.8, 0.8].</summary>
    public static Tensor Pattern(int size)
    {
        var image = new Tensor([1, 3, size, size]);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    image.Data[(c * size + y) * size + x] = 0.8f * MathF.Sin(0.1f * (x + 1) * (c + 1) + 0.07f * y);
        return image;
    }

    /// <summary>Asserts |actual - expected| &lt;= rtol |expected| + atol, printing the case and both values.</summary>
    public static void Close(string what, double expected, double actual, double rtol, double atol = 0)
    {
        double error = Math.Abs(actual - expected);
        Assert.True(error <= rtol * Math.Abs(expected) + atol,
            $"{what}: expected {expected:R}, got {actual:R}, abs error {error:E3} (allowed {rtol:E1} relative + {atol:E1})");
    }

    /// <summary>eps(x, t, context) straight from the UNet: x [N, C, h, w], context [N, L, D].</summary>
    public static Tensor Unet(StableDiffusion model, Tensor x, int t, Tensor context) =>
        model.Backend.ToHost(model.Unet.Forward(model.Backend.FromHost(x), t, model.Backend.FromHost(context)));
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny-sd baselines";
}

/// <summary>
/// The trained testbed model (data/testbed/model, 64 x 64 images, 8 x 8 latents) on the CPU with e0: about six
/// times cheaper per UNet call than the golden tiny model, so the many-call generation tests run on it.
/// </summary>
public sealed class TestbedModelFixture : IDisposable
{
    private readonly StableDiffusionCheckpoint _checkpoint;

    public TestbedModelFixture()
    {
        _checkpoint = StableDiffusionCheckpoint.Open(Path.Combine(TestPaths.Testbed, "model"));
        Model = new StableDiffusion(_checkpoint, CpuBackend.Instance);
        Empty = Model.EncodePrompts([""]);
    }

    public StableDiffusion Model { get; }

    /// <summary>e0, [1, 77, D].</summary>
    public Tensor Empty { get; }

    public void Dispose() => _checkpoint.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TestbedModelCollection : ICollectionFixture<TestbedModelFixture>
{
    public const string Name = "testbed baselines";
}
