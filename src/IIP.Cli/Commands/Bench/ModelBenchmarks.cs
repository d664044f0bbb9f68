using System.Diagnostics;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Diagnostics;
using IIP.Engine.Models.Clip;
using IIP.Engine.Models.Unet;
using IIP.Engine.Models.Vae;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Bench;

/// <summary>
/// `iip bench --part unet|vae-encode|vae-decode|text --model PATH`: times whole model parts on the CPU and prints
/// seconds per forward, the counted GFLOP (matrix products, <see cref="FlopCountingBackend"/>), GFLOP/s, the share
/// of the measured FMA peak, and the process's peak memory.
/// </summary>
public sealed class ModelBenchmarks(TextWriter output, OpBenchmarks ops, int warmup, int repeat)
{
    public static readonly string[] Parts = ["unet", "vae-encode", "vae-decode", "text"];

    public void Run(string part, string modelPath, int batch, int height, int width, string device = "cpu")
    {
        var engine = DeviceOption.Select(device);
        bool onCpu = engine is CpuBackend;   // the CPU's measured FMA peak is the figure to compare with
        if (onCpu) _ = ops.GemmPeak;   // before the model and its worker threads exist
        var clock = Stopwatch.StartNew();
        using var checkpoint = StableDiffusionCheckpoint.Open(modelPath);
        var backend = new FlopCountingBackend(engine);
        var noise = new GaussianNoise(0);
        Action forward;
        string shape;
        switch (part)
        {
            case "unet":
            {
                var unet = new UNet2DConditionModel(checkpoint.UnetWeights, checkpoint.Unet, backend);
                var x = noise.Sample(batch, checkpoint.Unet.InChannels, height, width);
                var context = noise.Sample(batch, 77, checkpoint.Unet.CrossAttentionDim);
                forward = () => backend.ToHost(unet.Forward(x, 981, context));   // ToHost waits for a device to finish
                shape = $"latent {batch}x{checkpoint.Unet.InChannels}x{height}x{width}, context {batch}x77x{checkpoint.Unet.CrossAttentionDim}";
                break;
            }
            case "vae-encode" or "vae-decode":
            {
                var vae = new AutoencoderKL(checkpoint.VaeWeights, checkpoint.Vae, backend);
                int f = vae.DownsampleFactor;
                if (part == "vae-encode")
                {
                    var image = noise.Sample(batch, 3, height * f, width * f);
                    forward = () => backend.ToHost(vae.Encode(image).Mean);
                    shape = $"image {batch}x3x{height * f}x{width * f}";
                }
                else
                {
                    var z = noise.Sample(batch, checkpoint.Vae.LatentChannels, height, width);
                    forward = () => backend.ToHost(vae.Decode(z));
                    shape = $"latent {batch}x{checkpoint.Vae.LatentChannels}x{height}x{width}";
                }
                break;
            }
            case "text":
            {
                var text = new ClipTextModel(checkpoint.TextEncoderWeights, checkpoint.TextEncoder, backend);
                var ids = Enumerable.Range(0, batch).Select(b => Enumerable.Range(0, 77).Select(i => (49406 + i * 7 + b) % checkpoint.TextEncoder.VocabSize).ToArray()).ToArray();
                forward = () => backend.ToHost(text.Forward(ids));
                shape = $"ids {batch}x77";
                break;
            }
            default:
                throw new ArgumentException($"unknown model part '{part}'");
        }
        output.WriteLine($"model: {modelPath} ({checkpoint.Layout}), part {part}, {shape}, backend {engine.Name}, loaded in {clock.Elapsed.TotalSeconds:F1} s");
        for (int i = 0; i < warmup; i++) forward();
        backend.Reset();
        forward();
        double gflop = backend.Flops / 1e9;
        var times = new List<double>();
        for (int i = 0; i < repeat; i++)
        {
            var t = Stopwatch.StartNew();
            forward();
            times.Add(t.Elapsed.TotalSeconds);
        }
        double best = times.Min(), median = times.Order().ElementAt(times.Count / 2);
        if (!onCpu)
        {
            // a GPU has no CPU FMA peak to compare with: the device and the rate (eager launches; the sampling loops replay
            // CUDA graphs, timed by tools/gpu-check --bench)
            output.WriteLine($"{best:F4} s/forward (best of {repeat}; median {median:F4} s) on {engine.Description}, eager launches, {gflop:F1} GFLOP counted, " +
                             $"{gflop / best / 1e3:F1} TFLOP/s");
            return;
        }
        var peak = ops.MeasurePeakAgain();
        // Two decimals from 0.1 s up (the SD v1.4 parts), four below (the tiny test models, which two would round to 0.01).
        string digits = best < 0.1 ? "F4" : "F2";
        output.WriteLine($"{best.ToString(digits)} s/forward (best of {repeat}; median {median.ToString(digits)} s), {gflop:F1} GFLOP counted, " +
                         $"{gflop / best:F1} GFLOP/s = {100 * gflop / best / peak.GflopPerSecond:F0}% of the measured FMA peak {peak.GflopPerSecond:F1} GFLOP/s");
        output.WriteLine($"peak memory: {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB (process working set)");
    }
}
