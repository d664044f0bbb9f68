using IIP.Engine.Backends.Cuda;

namespace IIP.Cli.Tests;

/// <summary>Whether this machine has a usable GPU, probed once (a CUDA backend started and released).</summary>
internal static class GpuPresence
{
    private static readonly Lazy<string?> Absent = new(() =>
    {
        using var gpu = CudaBackend.TryCreate(out string reason);
        return gpu is null ? reason : null;
    });

    /// <summary>Null when a GPU is usable; otherwise why not.</summary>
    public static string? AbsentReason => Absent.Value;
}

/// <summary>A CLI fact about `--device cuda` on a GPU: skipped, saying why, where there is none.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (GpuPresence.AbsentReason is { } reason) Skip = $"no GPU: {reason}";
    }
}

/// <summary>A CLI fact about `--device cuda` falling back to the CPU: skipped, saying so, where a GPU is present.</summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute()
    {
        if (GpuPresence.AbsentReason is null) Skip = "a GPU is present: the CPU fallback of --device cuda cannot be observed here";
    }
}
