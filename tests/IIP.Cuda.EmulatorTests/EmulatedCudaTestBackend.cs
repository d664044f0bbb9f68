using IIP.Cuda.EmulatorTests;
using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Cuda;

// The GPU tests of IIP.Engine.Tests that this project compiles in (the runtime around the kernels, UNet graphs, weight
// upload) reach their backend through CudaTestBackend and are marked CudaFact/CudaTheory. Here those names mean the
// kernel emulator, and nothing skips: a missing emulator library fails every test with the command that builds it.

/// <summary>The CUDA backend the compiled-in GPU tests share: the emulated one.</summary>
internal static class CudaTestBackend
{
    /// <summary>The xunit collection of every test that uses the backend: one at a time (one stream, one emulator).</summary>
    public const string Collection = "CUDA backend";

    public static CudaBackend Instance => EmulatedBackend.Instance;
}

/// <summary>A fact of the GPU tests, run on the kernel emulator.</summary>
public sealed class CudaFactAttribute : FactAttribute;

/// <summary>A theory of the GPU tests, run on the kernel emulator.</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute;

/// <summary>The tests that share the emulated backend: run one after another.</summary>
[CollectionDefinition(CudaTestBackend.Collection, DisableParallelization = true)]
public sealed class CudaBackendCollection;
