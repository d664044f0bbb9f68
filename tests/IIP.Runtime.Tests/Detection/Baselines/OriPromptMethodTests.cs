using IIP.Runtime.Detection;
using IIP.Runtime.Detection.Baselines;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Tests.Detection.Baselines;

/// <summary>On the testbed model: generation needs many UNet calls and the testbed's are the cheapest.</summary>
[Collection(TestbedModelCollection.Name)]
public class OriPromptMethodTests(TestbedModelFixture testbed)
{
    private const string Caption = "a large blue ring at the bottom right on a pink and orange background";

    // ori-prompt never looks at the pixels, only at the caption
    private Tensor Image => BaselineTestData.Pattern(testbed.Model.NativeImageSize);

    [Fact]
    public void EachSeedsTcnpMatchesAnUnbatchedGuidedGeneration()
    {
        var model = testbed.Model;
        var options = new OriPromptOptions { Seeds = 2, Steps = 3, Seed = 5 };
        var result = new OriPromptMethod(model, options, testbed.Empty).Score(new ScanInput("pattern", Image, Caption)).Single();

        var cond = model.EncodePrompts([Caption]);
        var rng = new GaussianNoise(5);
        var grid = model.Scheduler.Timesteps(3);
        var perSeed = new List<List<double>>();
        for (int s = 0; s < 2; s++)
        {
            var tcnp = new List<double>();
            model.Sample(rng.Sample(model.NativeLatentShape), grid, model.Scheduler.StepRatio(3), testbed.Empty, cond, 7.5f, tcnp);
            perSeed.Add(tcnp);
        }
        // 1e-6: the method runs both seeds (and uncond/cond) as one batch of 4; bit-identical on the CPU backend
        // (measured), the bound leaves room for a backend whose batched kernels round differently.
        for (int s = 0; s < 2; s++)
            BaselineTestData.Close($"seed {s} mean TCNP", perSeed[s].Average(), result.Components[$"tcnp_seed{s}"], 1e-6);
        for (int step = 0; step < 3; step++)
            BaselineTestData.Close($"step {step} TCNP over seeds", (perSeed[0][step] + perSeed[1][step]) / 2, result.Tcnp![step], 1e-6);
        BaselineTestData.Close("score = mean over steps and seeds", perSeed.SelectMany(v => v).Average(), result.Score, 1e-6);
    }

    [Fact]
    public void SameSeedGivesBitIdenticalScoresAndAnotherSeedDiffers()
    {
        var input = new ScanInput("pattern", Image, Caption);
        double Score(int seed) => new OriPromptMethod(testbed.Model, new OriPromptOptions { Seeds = 1, Steps = 2, Seed = seed }, testbed.Empty)
            .Score(input).Single().Score;
        double first = Score(0);
        Assert.Equal(first, Score(0));
        Assert.NotEqual(first, Score(1));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("  ")]
    public void WithoutACaptionTheErrorNamesTheMethodAndTheImage(string? caption)
    {
        var method = new OriPromptMethod(testbed.Model, new OriPromptOptions { Seeds = 1, Steps = 1 }, testbed.Empty);
        Assert.True(method.NeedsCaption);
        var e = Assert.Throws<ArgumentException>(() => method.Score(new ScanInput("images/cat.png", Image, caption)));
        Assert.StartsWith("ori-prompt needs the image's caption (labels file `caption` field)", e.Message);
        Assert.Contains("images/cat.png", e.Message);
    }
}
