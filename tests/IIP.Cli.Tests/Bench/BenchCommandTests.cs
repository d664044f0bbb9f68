namespace IIP.Cli.Tests.Bench;

/// <summary>
/// `iip bench`: the report lines docs/benchmarks.md quotes (s/forward, GFLOP/s, share of the measured peak, memory) and
/// clear errors. Sizes are tiny: these check the command, not the speed (speed is measured by running it).
/// </summary>
[Collection("Console")]
public sealed class BenchCommandTests
{
    [Fact]
    public void UnetOnTheTinyModelPrintsSecondsPerForwardThePeakShareAndMemory()
    {
        var result = CliRunner.Run("bench", "--part", "unet", "--model", TestPaths.TinySdDiffusers, "--latent", "8x16", "--repeat", "2", "--warmup", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("latent 1x4x8x16", result.Stdout);
        // A tiny model's forward takes milliseconds: four decimals below 0.1 s (two from 0.1 s up, on a slow machine).
        Assert.Matches(@"(0\.0\d{3}|\d+\.\d\d) s/forward \(best of 2; median \d+\.\d\d(\d\d)? s\), \d+\.\d GFLOP counted, \d+\.\d GFLOP/s = \d+% of the measured FMA peak \d+\.\d GFLOP/s", result.Stdout);
        Assert.Matches(@"peak memory: \d+ MiB", result.Stdout);
    }

    [GpuFact]
    public void OnCudaTheBenchReportsTheGpu()
    {
        var result = CliRunner.Run("bench", "--part", "text", "--model", TestPaths.TinySdDiffusers, "--device", "cuda", "--repeat", "1", "--warmup", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Matches(@"\d+\.\d{4} s/forward \(best of 1; median \d+\.\d{4} s\) on .*, eager launches, \d+\.\d GFLOP counted, \d+\.\d TFLOP/s", result.Stdout);
    }

    [NoGpuFact]
    public void WithoutAGpuTheBenchSaysItFellBackToTheCpu()
    {
        var result = CliRunner.Run("bench", "--part", "text", "--model", TestPaths.TinySdDiffusers, "--device", "cuda", "--repeat", "1", "--warmup", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("--device cuda unavailable", result.Stderr);
        Assert.Contains("running on the CPU", result.Stderr);
        Assert.Matches(@"s/forward .* of the measured FMA peak", result.Stdout);
    }

    [Fact]
    public void UnetOpSequenceByShapeKeepsOneLinePerOpKindAndOutputShape()
    {
        var result = CliRunner.Run("bench", "--part", "unet-ops", "--latent", "8x8", "--repeat", "1", "--warmup", "0", "--by-shape");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("conv3x3 -> [1, 320, 8, 8]", result.Stdout);          // conv_in and the first level's convs
        Assert.Contains("conv3x3 -> [1, 1280, 1, 1]", result.Stdout);         // the 8x8 latent's deepest level
        Assert.Contains("attention self -> [1, 64, 320]", result.Stdout);
        Assert.Matches(@"unet op sequence: \d+\.\d\d s/forward \(best of 1\)", result.Stdout);
    }

    [Theory]
    [InlineData("--batch", "0")]
    [InlineData("--repeat", "0")]
    [InlineData("--warmup", "-1")]
    public void CountsOutOfRangeAreAnError(string option, string value)
    {
        var result = CliRunner.Run("bench", "--part", "unet", "--model", TestPaths.TinySdDiffusers, "--latent", "8x8", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{option} {value}", result.Stderr);
        Assert.Contains("need --repeat >= 1, --warmup >= 0, --batch >= 1", result.Stderr);
    }

    [Fact]
    public void ModelPartsWithoutAModelAreAnError()
    {
        var result = CliRunner.Run("bench", "--part", "unet");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--part unet needs --model PATH", result.Stderr);
    }

    [Fact]
    public void UnetOpsOnALatentTheUnetCannotTakeIsAnError()
    {
        var result = CliRunner.Run("bench", "--part", "unet-ops", "--latent", "12x12");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--latent 12x12: the UNet needs multiples of 8", result.Stderr);
    }
}
