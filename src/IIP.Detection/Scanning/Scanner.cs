using System.Diagnostics;
using IIP.Detection.Methods;
using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Detection.Scanning;

/// <summary>Where a scan stands, reported after each image.</summary>
public sealed record ScanProgress(int Done, int Total, int Skipped, int Failed, TimeSpan Elapsed, string LastImage);

/// <summary>What a scan did: images seen, (image, method) records written, skipped as already done, and failed.</summary>
public sealed record ScanSummary(int Images, int Written, int Skipped, int Failed, TimeSpan Elapsed);

/// <summary>
/// Runs detection methods over images and appends one record per (image, method) as soon as it is known, so a
/// killed scan loses nothing already written and a rerun skips it (<see cref="ResumeSet"/>). A bad image or a
/// failing method becomes a record with its error; the scan goes on. With <c>batchSize</c> > 1, up to that many images
/// are loaded together and methods that can (<see cref="IBatchDetectionMethod"/>) score them in one batched pass (for
/// GPU throughput); a batch that fails is scored again image by image, so an error stays with its image. The next batch's
/// images are decoded on a pool thread while the current one is scored. A killed
/// batched scan loses at most the batch in progress. A failure of the device itself (<see cref="DeviceFailure"/> when
/// one image is scored: out of memory, a lost context) is no fault of the image and would fail every image after it:
/// the scan stops with a <see cref="ScanDeviceException"/>, keeping what it wrote, so a rerun resumes there.
/// Each image is hashed before it is looked up, so a record is reused only for the same file contents (see
/// <see cref="ResumeSet"/>); records carry the image's absolute path and <paramref name="modelFingerprint"/>. A score that is
/// not finite is recorded as an error, not as a NaN score.
/// </summary>
public sealed class Scanner(IReadOnlyList<IDetectionMethod> methods, Func<string, Tensor> loadImage, long? seed, int batchSize = 1,
    string? modelFingerprint = null, string? device = null)
{
    // one image of the batch in progress: what is still to do for it, and the loaded pixels or why there are none
    private sealed class Entry(ScanItem item, List<IDetectionMethod> pending)
    {
        public ScanItem Item => item;
        public List<IDetectionMethod> Pending => pending;
        public string Sha256 { get; set; } = "";
        public Tensor? Image { get; set; }
        public string? LoadError { get; set; }
        public double LoadSeconds { get; set; }
    }

    public ScanSummary Run(IReadOnlyList<ScanItem> items, ResultsWriter writer, ResumeSet done,
        IProgress<ScanProgress>? progress = null, CancellationToken cancel = default)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "the batch size must be at least 1");
        var clock = Stopwatch.StartNew();
        int written = 0, skipped = 0, failed = 0, index = 0;

        // Whether the results hold this method's record of the image as it is now: its bytes, and for a caption-conditioned
        // method its caption ("" when it has none)
        bool Done(ScanItem item, string sha, IDetectionMethod method, string name) =>
            done.IsDone(item.Image, name, method.OptionsKey, item.FullPath, sha, method.NeedsCaption ? ScanRecord.CaptionSha256Of(item.Caption) ?? "" : null);

        // The images of batch `first` that still need a method (hashed and looked up here, on the scan's thread); the
        // others are reported as done.
        List<Entry> Pending(int first)
        {
            var entries = new List<Entry>();
            for (int i = first; i < Math.Min(items.Count, first + batchSize); i++)   // by index: Skip would rescan from the start
            {
                var item = items[i];
                string sha = Hash(item.FullPath);
                var pending = methods.Where(m => m.Methods.Any(name => !Done(item, sha, m, name))).ToList();
                if (pending.Count > 0)
                {
                    entries.Add(new Entry(item, pending) { Sha256 = sha });
                    continue;
                }
                skipped++;
                progress?.Report(new ScanProgress(++index, items.Count, skipped, failed, clock.Elapsed, item.Image));
            }
            return entries;
        }

        // Decoding and resizing run on a pool thread, one batch ahead of the scoring (the loader is a pure function of the
        // path), so the next images are ready when the device finishes the current ones.
        Task<List<Entry>> LoadAhead(List<Entry> entries) => Task.Run(() => entries.Select(Load).ToList());

        var loading = LoadAhead(Pending(0));
        for (int first = 0; first < items.Count; first += batchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var batch = loading.GetAwaiter().GetResult();
            if (first + batchSize < items.Count) loading = LoadAhead(Pending(first + batchSize));

            foreach (var method in methods)
            {
                var entries = batch.Where(e => e.Pending.Contains(method)).ToList();
                var (results, errors, seconds, deviceFailure) = ScoreAll(method, entries);
                for (int i = 0; i < entries.Count; i++)
                {
                    var entry = entries[i];
                    if (results[i] is null && errors[i] is null) continue;   // not reached: the device failed before it
                    foreach (var name in method.Methods.Where(name => !Done(entry.Item, entry.Sha256, method, name)))
                    {
                        var result = results[i]?.First(r => r.Method == name);
                        string? error = errors[i] ?? (result is { Score: var score } && !double.IsFinite(score) ? NonFiniteError(name, score, result.Components) : null);
                        var record = new ScanRecord
                        {
                            Image = entry.Item.Image,
                            Path = entry.Item.FullPath,
                            Model = modelFingerprint,
                            Device = device,
                            Sha256 = entry.Sha256,
                            Method = name,
                            Score = error is null ? result?.Score : null,
                            Components = result?.Components ?? new Dictionary<string, double>(),
                            Tcnp = result?.Tcnp,
                            Seconds = seconds[i] + entry.LoadSeconds,
                            Error = error,
                            Seed = seed,
                            Options = method.OptionsKey,
                            CaptionSha256 = method.NeedsCaption ? ScanRecord.CaptionSha256Of(entry.Item.Caption) : null,
                        };
                        writer.Append(record);
                        done.Add(record);
                        written++;
                        if (error is not null) failed++;
                    }
                }
                if (deviceFailure is not null) throw deviceFailure;
            }
            foreach (var entry in batch)
                progress?.Report(new ScanProgress(++index, items.Count, skipped, failed, clock.Elapsed, entry.Item.Image));
        }
        return new ScanSummary(items.Count, written, skipped, failed, clock.Elapsed);
    }

    // the file's SHA-256, or "" when it cannot be read (its load then fails and records why)
    private static string Hash(string path)
    {
        try
        {
            return ScanContent.Sha256(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    // what a record says instead of a score that is not a number: the score and the components that are not finite
    private static string NonFiniteError(string method, double score, IReadOnlyDictionary<string, double> components)
    {
        var bad = components.Where(c => !double.IsFinite(c.Value)).Select(c => FormattableString.Invariant($"{c.Key} = {c.Value}")).ToList();
        return FormattableString.Invariant($"{method}: the score is {score}, not a finite number") + (bad.Count > 0 ? $" ({string.Join(", ", bad)})" : "") +
               ": the model produced non-finite values for this image";
    }

    private Entry Load(Entry entry)
    {
        if (entry.Item.Unsupported is { } reason)   // a format the decoder cannot read: recorded, never silently dropped
        {
            entry.LoadError = $"{entry.Item.FullPath}: {reason}";
            return entry;
        }
        var loadClock = Stopwatch.StartNew();
        try
        {
            entry.Image = loadImage(entry.Item.FullPath);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            entry.LoadError = e.Message;
        }
        entry.LoadSeconds = loadClock.Elapsed.TotalSeconds;
        return entry;
    }

    // One method over the entries that need it: results or the error per entry, and the seconds spent per entry
    // (a batch's time is shared evenly by its images). A device failure on one image ends it: the entries after that
    // image have neither results nor errors, and the failure is returned for the caller to throw once it has written
    // the records of the entries before.
    private (IReadOnlyList<MethodResult>?[] Results, string?[] Errors, double[] Seconds, ScanDeviceException? DeviceFailure)
        ScoreAll(IDetectionMethod method, List<Entry> entries)
    {
        var results = new IReadOnlyList<MethodResult>?[entries.Count];
        var errors = new string?[entries.Count];
        var seconds = new double[entries.Count];
        var ready = new List<int>();
        for (int i = 0; i < entries.Count; i++)
        {
            errors[i] = entries[i].LoadError;
            if (errors[i] is null && method.NeedsCaption && entries[i].Item.Caption is null)
                errors[i] = $"{string.Join("/", method.Methods)} needs the image's caption (give a manifest with a \"caption\" field)";
            if (errors[i] is null) ready.Add(i);
        }
        if (ready.Count > 1 && method is IBatchDetectionMethod batched)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var scored = batched.ScoreBatch(ready.Select(i => Input(entries[i])).ToList());
                double share = clock.Elapsed.TotalSeconds / ready.Count;
                for (int j = 0; j < ready.Count; j++)
                {
                    results[ready[j]] = scored[j];
                    seconds[ready[j]] = share;
                }
                return (results, errors, seconds, null);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // score them one by one below, so the failure lands on the image that causes it
            }
        }
        foreach (int i in ready)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                results[i] = method.Score(Input(entries[i]));
            }
            catch (Exception e) when (DeviceFailure.Is(e))
            {
                return (results, errors, seconds, new ScanDeviceException(entries[i].Item.Image, string.Join("/", method.Methods), e));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                errors[i] = $"{e.GetType().Name}: {e.Message}";
            }
            seconds[i] = clock.Elapsed.TotalSeconds;
        }
        return (results, errors, seconds, null);
    }

    private static ScanInput Input(Entry entry) => new(entry.Item.Image, entry.Image!, entry.Item.Caption);
}
