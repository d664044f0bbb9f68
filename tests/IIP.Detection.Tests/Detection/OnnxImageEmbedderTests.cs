using IIP.Detection.Methods;
using IIP.Engine.Tensors;
using IIP.Detection.Tests.Detection.Baselines;
using static IIP.TestSupport.TinyOnnxModel;

namespace IIP.Detection.Tests.Detection;

/// <summary>OnnxImageEmbedder on hand-written ONNX mean embedders (embedding = per-channel mean of the preprocessed image).</summary>
public class OnnxImageEmbedderTests
{
    private static readonly double[] Mean = [0.485, 0.456, 0.406], Std = [0.229, 0.224, 0.225];

    internal static string WriteModel(byte[] bytes, string name = "embedder.onnx")
    {
        string path = Path.Combine(TestPaths.NewTempDir("onnx"), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Reference preprocessing in double, written from the definition: pixel p = clamp((x + 1) / 2, 0, 1);
    /// output (i, j) samples the source at u = (i + 0.5) S / h - 0.5 (clamped to the image) bilinearly; (p - mean) / std.
    /// Returns the per-channel means of the result.</summary>
    private static double[] ReferenceChannelMeans(Tensor image, int h, int w)
    {
        int sh = image.Shape[2], sw = image.Shape[3];
        double P(int c, int y, int x) => Math.Clamp((image.Data[(c * sh + y) * sw + x] + 1.0) / 2.0, 0, 1);
        var means = new double[3];
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    double v = Math.Clamp((i + 0.5) * sh / h - 0.5, 0, sh - 1), u = Math.Clamp((j + 0.5) * sw / w - 0.5, 0, sw - 1);
                    int y = (int)v, x = (int)u, y2 = Math.Min(y + 1, sh - 1), x2 = Math.Min(x + 1, sw - 1);
                    double a = v - y, b = u - x;
                    double pixel = (1 - a) * ((1 - b) * P(c, y, x) + b * P(c, y, x2)) + a * ((1 - b) * P(c, y2, x) + b * P(c, y2, x2));
                    sum += (pixel - Mean[c]) / Std[c];
                }
            means[c] = sum / (h * w);
        }
        return means;
    }

    private static void AssertEmbedding(string what, double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var errors = expected.Select((e, i) => Math.Abs(e - actual[i])).ToArray();
        double max = errors.Max();
        int at = Array.IndexOf(errors, max);
        // fp32 preprocessing and ONNX Runtime's fp32 mean over <= 4096 values of magnitude <= 2.7; measured max 1.7e-7
        Assert.True(max <= 1e-6, $"{what}: max error {max:E3} at channel {at}; pairs {string.Join(", ", expected.Select((e, i) => $"({e:G7}, {actual[i]:G7})"))}");
    }

    [Fact]
    public void Exact_half_downscale_embeds_the_normalized_image_mean()
    {
        // 64 -> 32 with half-pixel centers averages 2x2 blocks, so the mean of the resized pixels is the image's mean
        var image = BaselineTestData.Pattern(64);
        using var embedder = new OnnxImageEmbedder(WriteModel(MeanEmbedder(32, 32)));
        Assert.Equal((32, 32), (embedder.InputHeight, embedder.InputWidth));
        var expected = new double[3];
        for (int c = 0; c < 3; c++)
            expected[c] = (image.Data.Skip(c * 4096).Take(4096).Average(x => Math.Clamp((x + 1.0) / 2.0, 0, 1)) - Mean[c]) / Std[c];
        AssertEmbedding("64 -> 32x32", expected, embedder.Embed(image));
    }

    [Fact]
    public void Custom_mean_and_std_normalize_the_pixels_instead_of_imagenet()
    {
        // OpenAI CLIP's statistics (openai/CLIP clip.py _transform); 64 -> 32 averages 2x2 blocks as above
        float[] clipMean = [0.48145466f, 0.4578275f, 0.40821073f], clipStd = [0.26862954f, 0.26130258f, 0.27577711f];
        var image = BaselineTestData.Pattern(64);
        using var clip = new OnnxImageEmbedder(WriteModel(MeanEmbedder(32, 32)), clipMean, clipStd);
        using var imageNet = new OnnxImageEmbedder(WriteModel(MeanEmbedder(32, 32)));
        Assert.Equal(clipMean, clip.Mean);
        Assert.Equal(clipStd, clip.Std);
        var expected = new double[3];
        for (int c = 0; c < 3; c++)
            expected[c] = (image.Data.Skip(c * 4096).Take(4096).Average(x => Math.Clamp((x + 1.0) / 2.0, 0, 1)) - clipMean[c]) / clipStd[c];
        var embedding = clip.Embed(image);
        AssertEmbedding("CLIP-normalized 64 -> 32x32", expected, embedding);
        // the ImageNet embedding is a different vector: far beyond the 1e-6 tolerance above
        var imageNetEmbedding = imageNet.Embed(image);
        Assert.True(Enumerable.Range(0, 3).Max(c => Math.Abs(imageNetEmbedding[c] - embedding[c])) > 0.01,
            $"CLIP {string.Join(", ", embedding)} vs ImageNet {string.Join(", ", imageNetEmbedding)}");
    }

