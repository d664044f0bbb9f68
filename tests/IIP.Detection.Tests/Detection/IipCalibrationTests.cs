using IIP.Detection.Methods;
using IIP.Engine.Imaging;
using IIP.Detection.Tests.Detection.Baselines;

namespace IIP.Detection.Tests.Detection;

/// <summary>The self-calibration: scales from images the model generates, cached beside the perturbation embedding.</summary>
[Collection(TestbedModelCollection.Name)]
public class IipCalibrationTests(TestbedModelFixture testbed)
{
    private static readonly IipOptions Fast = new() { InversionSteps = 3, MtcnpSteps = 2, PerturbationIterations = 0, PerturbationNoiseLatents = 1, CalibrationImages = 3 };
    private const string Fingerprint = "0123456789abcdef0123456789abcdef";

    private static IipScore Score(double mtcnp, double discrepancy, params double[] tcnp) => new(0, mtcnp, 1 - discrepancy, discrepancy, tcnp, 0);

    [Fact]
    public void Scales_follow_the_statistic_and_the_band_is_the_percentiles_per_step()
    {
        var scores = new[]
        {
            Score(1.0, 0.30, 1, 10), Score(3.0, 0.10, 2, 20), Score(2.0, 0.20, 3, 30), Score(5.0, 0.50, 4, 40), Score(4.0, 0.60, 5, 50),
        };
        var result = IipCalibration.FromScores(scores, "key");
        var (e, d) = result.Scales(ScaleStatistic.Median, DiscrepancyTransform.Linear);
        Assert.Equal(new ComponentScale(0, 3.0), e);
        Assert.Equal(0.30, d.Scale, 15);
        // robust z: centre = median; scale = 1.4826 x median |x - median|: MTCNP |1..5 - 3| = 2,0,1,2,1 -> 1;
        // discrepancy |.3 .1 .2 .5 .6 - .3| = 0, .2, .1, .2, .3 -> 0.2
        (e, d) = result.Scales(ScaleStatistic.RobustZ, DiscrepancyTransform.Linear);
        Assert.Equal(3.0, e.Center);
        Assert.Equal(ComponentScale.MadToSigma, e.Scale, 15);
        Assert.Equal(0.30, d.Center, 15);
        Assert.Equal(0.2 * ComponentScale.MadToSigma, d.Scale, 12);
        Assert.Equal(2.0, e.Apply(3.0 + 2 * ComponentScale.MadToSigma), 12);
        Assert.Equal(2, result.TcnpBand.Length);
        // numpy.percentile(linear) of [1..5]: p5 = 1.2, p50 = 3, p95 = 4.8; of [10..50]: 12, 30, 48
        Assert.Equal([1.2, 3.0, 4.8], result.TcnpBand[0].Select(v => Math.Round(v, 12)));
        Assert.Equal([12.0, 30.0, 48.0], result.TcnpBand[1].Select(v => Math.Round(v, 12)));
    }

    [Fact]
    public void A_non_finite_or_zero_component_cannot_become_a_scale()
    {
        var nan = Assert.Throws<InvalidOperationException>(() => IipCalibration.FromScores([Score(double.NaN, 0.1, 1)], "key"));
        Assert.Contains("non-finite", nan.Message);
        var zero = Assert.Throws<InvalidOperationException>(() => IipCalibration.FromScores([Score(1, 0, 1), Score(2, 0, 1)], "key"));
        Assert.Contains("not positive", zero.Message);
        // every image alike: no spread, so no robust scale
        var flat = Assert.Throws<InvalidOperationException>(() => IipCalibration.FromScores([Score(1, 0.1, 1), Score(1, 0.2, 1), Score(1, 0.3, 1)], "key"));
        Assert.Contains("MTCNP scale (RobustZ)", flat.Message);
        // the log transform's robust scale: ln of 0.1, 0.2, 0.4 -> median ln 0.2, MAD ln 2
        var logs = IipCalibration.FromScores([Score(1, 0.1, 1), Score(2, 0.2, 1), Score(4, 0.4, 1)], "key").Scales(ScaleStatistic.RobustZ, DiscrepancyTransform.Log);
        Assert.Equal(Math.Log(0.2), logs.Discrepancy.Center, 12);
        Assert.Equal(ComponentScale.MadToSigma * Math.Log(2), logs.Discrepancy.Scale, 12);
    }

