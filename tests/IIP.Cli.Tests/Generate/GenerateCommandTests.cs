using System.Globalization;
using System.Text.RegularExpressions;
using IIP.Cli.Tests.WeightConvert;
using IIP.Engine.Imaging;

namespace IIP.Cli.Tests.Generate;

/// <summary>
/// `iip generate` on the golden tiny model (VAE factor 8 x UNet factor 8: sides are multiples of 64) and on a synthesized
/// "small-test" model (factor 2 x 4 = 8, native 16x16), with 1-2 steps and the smallest sizes, to keep the runs short:
/// two runs on tiny-sd (its full-width VAE decode is the slow part on the CPU), six on small-test.
/// </summary>
[Collection("Console")]
public sealed partial class GenerateCommandTests
{
    private const string Prompt = "a photo of a cat";

    /// <summary>weight-convert's small-test architecture with the real tokenizer, synthesized once per test run.</summary>
    internal static readonly Lazy<string> SmallTestModel = new(() =>
    {
        string model = Path.Combine(TestPaths.NewTempDir("generate-small"), "model");
        var synth = WeightConvertRunner.Run("synth", "--arch", "small-test", "--out", model, "--seed", "5",
            "--tokenizer", Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"));
        Assert.True(synth.ExitCode == 0, $"synth small-test: {synth.Stderr}");
        return model;
    });

    private static CliResult Generate(string model, string outPath, params string[] options) =>
        CliRunner.Run(["generate", "--model", model, "--prompt", Prompt, "--out", outPath, .. options]);

    private static void AssertOk(CliResult result, string what)
    {
        Assert.True(result.ExitCode == 0, $"{what}: exit {result.ExitCode}, stderr: {result.Stderr}");
    }

    [GeneratedRegex(@"^tcnp step (\d+) t=(\d+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TcnpStepLine();

    [GeneratedRegex(@"^tcnp mean (\S+) over (\d+) steps$", RegexOptions.Multiline)]
    private static partial Regex TcnpMeanLine();

    private static (double[] Steps, double Mean) ParseTcnp(string stdout)
    {
        var steps = TcnpStepLine().Matches(stdout.Replace("\r", "")).Select(m => double.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)).ToArray();
        var mean = TcnpMeanLine().Match(stdout.Replace("\r", ""));
        Assert.True(mean.Success, $"no 'tcnp mean' line in: {stdout}");
        return (steps, double.Parse(mean.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void SameSeedGivesAByteIdenticalNonSquarePngWithPerStepTcnp()
    {
        // Two runs: each decodes a 64x128 image through tiny-sd's full-width VAE, the slow part of a run on the CPU.
        string dir = TestPaths.NewTempDir("generate");
        string[] options = ["--height", "64", "--width", "128", "--steps", "2", "--tcnp", "--seed", "1"];
        string first = Path.Combine(dir, "seed1-a.png"), again = Path.Combine(dir, "sub", "seed1-b.png");
        var result = Generate(TestPaths.TinySdDiffusers, first, options);
        AssertOk(result, "seed 1");
        AssertOk(Generate(TestPaths.TinySdDiffusers, again, options), "seed 1 again (into a new folder)");

        var image = ImageFile.Load(first);
        Assert.Equal((128, 64), (image.Width, image.Height));
        Assert.True(image.Pixels.Distinct().Count() > 16, "the generated image is (nearly) uniform");
        Assert.True(File.ReadAllBytes(first).AsSpan().SequenceEqual(File.ReadAllBytes(again)), "two runs with seed 1 wrote different PNG bytes");

        Assert.Contains($"wrote {first} (128x64 px, 2 steps, guidance 7.5, seed 1) in ", result.Stdout);
        Assert.Matches(@"in \d+\.\d s", result.Stdout);
        Assert.Contains("latent [1, 4, 8, 16]", result.Stderr);
        Assert.Contains("step 1/2 (t=501)", result.Stderr);
        Assert.Contains("step 2/2 (t=1)", result.Stderr);
        var (steps, mean) = ParseTcnp(result.Stdout);
        Assert.Equal(2, steps.Length);
        Assert.All(steps, v => Assert.True(v > 0 && double.IsFinite(v), $"TCNP {v}"));
        // Printed with 6 decimals: the mean of the printed values is within 1e-6 of the printed mean.
        Assert.True(Math.Abs(steps.Average() - mean) <= 1e-6, $"mean {mean}, steps {string.Join(", ", steps)}");
    }

    [Fact]
    public void NegativePromptIsTheUnconditionalBranch()
    {
        // With the prompt as its own negative, eps_cond and eps_uncond come from identical batch items: TCNP is 0
        // (and with the default empty negative prompt it is not).
        string dir = TestPaths.NewTempDir("generate-negative");
        var same = Generate(SmallTestModel.Value, Path.Combine(dir, "same.png"), "--negative-prompt", Prompt, "--steps", "1", "--tcnp");
        AssertOk(same, "negative = prompt");
        var (steps, mean) = ParseTcnp(same.Stdout);
        Assert.Single(steps);
        Assert.True(steps[0] < 1e-5 && mean < 1e-5, $"TCNP {steps[0]} (mean {mean}) with the prompt as negative prompt; expected 0");

        var empty = Generate(SmallTestModel.Value, Path.Combine(dir, "empty.png"), "--steps", "1", "--tcnp");
        AssertOk(empty, "default negative prompt");
        Assert.True(ParseTcnp(empty.Stdout).Steps[0] > 1e-3, $"TCNP with the empty negative prompt: {empty.Stdout}");
    }

    [Fact]
    public void AModelSizedUnlikeTinySdGeneratesAtItsOwnSizesAndSeedsGiveOtherImages()
    {
        // small-test: VAE factor 2 x UNet factor 4, native 16x16.
        string model = SmallTestModel.Value;
        string Png(string name) => Path.Combine(model, "..", name);

        AssertOk(Generate(model, Png("native.png"), "--steps", "2", "--seed", "1"), "small-test native size");
        var image = ImageFile.Load(Png("native.png"));
        Assert.Equal((16, 16), (image.Width, image.Height));       // VAE factor 2 x sample_size 8
        AssertOk(Generate(model, Png("native-again.png"), "--steps", "2", "--seed", "1"), "small-test, same seed");
        AssertOk(Generate(model, Png("native-seed2.png"), "--steps", "2", "--seed", "2"), "small-test, seed 2");
        byte[] bytes = File.ReadAllBytes(Png("native.png"));
        Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Png("native-again.png"))), "two runs with seed 1 wrote different PNG bytes");
        Assert.False(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Png("native-seed2.png"))), "seeds 1 and 2 wrote the same PNG");

        AssertOk(Generate(model, Png("wide.png"), "--steps", "2", "--height", "16", "--width", "24"), "small-test 24x16");
        image = ImageFile.Load(Png("wide.png"));
        Assert.Equal((24, 16), (image.Width, image.Height));

        // a latent of 6 x 8 at a UNet that halves it twice: 6 -> 3 -> 2 and back up to 3 and 6, as diffusers
        AssertOk(Generate(model, Png("odd.png"), "--steps", "2", "--height", "12"), "small-test 16x12");
        image = ImageFile.Load(Png("odd.png"));
        Assert.Equal((16, 12), (image.Width, image.Height));

        var bad = Generate(model, Png("bad.png"), "--height", "13");
        Assert.Equal(CliErrors.BadInput, bad.ExitCode);
        Assert.Contains("--height 13 must be a positive multiple of 2 for this model (the VAE scales the image by 2)", bad.Stderr);
    }

