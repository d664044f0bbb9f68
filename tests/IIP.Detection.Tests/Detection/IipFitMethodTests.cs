using IIP.Detection.Methods;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Tests.Detection.Baselines;
using IIP.Engine.Imaging;

namespace IIP.Detection.Tests.Detection;

/// <summary>
/// `iip-fit` on the v1 testbed's model with short settings: its score is IIP's plus the fit gain's z-score on the scale the
/// calibration images give, it emits IIP's and the fit gain's own results from the same pass, and the scale is cached.
/// </summary>
[Collection(TestbedModelCollection.Name)]
public class IipFitMethodTests(TestbedModelFixture testbed)
{
    private static readonly IipOptions Fast = new() { InversionSteps = 3, MtcnpSteps = 2, PerturbationIterations = 0, PerturbationNoiseLatents = 1, CalibrationImages = 3 };
    private static readonly FitGainOptions ShortFit = new() { Timesteps = [300], Iterations = 2 };
    private const string Fingerprint = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void TheScoreIsIipsPlusTheFitGainsZScoreOnTheCalibrationImagesScale()
    {
        var model = testbed.Model;
        string cache = TestPaths.NewTempDir("iip-fit-cache");
        var session = new IipSession(model, Fast, Fingerprint, cache, emptyEmbedding: model.Backend.ToHost(testbed.Empty));
        var (options, _) = session.WithCalibratedScales();
        var fit = new FitGainMethod(model, ShortFit, testbed.Empty);
        var images = Directory.GetFiles(IipCalibration.ImageFolder(cache, Fingerprint, options), "*.png").Order().ToList();
        Assert.Equal(3, images.Count);
        var load = (string path) => ImageTensors.ToTensor(ImageFile.Load(path));
        var log = new List<string>();
        var scale = FitGainCalibration.Compute(fit, images, load, Fingerprint, cache, new SyncLog(log));
        var gains = images.Select(i => fit.Score(new ScanInput(i, load(i), null))[0].Score).ToList();
        Assert.Equal(ComponentScale.From(gains, ScaleStatistic.RobustZ, "fit gain"), scale);
        Assert.Single(Directory.GetFiles(cache, "fitgain-*.json"));
        Assert.Equal(scale, FitGainCalibration.Compute(fit, images, _ => throw new InvalidOperationException("not cached"), Fingerprint, cache));

        var method = new IipFitMethod(session.CreateDetector(options), fit, scale, [IipMethod.Combined, FitGainMethod.Name, IipFitMethod.Name]);
        string heldout = Path.Combine(TestPaths.Testbed, "heldout", "000000.png");
        var input = new ScanInput(heldout, load(heldout), null);
        var results = method.Score(input);
        Assert.Equal([IipMethod.Combined, FitGainMethod.Name, IipFitMethod.Name], results.Select(r => r.Method).ToArray());
        var (iip, gain, combined) = (results[0], results[1], results[2]);
        // the same image through IIP's own method and the fit gain's: the shared pass gives their scores
        Assert.Equal(new IipMethod(session.CreateDetector(options), [IipMethod.Combined]).Score(input)[0].Score, iip.Score, 10);
        Assert.Equal(fit.Score(input)[0].Score, gain.Score, 10);
        Assert.Equal(iip.Score + (gain.Score - scale.Center) / scale.Scale, combined.Score, 10);
        Assert.Equal(gain.Score, combined.Components["fit_gain"]);
        Assert.NotEqual(method.OptionsKey, new IipFitMethod(session.CreateDetector(options), fit, scale with { Scale = scale.Scale * 2 }, [IipFitMethod.Name]).OptionsKey);
        Assert.Throws<ArgumentException>(() => new IipFitMethod(session.CreateDetector(options), fit, scale, ["pia"]));
    }

    private sealed class SyncLog(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
