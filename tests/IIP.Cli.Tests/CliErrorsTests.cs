using IIP.Native;

namespace IIP.Cli.Tests;

/// <summary>The exit codes and messages of <see cref="CliErrors.Guard"/>.</summary>
[Collection("Console")]
public sealed class CliErrorsTests
{
    private static (int Code, string Stderr) Guarded(Func<int> action)
    {
        var oldErr = Console.Error;
        var stderr = new StringWriter();
        Console.SetError(stderr);
        try
        {
            return (CliErrors.Guard(action), stderr.ToString());
        }
        finally
        {
            Console.SetError(oldErr);
        }
    }

    [Fact]
    public void AGpuFailureIsExitCode3WithTheDriversMessage()
    {
        var (code, stderr) = Guarded(() => throw new CudaException(CudaResult.OutOfMemory, "cuMemAlloc_v2(1024 bytes)"));
        Assert.Equal(CliErrors.DeviceFailed, code);
        Assert.Equal(3, code);
        Assert.Contains("error: the GPU failed: cuMemAlloc_v2(1024 bytes) failed", stderr);
    }

    [Fact]
    public void BadInputIsExitCode2AndSuccessPassesThrough()
    {
        var (code, stderr) = Guarded(() => throw new FileNotFoundException("/nope/model: checkpoint not found"));
        Assert.Equal(2, code);
        Assert.Contains("error: /nope/model: checkpoint not found", stderr);
        Assert.Equal((0, ""), Guarded(() => CliErrors.Ok));
    }
}