    [Theory]
    [InlineData("height not a multiple of 8", "--height 101 must be a positive multiple of 8 for this model (the VAE scales the image by 8); e.g. 104", "--height", "101")]
    [InlineData("width zero", "--width 0 must be a positive multiple of 8", "--width", "0")]
    [InlineData("no steps", "--steps 0 must be at least 1", "--steps", "0")]
    [InlineData("too many steps", "--steps 1001 exceeds the scheduler's 1000 training timesteps", "--steps", "1001")]
    public void BadOptionsExitTwoWithAClearMessage(string problem, string expected, params string[] options)
    {
        string outPath = Path.Combine(TestPaths.NewTempDir("generate-bad"), "never.png");
        var result = Generate(TestPaths.TinySdDiffusers, outPath, options);
        Assert.True(result.ExitCode == CliErrors.BadInput, $"{problem}: exit {result.ExitCode}, stderr {result.Stderr}");
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains(expected, result.Stderr);
        Assert.False(File.Exists(outPath), $"{problem}: a PNG was written");
    }

    [Fact]
    public void MissingModelExitsTwoNamingThePath()
    {
        string missing = Path.Combine(TestPaths.NewTempDir("generate-missing"), "absent");
        var result = Generate(missing, Path.Combine(missing, "x.png"));
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains($"{missing}: checkpoint not found", result.Stderr);
    }

    [Fact]
    public void SingleFileModelWithoutTokenizerExitsTwoAskingForOne()
    {
        var result = Generate(TestPaths.TinySdLdm, Path.Combine(TestPaths.NewTempDir("generate-ldm"), "x.png"));
        Assert.Equal(CliErrors.BadInput, result.ExitCode);
        Assert.Contains($"{TestPaths.TinySdLdm}: this checkpoint carries no tokenizer", result.Stderr);
        Assert.Contains("pass --tokenizer DIR", result.Stderr);
    }

    [Fact]
    public void HelpExplainsEveryOption()
    {
        var result = CliRunner.Run("generate", "--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var option in new[] { "--model", "--prompt", "--negative-prompt", "--seed", "--steps", "--guidance", "--height", "--width", "--out", "--tokenizer", "--tcnp" })
            Assert.Contains(option, result.Stdout);
        foreach (var phrase in new[] { "multiple of", "Wen et al.", "byte-identical", "[default: 50]", "[default: 7.5]" })
            Assert.Contains(phrase, result.Stdout);
        Assert.Contains("generate", CliRunner.Run("--help").Stdout);
    }
}