    [Fact]
    public void Generates_scores_and_caches_per_model_and_options()
    {
        var model = testbed.Model;
        string cache = TestPaths.NewTempDir("calibration-cache");
        var session = new IipSession(model, Fast, Fingerprint, cache, emptyEmbedding: model.Backend.ToHost(testbed.Empty));

        var (options, first) = session.WithCalibratedScales();
        Assert.False(first.FromCache);
        Assert.Equal(3, first.Mtcnp.Length);
        // the default statistic: robust z-scores of the calibration images' MTCNP and ln discrepancy
        Assert.Equal(IipSession.Median(first.Mtcnp), options.CenterE);
        Assert.Equal(first.Scales(ScaleStatistic.RobustZ, DiscrepancyTransform.Log).Mtcnp.Scale, options.ScaleE);
        Assert.Equal(Math.Log(IipSession.Median(first.Discrepancy)), options.CenterD, 12);   // 3 images: the median of the logs is the log of the median
        Assert.Equal(first.Scales(ScaleStatistic.RobustZ, DiscrepancyTransform.Log).Discrepancy.Scale, options.ScaleD);
        Assert.Equal(Fast.InversionSteps, first.TcnpBand.Length);
        Assert.All(first.TcnpBand, b => Assert.True(b[0] <= b[1] && b[1] <= b[2], string.Join(", ", b)));

        // the generated images are kept for an auditor, and scoring one again gives its recorded MTCNP
        string folder = Path.Combine(cache, $"calibration-{Fingerprint[..16]}-{IipCalibration.Key(Fast)}");
        var pngs = Directory.GetFiles(folder, "*.png").Order().ToArray();
        Assert.Equal(3, pngs.Length);
        var again = session.CreateDetector().Score(ImageTensors.ToTensor(ImageFile.Load(pngs[1])));
        // 1e-6 relative: the calibration scored the images as one batch, this image alone (batched products add in
        // another order; measured 2.2e-7)
        BaselineTestData.Close("MTCNP of a calibration image scored again", first.Mtcnp[1], again.Mtcnp, 1e-6);
        Assert.Empty(Directory.GetFiles(cache, "*.tmp"));

        var second = session.WithCalibratedScales().Calibration;
        Assert.True(second.FromCache);
        Assert.Equal(first.Mtcnp, second.Mtcnp);
        Assert.Equal(first.Discrepancy, second.Discrepancy);

        // an option that changes the scores gets its own entry; the weights, which the calibration does not use, do not
        Assert.NotEqual(IipCalibration.Key(Fast), IipCalibration.Key(Fast with { InversionSteps = 2, MtcnpSteps = 1 }));
        Assert.NotEqual(IipCalibration.Key(Fast), IipCalibration.Key(Fast with { CalibrationImages = 4 }));
        Assert.Equal(IipCalibration.Key(Fast), IipCalibration.Key(Fast with { LambdaD = 3, ScaleE = 7, ScaleStatistic = ScaleStatistic.Median }));

        // an ONNX embedding: its normalization and its file's contents (size, time) are part of the key, as of the score key
        string onnx = Path.Combine(cache, "embedder.onnx");
        File.WriteAllBytes(onnx, [1, 2, 3]);
        var embedding = Fast with { Similarity = SimilarityKind.OnnxEmbedding, EmbeddingModelPath = onnx };
        string before = IipCalibration.Key(embedding);
        Assert.NotEqual(before, IipCalibration.Key(embedding with { EmbeddingMean = [0.48145466f, 0.4578275f, 0.40821073f] }));
        File.WriteAllBytes(onnx, [1, 2, 3, 4]);   // replaced by another model
        Assert.NotEqual(before, IipCalibration.Key(embedding));
    }
}
