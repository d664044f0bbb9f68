using IIP.Detection.Methods;
using IIP.Detection.Scanning;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.Scanning;

/// <summary>Scanner with a batch size: which images a batching method sees together, bad images, failing batches, resume.</summary>
public sealed class ScannerBatchTests
{
    // Scores an image by its first pixel; records every ScoreBatch call; fails on images whose first pixel is negative.
    private sealed class PixelMethod(string name = "pixel") : IBatchDetectionMethod
    {
        public List<int> BatchSizes { get; } = [];
        public int SingleCalls { get; private set; }
        public IReadOnlyList<string> Methods => [name];
        public string OptionsKey => "k";
        public bool NeedsCaption => false;

        public IReadOnlyList<MethodResult> Score(ScanInput input)
        {
            SingleCalls++;
            return Result(input);
        }

        public IReadOnlyList<IReadOnlyList<MethodResult>> ScoreBatch(IReadOnlyList<ScanInput> inputs)
        {
            BatchSizes.Add(inputs.Count);
            return inputs.Select(Result).ToList();
        }

        private IReadOnlyList<MethodResult> Result(ScanInput input)
        {
            float v = input.Image.Data[0];
            if (v < 0) throw new InvalidOperationException($"negative pixel in {input.ImagePath}");
            return [new MethodResult(name, v, new Dictionary<string, double>())];
        }
    }

