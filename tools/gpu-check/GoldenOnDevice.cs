using System.Globalization;
using IIP.Detection.Golden;
using IIP.Engine;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Diagnostics;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.GpuCheck;

/// <summary>
/// `iip-gpu-check --golden`: the golden cases end to end on one backend, printed as `iip golden` prints them (the runner
/// is published without the CLI, which with its plotting and ONNX libraries would not fit the device tool's carry).
/// cuda: the CUDA backend, judged by the fp16-storage bounds; cpu: the fp32 CPU backend and the README's bounds;
/// cpu-fp16: the CPU with fp16 storage emulated (<see cref="Fp16StorageBackend"/>), judged by the fp16 bounds.
/// </summary>
internal static class GoldenOnDevice
{
    public static int Run(string modelPath, string goldenPath, string? tokenizer, string device, EngineOptions engine)
    {
        string reason = "";
        using var gpu = device == "cuda" ? CudaBackend.TryCreate(out reason, options: engine) : null;
        if (device == "cuda" && gpu is null)
        {
            Console.Error.WriteLine($"no usable GPU: {reason}");
            return 2;
        }
        IBackend backend = gpu is not null ? gpu : device == "cpu-fp16" ? new Fp16StorageBackend(CpuBackend.Instance) : CpuBackend.Instance;
        var (tensorsPath, jsonPath) = GoldenRunner.FilesOf(goldenPath);
        using var checkpoint = StableDiffusionCheckpoint.Open(modelPath, tokenizer);
        using var references = SafetensorsFile.Open(tensorsPath);
        var model = new StableDiffusion(checkpoint, backend, engine);
        var runner = new GoldenRunner(model, references, jsonPath);   // fp16 bounds for cuda and cpu-fp16, fp32 for cpu
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"golden: model {modelPath} ({checkpoint.Layout}), references {tensorsPath}, backend {backend.Name}{(gpu is null ? "" : $" ({gpu.Device})")}, {runner.Precision} bounds"));
        int failed = runner.RunAndReport(Console.Out);
        return failed > 0 ? 1 : 0;
    }
}
