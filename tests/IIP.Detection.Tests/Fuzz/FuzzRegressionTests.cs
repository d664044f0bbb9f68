using IIP.Fuzz;

namespace IIP.Detection.Tests.Fuzz;

/// <summary>
/// The inputs of tests/fuzz/regressions, each of which crashed a parser before its fix (an exception that named no
/// file: InvalidOperationException from System.Text.Json, ArgumentException from Path, DivideByZeroException) or hung
/// the image decoder, now each gets its parser's named error. Most were found by AFL++ on the code before the fix; the norm_num_groups,
/// byte-order-mark and labels inputs by reading the parsers (tests/fuzz/README.md says which).
/// </summary>
public sealed class FuzzRegressionTests
{
    private static string Regressions => Path.Combine(TestPaths.RepoRoot, "tests", "fuzz", "regressions");

    /// <summary>Every regression file and a piece of the named error it must now get (for manifests and labels: of the named variant).</summary>
    private static readonly Dictionary<string, string> Expected = new(StringComparer.Ordinal)
    {
        ["safetensors/invalid-utf8-in-header"] = "input.safetensors: bad safetensors header: not valid UTF-8 (byte 68 of the header is 0xff)",
        ["safetensors/escaped-high-surrogate-alone"] = "input.safetensors: bad safetensors header: a string holds an invalid \\u escape",
        ["safetensors/escaped-low-surrogate-alone"] = "input.safetensors: bad safetensors header: a string holds an invalid \\u escape",
        ["iipw/invalid-utf8-in-header"] = "input.iipw: bad packed header: not valid UTF-8 (byte 82 of the header is 0x80)",
        ["iipw/nul-after-the-header-json"] = "input.iipw: bad packed header: not valid JSON ('0x00' is invalid after a single JSON value",
        ["iipw/escaped-high-surrogate-alone"] = "input.iipw: bad packed header: a string holds an invalid \\u escape",
        ["iipw/unet-norm-groups-zero.iipw"] = "input.iipw [configs] [unet]: 'norm_num_groups' is 0; it must be at least 1",
        ["iipw/vae-norm-groups-zero.iipw"] = "input.iipw [configs] [vae]: 'norm_num_groups' is 0; it must be at least 1",
        ["iipw/byte-order-mark-before-the-header.iipw"] = "input.iipw: bad packed header: not valid JSON ('0xEF' is an invalid start of a value",
        ["manifest/nul-in-a-path"] = "list.txt:1: the image path holds a NUL character",
        ["manifest/nul-in-a-listed-path"] = "list.txt:4: the image path holds a NUL character",
        ["manifest/line-is-a-number"] = "manifest.jsonl:1: not a JSON object but a number",
        ["manifest/escaped-low-surrogate-alone"] = "manifest.jsonl:1: a string holds an invalid \\u escape",
        ["labels/escaped-high-surrogate-alone.jsonl"] = "labels.jsonl line 2: a string holds an invalid \\u escape",
        // a hang, not an exception: StbImageSharp looped forever on it (fill bytes before the JPEG SOI)
        ["image/jpeg-fill-bytes-before-soi-hang"] = "cannot load image fuzz-input.png: JPEG is truncated: marker 0xe6 at byte 3 declares 65535 bytes",
    };

    public static TheoryData<string> Files() => new(Expected.Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Files))]
    public async Task A_former_crash_now_gets_its_named_error(string file)
    {
        string target = file[..file.IndexOf('/')];
        var errors = await FuzzCorpusTests.RunWithin(TimeSpan.FromSeconds(60), target, Path.Combine(Regressions, file));
        Assert.Contains(errors, e => e.Contains(Expected[file], StringComparison.Ordinal));
    }

    [Fact]
    public void Every_regression_file_has_an_expected_error()
    {
        var files = Directory.EnumerateFiles(Regressions, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "README.md")
            .Select(f => Path.GetRelativePath(Regressions, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), files);
    }
}
