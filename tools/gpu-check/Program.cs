using System.Diagnostics;
using System.Globalization;
using IIP.Engine;
using IIP.Engine.Backends.Cuda;
using IIP.GpuCheck;
using IIP.TestSupport.Conformance;

// iip-gpu-check [--filter TEXT] [--reps N]
// Runs every CUDA conformance case (CUDA op vs the CPU reference at SD v1.4 shapes) and prints one row per case:
// the worst error against its bound and the mean GPU time of the op over N timed repetitions (0: no timing).
// iip-gpu-check --golden MODEL GOLDEN [--tokenizer DIR] [--device cuda|cpu|cpu-fp16]
// Runs the golden cases (data/golden/README.md) end to end on the device, as `iip golden` does on the CPU, judged by
// the fp16-storage bounds (GoldenFp16Tolerances). --device cpu runs them on the CPU backend with the fp32 bounds (to
// check the runner where there is no GPU); cpu-fp16 on the CPU with fp16 storage emulated, with the fp16 bounds.
// iip-gpu-check --bench [--model DIR] [--latent HxW] [--reps N]
// Full-size speed (ModelBenchOnDevice): load, UNet batch 1 and 2 eager and as a CUDA graph, VAE, text encoder, IIP
// images/s; without --model on a synthesized SD v1.4 written to a temp folder.
// Exit code: 0 all passed, 1 a case failed, 2 no usable GPU, 64 bad arguments.
const string Usage = "usage: iip-gpu-check [--filter TEXT] [--reps N] | iip-gpu-check --golden MODEL GOLDEN [--tokenizer DIR] [--device cuda|cpu|cpu-fp16]"
                   + " | iip-gpu-check --bench [--model DIR] [--latent HxW] [--reps N]";
string? filter = null, goldenModel = null, goldenFile = null, tokenizer = null, device = "cuda", benchModel = null;
int reps = 10, latentHeight = 64, latentWidth = 64;
bool bench = false;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--filter" when i + 1 < args.Length: filter = args[++i]; break;
        case "--reps" when i + 1 < args.Length && int.TryParse(args[i + 1], out int r) && r >= 0: reps = r; i++; break;
        case "--golden" when i + 2 < args.Length: goldenModel = args[++i]; goldenFile = args[++i]; break;
        case "--bench": bench = true; break;
        case "--model" when i + 1 < args.Length: benchModel = args[++i]; break;
        case "--latent" when i + 1 < args.Length && TryParseLatent(args[i + 1], out latentHeight, out latentWidth): i++; break;
        case "--tokenizer" when i + 1 < args.Length: tokenizer = args[++i]; break;
        case "--device" when i + 1 < args.Length && args[i + 1] is "cuda" or "cpu" or "cpu-fp16": device = args[++i]; break;
        default:
            Console.Error.WriteLine($"unknown or incomplete argument '{args[i]}'; {Usage}");
            return 64;
    }
}

// the engine's settings, read once from the environment (EngineOptions names the variables) and passed down
var engine = EngineOptions.FromEnvironment();
engine.ApplyProcessWide();
foreach (string line in engine.Describe()) Console.WriteLine(line);
if (bench)
    return ModelBenchOnDevice.Run(benchModel, latentHeight, latentWidth, Math.Max(1, reps), engine);
if (goldenModel is not null)
    return GoldenOnDevice.Run(goldenModel, goldenFile!, tokenizer, device, engine);

using var gpu = CudaBackend.TryCreate(out string reason, options: engine);
if (gpu is null)
{
    Console.Error.WriteLine($"no usable GPU: {reason}");
    return 2;
}
Console.WriteLine($"device: {gpu.Device}; kernels: sm_{gpu.KernelArchitecture} PTX; {gpu.BlasStatus}; GEMM main loop {gpu.GemmPipeline}");

var cases = ConformanceCases.All.Where(c => filter is null || c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
var options = new ConformanceOptions(reps);
int failed = 0;
var total = Stopwatch.StartNew();
Console.WriteLine($"{"result",-6} {"max err / rms",13} {"worst/bound",11} {"ms",9} {"TFLOP/s",8}  case [kernel]");
foreach (var c in cases)
{
    CaseResult result;
    try
    {
        result = c.Run(gpu, options);
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"{"ERROR",-6} {c.Name} [{c.Kernel}]: {e}");
        continue;
    }
    var worst = result.Comparisons.MaxBy(x => x.Bound > 0 ? Math.Abs(x.Actual - x.Expected) / x.Bound : Math.Abs(x.Actual - x.Expected) > 0 ? double.PositiveInfinity : 0)!;
    double ratio = worst.Bound > 0 ? Math.Abs(worst.Actual - worst.Expected) / worst.Bound : (worst.Actual == worst.Expected ? 0 : double.PositiveInfinity);
    string tflops = double.IsNaN(result.Milliseconds) || result.Flops <= 0 ? "" : (result.Flops / result.Milliseconds / 1e9).ToString("F1", CultureInfo.InvariantCulture);
    string ms = double.IsNaN(result.Milliseconds) ? "" : result.Milliseconds.ToString("F3", CultureInfo.InvariantCulture);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{(result.Passed ? "ok" : "FAIL"),-6} {result.Comparisons.Max(x => x.MaxRelativeToRms),13:g3} {ratio,11:F3} {ms,9} {tflops,8}  {c.Name} [{c.Kernel}]"));
    if (!result.Passed)
    {
        failed++;
        Console.Write(result.Report());
    }
}
Console.WriteLine($"{cases.Count - failed} of {cases.Count} cases passed in {total.Elapsed.TotalSeconds:F1} s");
return failed == 0 ? 0 : 1;

// "64x64" -> (64, 64); multiples of 8 (the SD v1 UNet halves the latent three times)
static bool TryParseLatent(string text, out int height, out int width)
{
    height = width = 0;
    var parts = text.Split('x');
    return parts.Length == 2 && int.TryParse(parts[0], out height) && int.TryParse(parts[1], out width)
        && height > 0 && width > 0 && height % 8 == 0 && width % 8 == 0;
}
