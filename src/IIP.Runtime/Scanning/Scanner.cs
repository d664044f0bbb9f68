using System.Diagnostics;
using IIP.Runtime.Detection;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Scanning;

/// <summary>Where a scan stands, reported after each image.</summary>
public sealed record ScanProgress(int Done, int Total, int Skipped, int Failed, TimeSpan Elapsed, string LastImage);

/// <summary>What a scan did: images seen, (image, method) records written, skipped as already done, and failed.</summary>
public sealed record ScanSummary(int Images, int Written, int Skipped, int Failed, TimeSpan Elapsed);

/// <summary>
/// Runs detection methods over images and appends one record per (image, method) as soon as it is known, so a
/// killed scan loses nothing already written and a rerun skips it (<see cref="ResumeSet"/>). A bad image or a
/// failing method becomes a record with its error; the scan goes on.
/// </summary>
public sealed class Scanner(IReadOnlyList<IDetectionMethod> methods, Func<string, Tensor> loadImage, long? seed)
{
    public ScanSummary Run(IReadOnlyList<ScanItem> items, ResultsWriter writer, ResumeSet done,
        IProgress<ScanProgress>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        int written = 0, skipped = 0, failed = 0, index = 0;
        foreach (var item in items)
        {
            cancel.ThrowIfCancellationRequested();
            index++;
            var pending = methods.Where(m => m.Methods.Any(name => !done.IsDone(item.Image, name, m.OptionsKey))).ToList();
            if (pending.Count == 0)
            {
                skipped++;
                progress?.Report(new ScanProgress(index, items.Count, skipped, failed, clock.Elapsed, item.Image));
                continue;
            }

            var loadClock = Stopwatch.StartNew();
            string sha = "";
            Tensor? image = null;
            string? loadError = null;
            try
            {
                sha = ScanHashes.Sha256OfFile(item.FullPath);
                image = loadImage(item.FullPath);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                loadError = e.Message;
            }
            double loadSeconds = loadClock.Elapsed.TotalSeconds;

            foreach (var method in pending)
            {
                var methodClock = Stopwatch.StartNew();
                IReadOnlyList<MethodResult>? results = null;
                string? error = loadError;
                if (error is null && method.NeedsCaption && item.Caption is null)
                    error = $"{string.Join("/", method.Methods)} needs the image's caption (give a manifest with a \"caption\" field)";
                if (error is null)
                {
                    try
                    {
                        results = method.Score(new ScanInput(item.Image, image!, item.Caption));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        error = $"{e.GetType().Name}: {e.Message}";
                    }
                }
                double seconds = methodClock.Elapsed.TotalSeconds + loadSeconds;
                foreach (var name in method.Methods.Where(name => !done.IsDone(item.Image, name, method.OptionsKey)))
                {
                    var result = results?.First(r => r.Method == name);
                    var record = new ScanRecord
                    {
                        Image = item.Image,
                        Sha256 = sha,
                        Method = name,
                        Score = result?.Score,
                        Components = result?.Components ?? new Dictionary<string, double>(),
                        Tcnp = result?.Tcnp,
                        Seconds = seconds,
                        Error = error,
                        Seed = seed,
                        Options = method.OptionsKey,
                    };
                    writer.Append(record);
                    done.Add(record);
                    written++;
                    if (error is not null) failed++;
                }
            }
            progress?.Report(new ScanProgress(index, items.Count, skipped, failed, clock.Elapsed, item.Image));
        }
        return new ScanSummary(items.Count, written, skipped, failed, clock.Elapsed);
    }
}