    [Theory]
    [InlineData(new[] { 0.5f, 0.5f }, new[] { 0.2f, 0.2f, 0.2f })]            // 2 means
    [InlineData(new[] { 0.5f, float.NaN, 0.5f }, new[] { 0.2f, 0.2f, 0.2f })]   // NaN mean
    [InlineData(new[] { 0.5f, 0.5f, 0.5f }, new[] { 0.2f, 0f, 0.2f })]          // std 0
    [InlineData(new[] { 0.5f, 0.5f, 0.5f }, new[] { 0.2f, 0.2f, float.PositiveInfinity })]
    public void Bad_normalization_is_an_argument_error(float[] mean, float[] std)
    {
        string model = WriteModel(MeanEmbedder(8, 8));
        Assert.Contains("normalization", Assert.Throws<ArgumentException>(() => new OnnxImageEmbedder(model, mean, std)).Message);
    }

    [Theory]
    [InlineData(24, 40)]   // non-integer ratios, non-square
    [InlineData(100, 7)]   // upscale one axis, downscale the other
    public void Embedding_is_the_channel_mean_of_the_resized_normalized_image(int h, int w)
    {
        var image = BaselineTestData.Pattern(64);
        image.Data[5] = 1.7f; image.Data[4100] = -1.4f;   // outside [-1, 1]: clamped to [0, 1] pixels
        using var embedder = new OnnxImageEmbedder(WriteModel(MeanEmbedder(h, w)));
        AssertEmbedding($"64 -> {h}x{w}", ReferenceChannelMeans(image, h, w), embedder.Embed(image));
    }

    [Fact]
    public void Dynamic_height_and_width_keep_the_image_size()
    {
        var image = BaselineTestData.Pattern(48);
        using var embedder = new OnnxImageEmbedder(WriteModel(MeanEmbedder(-1, -1)));
        Assert.Null(embedder.InputHeight);
        Assert.Null(embedder.InputWidth);
        Assert.Equal([1, 3, 48, 48], embedder.Preprocess(image).Shape);
        AssertEmbedding("dynamic 48x48", ReferenceChannelMeans(image, 48, 48), embedder.Embed(image));
    }

