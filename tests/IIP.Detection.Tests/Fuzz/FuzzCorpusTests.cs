using IIP.Engine.Weights;
using IIP.Fuzz;

namespace IIP.Detection.Tests.Fuzz;

/// <summary>
/// Every seed (tests/fuzz/corpus/TARGET/) and every input a fuzzer once crashed a parser with (tests/fuzz/regressions/TARGET/)
/// through the fuzz targets, without AFL: a parser must accept each or fail with its named error that names the file
/// (<see cref="FuzzTargets.Run"/> lets anything else escape). The AFL++ run itself is tests/fuzz/run.sh.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static string FuzzFolder => Path.Combine(TestPaths.RepoRoot, "tests", "fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "corpus", "regressions" })
            foreach (var target in FuzzTargets.Names)
            {
                string folder = Path.Combine(FuzzFolder, kind, target);
                if (!Directory.Exists(folder)) continue;
                foreach (var file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
                    data.Add(target, Path.GetRelativePath(FuzzFolder, file));
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Each_input_is_accepted_or_gets_a_named_error(string target, string file)
    {
        await RunWithin(TimeSpan.FromSeconds(60), target, Path.Combine(FuzzFolder, file));
    }

    /// <summary>Runs one input through its target; an input still running after <paramref name="limit"/> fails the test (a hang) instead of stalling the run.</summary>
    internal static async Task<IReadOnlyList<string>> RunWithin(TimeSpan limit, string target, string path)
    {
        byte[] input = File.ReadAllBytes(path);
        var run = Task.Run(() => FuzzTargets.Run(target, input));
        var first = await Task.WhenAny(run, Task.Delay(limit));
        Assert.True(first == run, $"{path}: the {target} target still runs after {limit.TotalSeconds} s (a hang)");
        return await run;
    }

    [Fact]
    public void Every_target_has_seeds_and_the_valid_seeds_are_accepted()
    {
        foreach (var target in FuzzTargets.Names)
        {
            var seeds = Directory.GetFiles(Path.Combine(FuzzFolder, "corpus", target));
            Assert.True(seeds.Length >= 2, $"{target}: {seeds.Length} seeds");
            Assert.True(seeds.Sum(f => new FileInfo(f).Length) < 16 * 1024, $"{target}: the seed corpus should stay small");
        }
        // the seeds written as valid inputs parse without any error (near-valid ones, e.g. overlap.safetensors, may not)
        foreach (var (target, file) in new[]
                 {
                     ("safetensors", "valid.safetensors"), ("safetensors", "i64.safetensors"), ("iipw", "minimal.iipw"), ("iipw", "configs.iipw"),
                     ("image", "rgb.png"), ("image", "rgb.jpg"), ("image", "rgb.bmp"), ("image", "one.gif"), ("image", "rgb.tga"), ("image", "rgb.hdr"),
                     ("results", "records.jsonl"), ("results", "partial-tail.jsonl"),
                 })
            Assert.Empty(FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", target, file))));
        // a manifest or labels seed is valid in its own format; the same bytes as the other formats may be named errors
        Assert.DoesNotContain(FuzzTargets.Run("manifest", File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "manifest", "list.txt"))), e => e.Contains("list.txt"));
        Assert.DoesNotContain(FuzzTargets.Run("manifest", File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "manifest", "lines.jsonl"))), e => e.Contains("manifest.jsonl"));
        Assert.DoesNotContain(FuzzTargets.Run("manifest", File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "manifest", "array.json"))), e => e.Contains("manifest.json"));
        Assert.DoesNotContain(FuzzTargets.Run("labels", File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "labels", "labels.csv"))), e => e.Contains("labels.csv"));
        Assert.DoesNotContain(FuzzTargets.Run("labels", File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "labels", "labels.jsonl"))), e => e.Contains("labels.jsonl"));
    }

    [Fact]
    public void An_unexpected_exception_type_escapes_the_target()
    {
        // the crash criterion itself: a parser's deliberate error is caught, nothing else is
        Assert.Equal(typeof(WeightException), FuzzTargets.ExpectedError("safetensors"));
        var bad = FuzzTargets.Run("safetensors", [1, 2, 3]);
        Assert.Contains(bad, e => e.Contains("truncated"));
        Assert.Throws<ArgumentException>(() => FuzzTargets.Run("no-such-target", []));
    }
}
