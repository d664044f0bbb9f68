using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;
using IIP.Engine.Imaging;
using IIP.Engine.Weights;

namespace IIP.Fuzz;

/// <summary>
/// The fuzz targets: each feeds one input (the fuzzer's bytes) to one parser the way a user's file reaches it, and
/// swallows the parser's deliberate, named error for bad input. Any other exception escapes: that is a crash, a parser
/// that failed with a trace instead of a message. Shared, as source, by the AFL driver (tests/fuzz/IIP.Fuzz) and by
/// the plain regression tests (IIP.Detection.Tests, Fuzz/FuzzCorpusTests), which run every corpus and regression file.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Tensors up to this many elements are also converted, so the mapped-file bounds are exercised too.</summary>
    private const long MaxLoadedElements = 1 << 20;

    /// <summary>Target names, as the folders of tests/fuzz/corpus and tests/fuzz/regressions are named.</summary>
    public static IReadOnlyList<string> Names { get; } = ["safetensors", "iipw", "image", "manifest", "results", "labels"];

    /// <summary>The exception type a target's parser throws for bad input, by design; anything else is a crash.</summary>
    public static Type ExpectedError(string target) => target switch
    {
        "safetensors" or "iipw" => typeof(WeightException),
        "image" => typeof(ImageLoadException),
        "manifest" => typeof(InvalidDataException),
        "results" => typeof(ResultsFormatException),
        "labels" => typeof(FormatException),
        _ => throw new ArgumentException($"unknown fuzz target '{target}' (targets: {string.Join(", ", Names)})", nameof(target)),
    };

    /// <summary>
    /// Runs <paramref name="target"/> on <paramref name="input"/>; returns the named errors' messages (empty when every
    /// variant of the input was accepted). An error counts as named when it is the target's
    /// <see cref="ExpectedError"/> and its message names the input file; any other exception escapes.
    /// </summary>
    public static IReadOnlyList<string> Run(string target, byte[] input)
    {
        var expected = ExpectedError(target);
        var errors = new List<string>();
        switch (target)
        {
            case "safetensors":
                Expect(expected, "input.safetensors", errors, file => Safetensors(Scratch(file, input)));
                break;
            case "iipw":
                Expect(expected, "input.iipw", errors, file => Packed(Scratch(file, input)));
                break;
            case "image":
                Expect(expected, "fuzz-input.png", errors, name => ImageFile.Decode(input, name));
                break;
            case "manifest":
                // the same bytes as a JSONL manifest, a JSON manifest and a plain list file
                foreach (var name in new[] { "manifest.jsonl", "manifest.json", "list.txt" })
                    Expect(expected, name, errors, file => Touch(ScanSource.Read(Scratch(file, input))));
                break;
            case "results":
                Expect(expected, "results.jsonl", errors, file => ResultsReader.Read(Scratch(file, input)));
                break;
            case "labels":
                // the same bytes as CSV, as JSONL, and under an extension that says nothing (the format is sniffed)
                foreach (var name in new[] { "labels.csv", "labels.jsonl", "labels.txt" })
                    Expect(expected, name, errors, file => _ = LabelSet.Load(Scratch(file, input)).Positives);
                break;
        }
        return errors;
    }

    private static void Expect(Type expected, string fileName, List<string> errors, Action<string> action)
    {
        try
        {
            action(fileName);
        }
        catch (Exception e) when (expected.IsInstanceOfType(e) && e.Message.Contains(fileName, StringComparison.Ordinal))
        {
            errors.Add(e.Message);
        }
    }

    private static void Safetensors(string path)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var name in file.Names)
        {
            var info = file.Info(name);
            if (!WeightDTypes.IsFloat(info.DType))
                _ = file.RawBytes(name).Length;
            else if (ElementCount(info.Shape) <= MaxLoadedElements)
                file.Load(name);
        }
    }

    private static void Packed(string path)
    {
        var contents = PackedWeightsFile.Read(path);
        using (contents.File)
        {
            foreach (var part in contents.Parts)
                foreach (var name in part.Names)
                    if (ElementCount(part.Info(name).Shape) <= MaxLoadedElements)
                        part.Load(name);
        }
    }

    private static void Touch(IReadOnlyList<ScanItem> items)
    {
        foreach (var item in items)
            _ = item.FullPath.Length + (item.Unsupported?.Length ?? 0) + (item.Caption?.Length ?? 0);
    }

    /// <summary>The element count, saturating at <see cref="long.MaxValue"/>.</summary>
    private static long ElementCount(int[] shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d != 0 && count > long.MaxValue / d) return long.MaxValue;
            count *= d;
        }
        return count;
    }

    /// <summary>
    /// Writes the input to a file of this thread's scratch folder (reused by every run on the thread); returns its path.
    /// One folder per thread, not per process: the tests run targets on several threads at once, and two runs writing the
    /// same input.iipw read each other's bytes (CI saw "truncated packed weights" for an invalid-UTF-8 header that way).
    /// </summary>
    private static string Scratch(string name, byte[] input)
    {
        string path = Path.Combine(ScratchFolder.Value!, name);
        File.WriteAllBytes(path, input);
        return path;
    }

    private static readonly ThreadLocal<string> ScratchFolder = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), $"iip-fuzz-{Environment.ProcessId}", $"thread-{Environment.CurrentManagedThreadId}");
        Directory.CreateDirectory(folder);
        return folder;
    });
}