    [Fact]
    public void Identical_images_have_similarity_one_and_different_images_less()
    {
        var image = BaselineTestData.Pattern(64);
        var other = BaselineTestData.Pattern(64);
        for (int i = 0; i < 4096; i++) other.Data[i] = 0.3f * other.Data[i] + 0.6f;   // a brighter red channel: a different mean colour
        using var embedder = new OnnxImageEmbedder(WriteModel(MeanEmbedder(16, 16)));
        Assert.Equal(1.0, embedder.Similarity(image, image), 12);   // cos(v, v) in double: rounding only
        var a = embedder.Embed(image); var b = embedder.Embed(other);
        double expected = a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(y => (double)y * y));
        Assert.Equal(expected, embedder.Similarity(image, other), 12);
        Assert.True(expected < 0.999, $"different mean colours should not be near-identical, cos = {expected}");
    }

    [Fact]
    public void Bad_model_files_are_errors_naming_the_file()
    {
        string dir = TestPaths.NewTempDir("onnx-bad");
        string missing = Path.Combine(dir, "nope.onnx");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => new OnnxImageEmbedder(missing)).Message);

        string garbage = WriteModel([1, 2, 3, 4], "garbage.onnx");
        Assert.Contains(garbage, Assert.Throws<InvalidDataException>(() => new OnnxImageEmbedder(garbage)).Message);

        string threeD = WriteModel(Model(
            [new Node("GlobalAveragePool", ["image"], ["pooled"]), new Node("Flatten", ["pooled"], ["embedding"])],
            [new Value("image", FloatType, 1, 3, 8)], [new Value("embedding", FloatType, 1, 3)]), "three-d.onnx");
        var e = Assert.Throws<InvalidDataException>(() => new OnnxImageEmbedder(threeD));
        Assert.Contains(threeD, e.Message);
        Assert.Contains("4-D float", e.Message);

        string intOutput = WriteModel(Model(
            [new Node("GlobalAveragePool", ["image"], ["pooled"]), new Node("Flatten", ["pooled"], ["flat"]), new Node("Cast", ["flat"], ["embedding"], ("to", Int64Type))],
            [new Value("image", FloatType, 1, 3, 8, 8)], [new Value("embedding", Int64Type, 1, 3)]), "int-output.onnx");
        e = Assert.Throws<InvalidDataException>(() => new OnnxImageEmbedder(intOutput));
        Assert.Contains(intOutput, e.Message);
        Assert.Contains("float", e.Message);
    }

    [Fact]
    public void Options_require_the_model_path_with_onnx_embedding_only_and_key_it()
    {
        Assert.Throws<ArgumentException>(() => new IipOptions { Similarity = SimilarityKind.OnnxEmbedding }.Validate());
        Assert.Throws<ArgumentException>(() => new IipOptions { EmbeddingModelPath = "x.onnx" }.Validate());
        string a = WriteModel(MeanEmbedder(8, 8)), b = WriteModel(MeanEmbedder(16, 16));
        var withA = new IipOptions { Similarity = SimilarityKind.OnnxEmbedding, EmbeddingModelPath = a };
        withA.Validate();
        Assert.NotEqual(withA.ScoreKey(), (withA with { EmbeddingModelPath = b }).ScoreKey());
        Assert.NotEqual(withA.ScoreKey(), new IipOptions().ScoreKey());
        Assert.Equal(withA.PerturbationKey(), new IipOptions().PerturbationKey());   // the embedder does not change c*
    }

    [Fact]
    public void Options_key_the_embedding_normalization_and_validate_it()
    {
        var imageNet = new IipOptions { Similarity = SimilarityKind.OnnxEmbedding, EmbeddingModelPath = WriteModel(MeanEmbedder(8, 8)) };
        var clipMean = imageNet with { EmbeddingMean = [0.48145466f, 0.4578275f, 0.40821073f] };
        var clipStd = imageNet with { EmbeddingStd = [0.26862954f, 0.26130258f, 0.27577711f] };
        clipMean.Validate();
        clipStd.Validate();
        Assert.NotEqual(imageNet.ScoreKey(), clipMean.ScoreKey());
        Assert.NotEqual(imageNet.ScoreKey(), clipStd.ScoreKey());
        Assert.NotEqual(clipMean.ScoreKey(), clipStd.ScoreKey());
        Assert.NotEqual(clipMean.ScoreKey(), (clipMean with { EmbeddingMean = [0.48145466f, 0.4578275f, 0.41f] }).ScoreKey());
        // ImageNet's statistics written out are the default: same key as leaving them out (scans before these options)
        Assert.Equal(imageNet.ScoreKey(), (imageNet with { EmbeddingMean = [0.485f, 0.456f, 0.406f], EmbeddingStd = [0.229f, 0.224f, 0.225f] }).ScoreKey());

        void Rejected(IipOptions options, string expected) =>
            Assert.Contains(expected, Assert.Throws<ArgumentException>(options.Validate).Message);
        Rejected(imageNet with { EmbeddingMean = [0.5f, 0.5f] }, "embedding mean needs 3 values");
        Rejected(imageNet with { EmbeddingMean = [0.5f, float.NaN, 0.5f] }, "embedding mean values must be finite");
        Rejected(imageNet with { EmbeddingStd = [0.2f, 0.2f, 0.2f, 0.2f] }, "embedding std needs 3 values");
        Rejected(imageNet with { EmbeddingStd = [0.2f, 0f, 0.2f] }, "embedding std values must be positive");
        Rejected(imageNet with { EmbeddingStd = [0.2f, -0.1f, 0.2f] }, "embedding std values must be positive");
        Rejected(imageNet with { EmbeddingStd = [0.2f, float.PositiveInfinity, 0.2f] }, "embedding std values must be finite");
        Rejected(new IipOptions { EmbeddingMean = [0.5f, 0.5f, 0.5f] }, "only used by the onnx-embedding similarity");
        Rejected(new IipOptions { Similarity = SimilarityKind.PixelSsim, EmbeddingStd = [0.2f, 0.2f, 0.2f] }, "only used by the onnx-embedding similarity");
    }
}

