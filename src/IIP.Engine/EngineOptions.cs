using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cpu.Gemm;
using IIP.Engine.Backends.Cuda;
using IIP.Native;

namespace IIP.Engine;

/// <summary>
/// The engine's settings, in one place: read once (the CLI and tools/gpu-check call <see cref="FromEnvironment"/> at
/// start), passed to what they configure (<see cref="CudaBackend.TryCreate"/>, <see cref="Pipelines.StableDiffusion"/>),
/// and printed by `iip info` and `iip bench`. The process-wide ones (which CPU GEMM kernels, packed CPU weights, which
/// CUDA driver library) take effect through <see cref="ApplyProcessWide"/>, before the first model or device is made.
/// The defaults are the product's; every switch exists to measure or debug an alternative.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>Replay recorded CUDA graphs for the UNet forwards of the sampling loops (IIP_CUDA_GRAPHS=0: eager launches).</summary>
    public bool CudaGraphs { get; init; } = true;

    /// <summary>Run linear layers and convolutions on cuBLAS where it loads (IIP_CUBLAS=1; opt-in until checked on GPUs).</summary>
    public bool Cublas { get; init; }

    /// <summary>Where to look for libcublas.so.13/.12 instead of the loader's path (IIP_CUBLAS_DIR).</summary>
    public string? CublasDirectory { get; init; }

    /// <summary>The GEMM main loop of the CUDA linear layers (IIP_GEMM_PIPELINE=cp.async: the opt-in cp.async ring).</summary>
    public GemmPipeline GemmPipeline { get; init; } = GemmPipeline.RegisterStaged;

    /// <summary>Narrows the CPU GEMM kernels to a family: avx512, avx2 or scalar (IIP_CPU_GEMM; default: the widest this CPU runs).</summary>
    public string? CpuGemm { get; init; }

    /// <summary>Pack CPU weights into GEMM panels once, at first use (IIP_CPU_PACKED_WEIGHTS=0: pack at every call, less memory).</summary>
    public bool CpuPackedWeights { get; init; } = true;

    /// <summary>A CUDA driver library to bind instead of libcuda.so.1 (IIP_CUDA_DRIVER; the kernel emulator in tests).</summary>
    public string? CudaDriverPath { get; init; }

    /// <summary>The product's defaults.</summary>
    public static EngineOptions Default { get; } = new();

    /// <summary>The settings from the environment variables named on each property; unset ones keep their defaults.</summary>
    public static EngineOptions FromEnvironment() => FromVariables(Environment.GetEnvironmentVariable);

    /// <summary><see cref="FromEnvironment"/> over any lookup of variable names (tests give a dictionary).</summary>
    public static EngineOptions FromVariables(Func<string, string?> read)
    {
        string? Value(string name) => read(name) is { Length: > 0 } v ? v : null;
        string? pipeline = Value("IIP_GEMM_PIPELINE");
        return new EngineOptions
        {
            CudaGraphs = Value("IIP_CUDA_GRAPHS") != "0",
            Cublas = Value("IIP_CUBLAS") == "1",
            CublasDirectory = Value("IIP_CUBLAS_DIR"),
            GemmPipeline = pipeline switch
            {
                null or "register" => GemmPipeline.RegisterStaged,
                "cp.async" => GemmPipeline.CpAsync,
                _ => throw new ArgumentException($"IIP_GEMM_PIPELINE={pipeline}: expected cp.async or register"),
            },
            CpuGemm = Value("IIP_CPU_GEMM"),
            CpuPackedWeights = Value("IIP_CPU_PACKED_WEIGHTS") != "0",
            CudaDriverPath = Value("IIP_CUDA_DRIVER"),
        };
    }

    /// <summary>Sets the process-wide settings: the CPU GEMM kernels, packed CPU weights and the CUDA driver library.</summary>
    public void ApplyProcessWide()
    {
        GemmKernelSet.Use(CpuGemm);
        Backends.Cpu.CpuPackedWeights.Enabled = CpuPackedWeights;
        if (CudaDriverPath is not null) CudaDriverLibrary.Path = CudaDriverPath;
    }

    /// <summary>One line per setting, as `iip info` and `iip bench` print them.</summary>
    public IEnumerable<string> Describe()
    {
        yield return $"engine: CUDA graphs {(CudaGraphs ? "on" : "off (IIP_CUDA_GRAPHS=0)")}; cuBLAS {(Cublas ? $"requested (IIP_CUBLAS=1{(CublasDirectory is null ? "" : $", from {CublasDirectory}")})" : "off")}; " +
                     $"CUDA GEMM main loop {(GemmPipeline == GemmPipeline.CpAsync ? "cp.async (IIP_GEMM_PIPELINE)" : "register-staged")}";
        yield return $"engine: CPU GEMM kernels {GemmKernelSet.Choose(CpuGemm).Name}{(CpuGemm is null ? "" : $" (IIP_CPU_GEMM={CpuGemm})")}; " +
                     $"packed CPU weights {(CpuPackedWeights ? "on" : "off (IIP_CPU_PACKED_WEIGHTS=0)")}; CUDA driver {CudaDriverPath ?? "libcuda.so.1"}";
    }
}
