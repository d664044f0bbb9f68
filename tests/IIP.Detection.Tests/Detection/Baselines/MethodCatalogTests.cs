using IIP.Detection.Methods.Baselines;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Methods;
using IIP.Detection;

namespace IIP.Detection.Tests.Detection.Baselines;

[Collection(TinyModelCollection.Name)]
public class MethodCatalogTests(TinyModelFixture tiny)
{
    [Fact]
    public void ListsEveryMethodExactlyOnce()
    {
        string[] expected = ["iip", "iip-mtcnp", "iip-similarity", "ori-prompt", "denoising-loss", "pia", "secmi", "pia-sd", "secmi-sd", "fit-gain", "iip-fit"];
        Assert.Equal(expected, MethodCatalog.Names);
        Assert.Equal(MethodCatalog.Names.Count, MethodCatalog.Names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(MethodCatalog.All, m => Assert.False(string.IsNullOrWhiteSpace(m.Description), m.Name));
        Assert.All(MethodCatalog.All, m => Assert.DoesNotContain('\n', m.Description));
        Assert.Equal(IipMethod.All, MethodCatalog.Names.Take(3));
    }

    [Fact]
    public void CaptionFlagsAgreeWithTheMethodsThemselves()
    {
        IDetectionMethod[] baselines =
        [
            new OriPromptMethod(tiny.Model, new OriPromptOptions(), tiny.Empty),
            new DenoisingLossMethod(tiny.Model, new DenoisingLossOptions(), tiny.Empty),
            new PiaMethod(tiny.Model, new PiaOptions(), tiny.Empty),
            new SecMiMethod(tiny.Model, new SecMiOptions(), tiny.Empty),
            new PiaMethod(tiny.Model, PiaOptions.AuthorsStableDiffusion, tiny.Empty, PiaMethod.StableDiffusionName),
            new SecMiMethod(tiny.Model, SecMiOptions.AuthorsStableDiffusion, tiny.Empty, SecMiMethod.StableDiffusionName),
            new FitGainMethod(tiny.Model, new FitGainOptions(), tiny.Empty),
        ];
        foreach (var method in baselines)
            foreach (string name in method.Methods)
                Assert.Equal(method.NeedsCaption, MethodCatalog.Require(name).NeedsCaption);
        Assert.All(MethodCatalog.All.Where(m => m.Name.StartsWith("iip")), m => Assert.False(m.NeedsCaption));
        Assert.Equal(7, baselines.Select(b => b.OptionsKey).Distinct().Count());
    }

    [Fact]
    public void AnUnknownNameListsTheKnownOnes()
    {
        Assert.Null(MethodCatalog.Find("SecMI"));
        var e = Assert.Throws<ArgumentException>(() => MethodCatalog.Require("pfami"));
        Assert.Contains("'pfami'", e.Message);
        Assert.Contains("denoising-loss", e.Message);
    }
}