/// <summary>IipDetector with the onnx-embedding similarity on the trained testbed model (fast options).</summary>
[Collection(TestbedModelCollection.Name)]
public class OnnxEmbeddingDetectorTests(TestbedModelFixture testbed)
{
    [Fact]
    public void Detector_similarity_is_the_cosine_of_the_embeddings_of_input_and_decoded_regeneration()
    {
        var model = testbed.Model;
        var options = new IipOptions
        {
            InversionSteps = 4, MtcnpSteps = 2, PerturbationIterations = 1, PerturbationNoiseLatents = 1,
            Similarity = SimilarityKind.OnnxEmbedding,
            EmbeddingModelPath = OnnxImageEmbedderTests.WriteModel(TinyOnnxModel.MeanEmbedder(32, 32)),
        };
        options.Validate();
        var empty = model.Backend.ToHost(testbed.Empty);
        var perturbation = model.Backend.ToHost(model.EncodePrompts(["ata"]));   // the unoptimized start embedding: enough here
        var detector = new IipDetector(model, options, empty, perturbation);
        Assert.NotNull(detector.Embedder);
        var image = BaselineTestData.Pattern(model.NativeImageSize);
        var score = detector.Score(image);

        // independently: the same inversion and regeneration, decoded, embedded, cosine in double
        var z0 = model.Backend.ToHost(model.EncodeImage(image));
        var inverted = model.Sampler.Invert(z0, options.InversionSteps, options.GridSteps, empty);
        var decoded = model.DecodeLatent(detector.Regenerate(inverted, out _));
        var a = detector.Embedder!.Embed(image); var b = detector.Embedder.Embed(decoded);
        double cosine = a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(y => (double)y * y));
        // the CPU pipeline is deterministic: only the summation order of the cosine differs
        Assert.True(Math.Abs(cosine - score.Similarity) <= 1e-12, $"similarity {score.Similarity:R} vs independent cosine {cosine:R}");
        Assert.Equal(1 - score.Similarity, score.Discrepancy, 15);
        Assert.True(score.Similarity < 1 && score.Similarity > -1, $"similarity {score.Similarity}");
        Assert.True(double.IsFinite(score.Score));
    }

    [Fact]
    public void Detector_and_session_embedders_use_the_options_normalization()
    {
        var model = testbed.Model;
        var options = new IipOptions
        {
            InversionSteps = 4, MtcnpSteps = 2, PerturbationIterations = 0, PerturbationNoiseLatents = 1,
            Similarity = SimilarityKind.OnnxEmbedding,
            EmbeddingModelPath = OnnxImageEmbedderTests.WriteModel(TinyOnnxModel.MeanEmbedder(32, 32)),
            EmbeddingMean = [0.48145466f, 0.4578275f, 0.40821073f],
            EmbeddingStd = [0.26862954f, 0.26130258f, 0.27577711f],
        };
        var empty = model.Backend.ToHost(testbed.Empty);
        var image = BaselineTestData.Pattern(model.NativeImageSize);
        using var reference = new OnnxImageEmbedder(options.EmbeddingModelPath, options.EmbeddingMean, options.EmbeddingStd);

        var detector = new IipDetector(model, options, empty, empty);
        Assert.Equal(reference.Embed(image), detector.Embedder!.Embed(image));

        var session = new IipSession(model, options, "0123456789abcdef0123456789abcdef", null, emptyEmbedding: empty);
        Assert.Equal(reference.Embed(image), session.CreateDetector().Embedder!.Embed(image));
        // another normalization on the same model file gets its own embedder, not the shared one
        var imageNetDetector = session.CreateDetector(options with { EmbeddingMean = null, EmbeddingStd = null });
        Assert.Equal(OnnxImageEmbedder.ImageNetMean, imageNetDetector.Embedder!.Mean);
        Assert.NotEqual(reference.Embed(image), imageNetDetector.Embedder.Embed(image));

        // an embedder passed in must be the one the options describe
        var e = Assert.Throws<ArgumentException>(() => new IipDetector(model, options with { EmbeddingStd = null }, empty, empty, reference));
        Assert.Contains("not the one the options describe", e.Message);
    }

    [Fact]
    public void Detector_with_a_missing_embedding_model_names_it()
    {
        string missing = Path.Combine(TestPaths.NewTempDir("onnx-missing"), "absent.onnx");
        var options = new IipOptions { Similarity = SimilarityKind.OnnxEmbedding, EmbeddingModelPath = missing };
        var e = Assert.Throws<FileNotFoundException>(() => new IipDetector(testbed.Model, options, testbed.Empty, testbed.Empty));
        Assert.Contains(missing, e.Message);
    }
}
