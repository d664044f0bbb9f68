using System.CommandLine;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cuda;

namespace IIP.Cli;

/// <summary>
/// `--device cpu|cuda`: where the model runs. cuda falls back to the CPU, saying why, when no driver or GPU is
/// present. The CPU is the default: the CUDA backend passed its conformance cases on an H200 (2026-11-28), but the
/// kernels and the sampling path changed since have been checked only on the kernel emulator (docs/benchmarks.md).
/// </summary>
public static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = "cpu (default) or cuda (NVIDIA GPU, fp16 with fp32 accumulation; falls back to the CPU with a message when no GPU or driver is present)",
        DefaultValueFactory = _ => "cpu",
    };

    public static IBackend Select(string device)
    {
        switch (device.ToLowerInvariant())
        {
            case "cpu":
                return CpuBackend.Instance;
            case "cuda":
                if (CudaBackend.TryCreate(out string reason, options: Program.Engine) is { } cuda)
                    return cuda;
                Console.Error.WriteLine($"warning: --device cuda unavailable ({reason}); running on the CPU");
                return CpuBackend.Instance;
            default:
                throw new ArgumentException($"--device '{device}': expected cpu or cuda");
        }
    }
}
