using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// The CUDA backend the CUDA tests share (created once: it JIT-compiles every kernel module), or why there is none.
/// Tests that need it are <see cref="CudaFactAttribute"/> / <see cref="CudaTheoryAttribute"/>: they skip, saying why,
/// only when this machine has no usable GPU (no driver library, cuInit failing, no device, a device below sm_80).
/// </summary>
internal static class CudaTestBackend
{
    /// <summary>
    /// The xunit collection of every test class that uses the shared backend: one at a time, since the backend (one
    /// stream, graph capture, the arena scope) serves one caller at a time.
    /// </summary>
    public const string Collection = "CUDA backend";

    private static readonly Lazy<(CudaBackend? Backend, string Reason)> State = new(() =>
    {
        var backend = CudaBackend.TryCreate(out string reason);
        return (backend, reason);
    });

    /// <summary>The shared backend; only call from a test marked CudaFact/CudaTheory.</summary>
    public static CudaBackend Instance => State.Value.Backend
        ?? throw new InvalidOperationException($"no CUDA backend: {State.Value.Reason}");

    /// <summary>Null when a GPU is usable; otherwise the skip message.</summary>
    public static string? SkipReason => State.Value.Backend is null ? $"no GPU: {State.Value.Reason}" : null;
}

/// <summary>A fact that needs a GPU: skipped with the reason when <see cref="CudaTestBackend"/> has none.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (CudaTestBackend.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs a GPU: skipped with the reason when <see cref="CudaTestBackend"/> has none.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (CudaTestBackend.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>The tests that share <see cref="CudaTestBackend"/>: run one after another.</summary>
[CollectionDefinition(CudaTestBackend.Collection, DisableParallelization = true)]
public sealed class CudaBackendCollection;

/// <summary>
/// A fact that needs cuBLAS on the GPU (the optional IIP_CUBLAS=1 path): skipped, saying why, without a GPU or where no
/// libcublas.so.13 or .12 loads.
/// </summary>
public sealed class CublasFactAttribute : FactAttribute
{
    public CublasFactAttribute()
    {
        if (CudaTestBackend.SkipReason is { } reason)
        {
            Skip = reason;
            return;
        }
        var gpu = CudaTestBackend.Instance;
        using var blas = IIP.Native.CudaBlas.TryCreate(gpu.Device, gpu.Stream, out string why);
        if (blas is null) Skip = $"cuBLAS did not load: {why}";
    }
}
