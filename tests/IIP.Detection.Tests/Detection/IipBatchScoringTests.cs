using IIP.Detection.Methods;
using IIP.Engine.Imaging;
using IIP.Detection.Tests.Detection.Baselines;

namespace IIP.Detection.Tests.Detection;

/// <summary>IipDetector.ScoreBatch: several images inverted and regenerated as one batch give each image's own score.</summary>
[Collection(TestbedModelCollection.Name)]
public class IipBatchScoringTests(TestbedModelFixture testbed)
{
    [Fact]
    public void ABatchScoresEachImageAsAloneUpToRounding()
    {
        var model = testbed.Model;
        var options = new IipOptions { InversionSteps = 4, MtcnpSteps = 2 };
        var empty = model.Backend.ToHost(testbed.Empty);
        var perturbation = model.Backend.ToHost(model.EncodePrompts(["ata"]));
        var detector = new IipDetector(model, options, empty, perturbation);
        var images = new[]
        {
            BaselineTestData.Pattern(model.NativeImageSize),
            ModelImageLoader.Load(Path.Combine(TestPaths.Testbed, "memorized", "000003.png"), model.NativeImageSize),
            ModelImageLoader.Load(Path.Combine(TestPaths.Testbed, "heldout", "000004.png"), model.NativeImageSize),
        };

        var batched = detector.ScoreBatch(images);
        Assert.Equal(3, batched.Count);
        for (int i = 0; i < images.Length; i++)
        {
            var alone = detector.Score(images[i]);
            // the same arithmetic per image; only the blocking of the batched matrix products differs (fp32 sums in another
            // order: 3.6e-8 relative at the first TCNP, at most 2.6e-6 over all TCNP values and scores here), bound 1e-5
            Assert.Equal(alone.Tcnp.Length, batched[i].Tcnp.Length);
            for (int s = 0; s < alone.Tcnp.Length; s++)
                Assert.True(Math.Abs(alone.Tcnp[s] - batched[i].Tcnp[s]) <= 1e-5 * Math.Abs(alone.Tcnp[s]), $"image {i} step {s}: {alone.Tcnp[s]:R} vs {batched[i].Tcnp[s]:R}");
            Assert.True(Math.Abs(alone.Score - batched[i].Score) <= 1e-5 * Math.Max(1, Math.Abs(alone.Score)), $"image {i}: {alone.Score:R} vs {batched[i].Score:R}");
            Assert.True(Math.Abs(alone.Similarity - batched[i].Similarity) <= 1e-5, $"image {i}: similarity {alone.Similarity:R} vs {batched[i].Similarity:R}");
        }
        // the images differ, so a batch that mixed them up would not pass the comparison above
        Assert.NotEqual(batched[0].Score, batched[1].Score);
    }

    [Fact]
    public void ABatchOfOneIsScore()
    {
        var model = testbed.Model;
        var options = new IipOptions { InversionSteps = 3, MtcnpSteps = 2 };
        var detector = new IipDetector(model, options, model.Backend.ToHost(testbed.Empty), model.Backend.ToHost(model.EncodePrompts(["ata"])));
        var image = BaselineTestData.Pattern(model.NativeImageSize);
        Assert.Equal(detector.Score(image).Tcnp, detector.ScoreBatch([image])[0].Tcnp);
    }
}
