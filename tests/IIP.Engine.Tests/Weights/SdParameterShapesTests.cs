using IIP.Engine.Configs;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class SdParameterShapesTests
{
    public static TheoryData<string> Parts => ["unet", "vae", "text_encoder"];

    [Theory]
    [MemberData(nameof(Parts))]
    public void GeneratedShapesEqualTheGoldenFileHeaderExactly(string partName)
    {
        var part = ModelParts.Parse(partName);
        string root = TestPaths.TinySdDiffusers;
        var (unet, vae, text, _) = DiffusersFolder.ReadConfigs(root);
        var expected = SdParameterShapes.For(part, unet, vae, text);
        using var file = SafetensorsFile.Open(DiffusersFolder.WeightsPath(root, part, null));

        var generated = expected.ToDictionary(p => p.Name, p => string.Join(",", p.Shape));
        var golden = file.Header.Names.ToDictionary(n => n, n => string.Join(",", file.Info(n).Shape));
        Assert.Equal(expected.Count, generated.Count); // no name generated twice
        var onlyGenerated = generated.Keys.Except(golden.Keys).Order().ToList();
        var onlyGolden = golden.Keys.Except(generated.Keys).Order().ToList();
        var shapeDiffs = generated.Keys.Intersect(golden.Keys).Where(n => generated[n] != golden[n])
            .Select(n => $"{n} generated [{generated[n]}] golden [{golden[n]}]").ToList();
        Assert.True(onlyGenerated.Count == 0 && onlyGolden.Count == 0 && shapeDiffs.Count == 0,
            $"{partName}: only generated: {string.Join("; ", onlyGenerated.Take(5))} ({onlyGenerated.Count}); " +
            $"only golden: {string.Join("; ", onlyGolden.Take(5))} ({onlyGolden.Count}); shapes: {string.Join("; ", shapeDiffs.Take(5))} ({shapeDiffs.Count})");
    }

    [Fact]
    public void StableDiffusionV14ParameterCounts()
    {
        // Parameter counts of the released SD v1.4 modules (diffusers UNet2DConditionModel, AutoencoderKL,
        // transformers CLIPTextModel ViT-L/14 text tower): 859.52M, 83.65M, 123.06M.
        Assert.Equal(859_520_964, SdParameterShapes.Count(SdParameterShapes.Unet(UNetConfig.StableDiffusionV14)));
        Assert.Equal(83_653_863, SdParameterShapes.Count(SdParameterShapes.Vae(VaeConfig.StableDiffusionV14)));
        Assert.Equal(123_060_480, SdParameterShapes.Count(SdParameterShapes.TextEncoder(TextEncoderConfig.StableDiffusionV14)));
        Assert.Equal(686, SdParameterShapes.Unet(UNetConfig.StableDiffusionV14).Count);
        Assert.Equal(248, SdParameterShapes.Vae(VaeConfig.StableDiffusionV14).Count);
        Assert.Equal(196, SdParameterShapes.TextEncoder(TextEncoderConfig.StableDiffusionV14).Count);
    }
}