    private static (List<ScanItem> Items, Func<string, Tensor> Load) Images(string dir, params float[] values)
    {
        var items = new List<ScanItem>();
        for (int i = 0; i < values.Length; i++)
        {
            string path = Path.Combine(dir, $"{i}.png");
            File.WriteAllText(path, float.IsNaN(values[i]) ? "unreadable" : values[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
            items.Add(new ScanItem($"{i}.png", path, null));
        }
        return (items, path =>
        {
            string text = File.ReadAllText(path);
            if (text == "unreadable") throw new InvalidDataException($"{path}: not an image");
            return Tensor.From([float.Parse(text, System.Globalization.CultureInfo.InvariantCulture)], 1);
        });
    }

    private static List<ScanRecord> Run(Scanner scanner, IReadOnlyList<ScanItem> items, string results, ResumeSet? done = null)
    {
        using (var writer = ResultsWriter.Open(results)) scanner.Run(items, writer, done ?? new ResumeSet());
        return ResultsReader.Read(results).Records.ToList();
    }

    [Fact]
    public void ImagesAreScoredInBatchesAndABadImageKeepsItsError()
    {
        string dir = TestPaths.NewTempDir("scanner-batch");
        var (items, load) = Images(dir, 1, 2, float.NaN, 4, 5, 6, 7);
        var method = new PixelMethod();
        var records = Run(new Scanner([method], load, seed: null, batchSize: 3), items, Path.Combine(dir, "r.jsonl"));

        // batches [0, 1, 2], [3, 4, 5], [6]: the first scores 0 and 1 together (2 did not load), the last image alone
        Assert.Equal([2, 3], method.BatchSizes);
        Assert.Equal(1, method.SingleCalls);
        Assert.Equal(7, records.Count);
        Assert.Equal(["0.png", "1.png", "2.png", "3.png", "4.png", "5.png", "6.png"], records.Select(r => r.Image));
        Assert.Equal([1.0, 2.0, null, 4.0, 5.0, 6.0, 7.0], records.Select(r => r.Score));
        Assert.Contains("not an image", records[2].Error);
        Assert.All(records.Where(r => r.Error is null), r => Assert.True(r.Seconds >= 0));
    }

    [Fact]
    public void AFailingBatchIsScoredImageByImage()
    {
        string dir = TestPaths.NewTempDir("scanner-batch-fail");
        var (items, load) = Images(dir, 1, -2, 3, 4);
        var method = new PixelMethod();
        var records = Run(new Scanner([method], load, seed: null, batchSize: 4), items, Path.Combine(dir, "r.jsonl"));
        Assert.Equal([4], method.BatchSizes);   // tried once as a batch, which threw
        Assert.Equal(4, method.SingleCalls);    // then each image alone
        Assert.Equal([1.0, null, 3.0, 4.0], records.Select(r => r.Score));
        Assert.Contains("negative pixel in 1.png", records[1].Error);
        Assert.All(records.Where((_, i) => i != 1), r => Assert.Null(r.Error));
    }

    [Fact]
    public void ABatchedRerunScoresOnlyWhatIsNotDone()
    {
        string dir = TestPaths.NewTempDir("scanner-batch-resume");
        var (items, load) = Images(dir, 1, 2, 3, 4, 5);
        string results = Path.Combine(dir, "r.jsonl");
        Run(new Scanner([new PixelMethod()], load, seed: null, batchSize: 2), items.Take(3).ToList(), results);
        var method = new PixelMethod();
        var records = Run(new Scanner([method], load, seed: null, batchSize: 2), items, results, ResumeSet.Load(results));
        // batches [0, 1] (both done: nothing scored), [2, 3] (3 alone), [4] (alone)
        Assert.Empty(method.BatchSizes);
        Assert.Equal(2, method.SingleCalls);
        Assert.Equal(5, records.Count);
        Assert.Equal([1.0, 2.0, 3.0, 4.0, 5.0], records.Select(r => r.Score));
    }

    // PixelMethod's scores; the device "fails" (a CudaException: out of memory) when it scores the image named failOn, alone.
    private sealed class DeviceFailingMethod(string failOn) : IBatchDetectionMethod
    {
        public IReadOnlyList<string> Methods => ["pixel"];
        public string OptionsKey => "k";
        public bool NeedsCaption => false;

        public IReadOnlyList<MethodResult> Score(ScanInput input) =>
            input.ImagePath == failOn
                ? throw new IIP.Native.CudaException(IIP.Native.CudaResult.OutOfMemory, "cuMemAlloc_v2(1 bytes)")
                : [new MethodResult("pixel", input.Image.Data[0], new Dictionary<string, double>())];

        public IReadOnlyList<IReadOnlyList<MethodResult>> ScoreBatch(IReadOnlyList<ScanInput> inputs) =>
            inputs.Any(i => i.ImagePath == failOn)
                ? throw new IIP.Native.CudaException(IIP.Native.CudaResult.OutOfMemory, "cuMemAlloc_v2(3 bytes)")
                : inputs.Select(Score).ToList();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void ADeviceFailureStopsTheScanAndKeepsTheRecordsBeforeIt(int batchSize)
    {
        // Images 0 to 4, the device fails on 3.png: with batches of 3, [0, 1, 2] is written, [3, 4] fails as a batch and
        // then on 3.png alone. Nothing is recorded for 3.png or after it (no error record: the image is not at fault, and
        // a rerun must score it), and a rerun resumes there.
        string dir = TestPaths.NewTempDir($"scanner-device-{batchSize}");
        var (items, load) = Images(dir, 1, 2, 3, 4, 5);
        string results = Path.Combine(dir, "r.jsonl");
        var e = Assert.Throws<ScanDeviceException>(() => Run(new Scanner([new DeviceFailingMethod("3.png")], load, null, batchSize), items, results));
        Assert.Equal("3.png", e.Image);
        Assert.IsType<IIP.Native.CudaException>(e.InnerException);
        Assert.Contains("the GPU failed while pixel scored 3.png", e.Message);
        var records = ResultsReader.Read(results).Records;
        Assert.Equal(["0.png", "1.png", "2.png"], records.Select(r => r.Image));
        Assert.All(records, r => Assert.Null(r.Error));

        var rerun = Run(new Scanner([new PixelMethod()], load, null, batchSize), items, results, ResumeSet.Load(results));
        Assert.Equal([1.0, 2.0, 3.0, 4.0, 5.0], rerun.Select(r => r.Score));
    }

    [Fact]
    public void ADeviceFailureInsideABatchKeepsTheImagesScoredBeforeIt()
    {
        // One batch [0 .. 3] fails, image by image 0.png and 1.png are scored, 2.png fails: their records are written.
        string dir = TestPaths.NewTempDir("scanner-device-inside");
        var (items, load) = Images(dir, 1, 2, 3, 4);
        string results = Path.Combine(dir, "r.jsonl");
        Assert.Throws<ScanDeviceException>(() => Run(new Scanner([new DeviceFailingMethod("2.png")], load, null, 4), items, results));
        Assert.Equal([1.0, 2.0], ResultsReader.Read(results).Records.Select(r => r.Score));
    }

    [Fact]
    public void ABatchSizeBelowOneIsRefused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new Scanner([new PixelMethod()], _ => Tensor.Zeros(1), null, batchSize: 0).Run([], null!, new ResumeSet()));
        Assert.Contains("at least 1", e.Message);
    }

    // Waits in its scoring until the loader has been asked for the image after the one scored (or 10 s pass).
    private sealed class WaitsForTheNextLoad(HashSet<string> loaded, string[] order) : IDetectionMethod
    {
        public List<bool> NextWasLoading { get; } = [];
        public IReadOnlyList<string> Methods => ["waits"];
        public string OptionsKey => "k";
        public bool NeedsCaption => false;

        public IReadOnlyList<MethodResult> Score(ScanInput input)
        {
            int at = Array.IndexOf(order, Path.GetFileName(input.ImagePath));
            if (at + 1 < order.Length)
                NextWasLoading.Add(SpinWait.SpinUntil(() => { lock (loaded) return loaded.Contains(order[at + 1]); }, TimeSpan.FromSeconds(10)));
            return [new MethodResult("waits", at, new Dictionary<string, double>())];
        }
    }

    [Fact]
    public void TheNextImagesAreDecodedWhileTheCurrentOnesAreScored()
    {
        string dir = TestPaths.NewTempDir("scanner-load-ahead");
        var (items, load) = Images(dir, 1, 2, 3);
        var loaded = new HashSet<string>();
        var method = new WaitsForTheNextLoad(loaded, ["0.png", "1.png", "2.png"]);
        Tensor Recording(string path)
        {
            lock (loaded) loaded.Add(Path.GetFileName(path));
            return load(path);
        }

        var records = Run(new Scanner([method], Recording, seed: null), items, Path.Combine(dir, "r.jsonl"));

        // a scan that loaded each image only when its turn came would wait out the 10 s twice and record false
        Assert.Equal([true, true], method.NextWasLoading);
        Assert.Equal([0.0, 1.0, 2.0], records.Select(r => r.Score));
    }
}
