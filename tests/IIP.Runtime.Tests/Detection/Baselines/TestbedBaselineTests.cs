using System.Diagnostics;
using System.Text.Json;
using IIP.Runtime.Detection;
using IIP.Runtime.Detection.Baselines;
using IIP.Runtime.Tensors;
using StbImageSharp;
using Xunit.Abstractions;

namespace IIP.Runtime.Tests.Detection.Baselines;

/// <summary>Every baseline once on one memorized and one held-out image of the trained testbed model (shared/testbed).</summary>
[Collection(TestbedModelCollection.Name)]
public class TestbedBaselineTests(TestbedModelFixture testbed, ITestOutputHelper output)
{
    [Fact]
    public void EveryBaselineScoresTwoTestbedImages()
    {
        var model = testbed.Model;
        var empty = testbed.Empty;
        IDetectionMethod[] methods =
        [
            new DenoisingLossMethod(model, new DenoisingLossOptions(), empty),
            new PiaMethod(model, new PiaOptions(), empty),
            new SecMiMethod(model, new SecMiOptions(), empty),
            new OriPromptMethod(model, new OriPromptOptions { Seeds = 2, Steps = 2 }, empty),   // the defaults (4 x 50) take minutes on the CPU
        ];
        foreach (string image in new[] { "memorized/000000.png", "heldout/000000.png" })
        {
            var input = new ScanInput(image, LoadImage(Path.Combine(TestPaths.Testbed, image)), Caption(image));
            Assert.Equal([1, 3, model.NativeImageSize, model.NativeImageSize], input.Image.Shape);
            foreach (var method in methods)
            {
                var watch = Stopwatch.StartNew();
                var result = method.Score(input).Single();
                output.WriteLine($"{image} {result.Method}: score {result.Score:R} ({watch.Elapsed.TotalSeconds:F2} s) "
                    + string.Join(", ", result.Components.Select(c => $"{c.Key}={c.Value:G6}")));
                Assert.True(double.IsFinite(result.Score), $"{image} {result.Method}: score {result.Score}");
                Assert.NotEmpty(result.Components);
                Assert.All(result.Components, c => Assert.True(double.IsFinite(c.Value), $"{image} {result.Method} {c.Key} = {c.Value}"));
            }
        }
    }

    [Fact]
    public void ScoringAnImageEqualsScoringItsEncodedLatent()
    {
        const string image = "heldout/000001.png";
        var input = new ScanInput(image, LoadImage(Path.Combine(TestPaths.Testbed, image)), null);
        var method = new PiaMethod(testbed.Model, new PiaOptions(), testbed.Empty);
        Assert.Equal(method.ScoreLatent(testbed.Model.EncodeImage(input.Image)).Score, method.Score(input).Single().Score);
    }

    /// <summary>A testbed PNG as [1, 3, H, W] in [-1, 1] (x / 127.5 - 1); the testbed images are already at the native 64 x 64.</summary>
    private static Tensor LoadImage(string path)
    {
        var decoded = ImageResult.FromMemory(File.ReadAllBytes(path), ColorComponents.RedGreenBlue);
        int h = decoded.Height, w = decoded.Width;
        var image = new Tensor([1, 3, h, w]);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    image.Data[(c * h + y) * w + x] = decoded.Data[(y * w + x) * 3 + c] / 127.5f - 1f;
        return image;
    }

    private static string Caption(string image)
    {
        foreach (string line in File.ReadLines(Path.Combine(TestPaths.Testbed, "labels.jsonl")))
        {
            using var json = JsonDocument.Parse(line);
            if (json.RootElement.GetProperty("image").GetString() == image)
                return json.RootElement.GetProperty("caption").GetString()!;
        }
        throw new InvalidOperationException($"{image} is not in the testbed's labels.jsonl");
    }
}
