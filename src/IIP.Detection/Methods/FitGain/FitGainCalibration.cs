using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using IIP.Detection.Files;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.FitGain;

/// <summary>
/// The fit gain's centre and scale for `iip-fit`: its robust z statistics (median, 1.4826 MAD) over non-memorized images,
/// the ones IIP's scales come from. Measured on testbed-v2: the calibration images' median fit gain is 0.197, the
/// held-out images' 0.216 (docs/detection.md). The values are cached beside the calibration as
/// fitgain-{model}-{key}.json, key = the fit options and the images' paths and sizes.
/// </summary>
public static class FitGainCalibration
{
    public static ComponentScale Compute(FitGainMethod fit, IReadOnlyList<string> images, Func<string, Tensor> load, string modelFingerprint,
        string? cacheDirectory, IProgress<string>? log = null)
    {
        if (images.Count < 2) throw new InvalidOperationException($"iip-fit: {images.Count} images to scale the fit gain on; at least 2 are needed");
        string key = Key(fit, images);
        string? path = cacheDirectory is null ? null : Path.Combine(cacheDirectory, $"fitgain-{modelFingerprint[..16]}-{key}.json");
        double[] values;
        using var held = path is null ? null : CacheLock.Wait(path, log);   // the tasks of a sharded scan compute it once
        if (path is not null && File.Exists(path))
        {
            values = JsonSerializer.Deserialize<double[]>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty");
            log?.Report($"fit gain scale: cached {path} ({values.Length} images)");
        }
        else
        {
            values = new double[images.Count];
            for (int i = 0; i < images.Count; i++)
            {
                values[i] = fit.Score(new ScanInput(images[i], load(images[i]), null))[0].Score;
                log?.Report($"fit gain scale: {i + 1}/{images.Count} images");
            }
            if (path is not null)
            {
                Directory.CreateDirectory(cacheDirectory!);
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(values));
            }
        }
        var scale = ComponentScale.From(values, ScaleStatistic.RobustZ, "fit gain");
        log?.Report(FormattableString.Invariant($"fit gain scale (robust z, {values.Length} images): (x - {scale.Center:G5}) / {scale.Scale:G5}"));
        return scale;
    }

    private static string Key(FitGainMethod fit, IReadOnlyList<string> images)
    {
        var text = new StringBuilder(fit.OptionsKey);
        foreach (string image in images)
            text.Append(';').Append(Path.GetFullPath(image)).Append(':').Append(new FileInfo(image).Length.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}
