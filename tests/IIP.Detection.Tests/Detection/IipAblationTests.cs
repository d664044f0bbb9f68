using IIP.Detection.Ablation;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Imaging;
using IIP.Detection.Tests.Detection.Baselines;

namespace IIP.Detection.Tests.Detection;

/// <summary>IipAblation's component records on the trained testbed model (fast options, one image, one configuration).</summary>
[Collection(TestbedModelCollection.Name)]
public class IipAblationTests(TestbedModelFixture testbed)
{
    private static readonly IipOptions Fast = new() { InversionSteps = 4, MtcnpSteps = 2, PerturbationIterations = 0, PerturbationNoiseLatents = 1 };

    /// <summary>The ablation's similarity component for the default t_I, next to the score `iip scan`'s detector gives the same image.</summary>
    private (double Ablation, double Scan) Similarities(IipOptions options, ScanItem item)
    {
        var model = testbed.Model;
        var session = new IipSession(model, options, "0123456789abcdef0123456789abcdef", null, emptyEmbedding: model.Backend.ToHost(testbed.Empty));
        var ablation = new IipAblation(session, new AblationPlan { InversionSteps = [options.InversionSteps], MtcnpSteps = [], Guidances = [], Perturbations = [], StepsRemoved = false });
        string results = Path.Combine(TestPaths.NewTempDir("ablation"), "components.jsonl");
        using (var writer = ResultsWriter.Open(results))
            Assert.Equal(1, ablation.Compute([item], path => ModelImageLoader.Load(path, model.NativeImageSize), writer, new ResumeSet()));
        var record = ResultsReader.Read(results).Records.Single();
        Assert.Equal($"tI={options.InversionSteps}", record.Options);
        Assert.Equal(1 - record.Components["similarity"], record.Components["discrepancy"], 15);
        var scan = session.CreateDetector().Score(ModelImageLoader.Load(item.FullPath, model.NativeImageSize));
        return (record.Components["similarity"], scan.Similarity);
    }

    [Fact]
    public void Similarity_component_follows_the_options_similarity_as_the_scan_computes_it()
    {
        var item = new ScanItem("memorized/000000.png", Path.Combine(TestPaths.Testbed, "memorized", "000000.png"), null);
        var cosine = Similarities(Fast, item);
        var ssim = Similarities(Fast with { Similarity = SimilarityKind.PixelSsim }, item);
        var embedding = Similarities(Fast with
        {
            Similarity = SimilarityKind.OnnxEmbedding,
            EmbeddingModelPath = OnnxImageEmbedderTests.WriteModel(TinyOnnxModel.MeanEmbedder(32, 32)),
            EmbeddingMean = [0.48145466f, 0.4578275f, 0.40821073f],
            EmbeddingStd = [0.26862954f, 0.26130258f, 0.27577711f],
        }, item);

        // the ablation reads the latent at t_I from the same inversion path and regenerates with the same
        // embedding; the CPU pipeline is deterministic, so each kind matches the scan's value up to JSON round trip
        foreach (var (name, (ablation, scan)) in new[] { ("latent-cosine", cosine), ("pixel-ssim", ssim), ("onnx-embedding", embedding) })
            Assert.True(Math.Abs(ablation - scan) <= 1e-12, $"{name}: ablation {ablation:R} vs scan {scan:R}");
        // and the kinds measure different things: before, every kind gave the latent cosine
        Assert.True(Math.Abs(cosine.Ablation - ssim.Ablation) > 1e-3, $"latent cosine {cosine.Ablation:R} vs SSIM {ssim.Ablation:R}");
        Assert.True(Math.Abs(cosine.Ablation - embedding.Ablation) > 1e-3, $"latent cosine {cosine.Ablation:R} vs embedding cosine {embedding.Ablation:R}");
        Assert.True(ssim.Ablation is > 0 and < 1, $"SSIM {ssim.Ablation:R}");
    }
}
