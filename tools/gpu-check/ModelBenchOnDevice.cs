using System.Diagnostics;
using System.Globalization;
using IIP.Detection.Methods;
using IIP.Engine;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Diagnostics;
using IIP.Engine.Pipelines;
using IIP.Engine.Sampling;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;
using IIP.WeightConvert;

namespace IIP.GpuCheck;

/// <summary>
/// `iip-gpu-check --bench [--model DIR] [--latent HxW] [--reps N]`: full-size speed on the GPU. Without --model it first
/// writes the synthesized SD v1.4 checkpoint (`weight-convert synth --arch sd-v1.4 --seed 0`, the same bytes) to a temp
/// folder, since real weights cannot travel to the GPU machine. Prints, one line each: loading the checkpoint onto the
/// GPU; the UNet forward at batch 1 and 2 (the guidance step), eager and replayed from a CUDA graph; VAE encode and
/// decode; the text encoder; and IIP images per second (IIP.md defaults: 20 inversion + 20 guided steps) on random
/// images. Times are wall clock around the work and a stream synchronization: best and median of N runs after warm-up.
/// TFLOP/s counts matrix-product FLOPs only (<see cref="FlopCountingBackend"/>).
/// </summary>
internal static class ModelBenchOnDevice
{
    public static int Run(string? modelPath, int height, int width, int reps, EngineOptions engine)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;   // the figures are read by people and scripts alike
        using var gpu = CudaBackend.TryCreate(out string reason, options: engine);
        if (gpu is null)
        {
            Console.Error.WriteLine($"no usable GPU: {reason}");
            return 2;
        }
        Console.WriteLine($"device: {gpu.Device}; kernels: sm_{gpu.KernelArchitecture} PTX; {gpu.BlasStatus}; GEMM main loop {gpu.GemmPipeline}; latent {height}x{width}, best/median of {reps}");
        if (modelPath is null)
        {
            modelPath = Path.Combine(Path.GetTempPath(), "iip-bench-sd14");
            if (!File.Exists(Path.Combine(modelPath, "unet", "diffusion_pytorch_model.safetensors")))
            {
                var synth = Stopwatch.StartNew();
                CheckpointSynthesizer.Write(SynthArchitecture.StableDiffusionV14, modelPath, 0, tokenizerDir: null);
                Print($"synthesized sd-v1.4 (seed 0) to {modelPath} in {synth.Elapsed.TotalSeconds:F1} s (not a figure)");
            }
        }

        var load = Stopwatch.StartNew();
        using var checkpoint = StableDiffusionCheckpoint.Open(modelPath);
        var model = new StableDiffusion(checkpoint, gpu, engine);
        gpu.Synchronize();
        Print($"load: {modelPath} ({checkpoint.Layout}) opened and uploaded to fp16 device buffers in {load.Elapsed.TotalSeconds:F2} s");

        int failures = 0;
        var counter = new FlopCountingBackend(gpu);
        var noise = new GaussianNoise(0);
        var unet = model.Unet;
        var unetCounted = new IIP.Engine.Models.Unet.UNet2DConditionModel(checkpoint.UnetWeights, checkpoint.Unet, counter);
        foreach (int batch in new[] { 1, 2 }) Section($"unet batch {batch}", () =>
        {
            var x = gpu.FromHost(noise.Sample(batch, checkpoint.Unet.InChannels, height, width));
            var context = gpu.FromHost(noise.Sample(batch, 77, checkpoint.Unet.CrossAttentionDim));
            var t = Enumerable.Repeat(981f, batch).ToArray();
            counter.Reset();
            unetCounted.Forward(x, t, context);
            double flops = counter.Flops;
            var eager = Time(gpu, () => unet.Forward(x, t, context), reps);
            Report($"unet batch {batch} eager", eager, flops);

            var features = unet.TimestepFeatures(t);
            Tensor? eps = null;
            using var graph = gpu.Capture(() => eps = unet.Forward(x, features, context));
            var replay = Time(gpu, graph.Replay, reps);
            Report($"unet batch {batch} graph", replay, flops);
            var eagerOut = gpu.ToHost(unet.Forward(x, features, context));
            graph.Replay();
            var graphOut = gpu.ToHost(eps!);
            Print($"unet batch {batch}: graph replay vs eager max |diff| {MaxAbsDiff(eagerOut, graphOut):G3} (same kernels: expected 0)");
        });

        Section("unet op sequence", () =>
        {
            // where a guidance step's time goes: each op of the SD v1.4 UNet timed alone (device idle before and after)
            var ops = new UNetOpSequence(gpu, 2, height, width, byShape: true, synchronize: gpu.Synchronize);
            ops.Forward();
            ops.Reset();
            ops.Forward();
            double total = ops.ByKind.Values.Sum(k => k.Seconds);
            Print($"unet op sequence batch 2 (ops timed one by one, launch and sync included): {total * 1e3:F2} ms");
            foreach (var (kind, (seconds, flop, count)) in ops.ByKind.OrderByDescending(k => k.Value.Seconds))
                Print($"  {kind,-40} {count,4} ops {seconds * 1e3,8:F3} ms {100 * seconds / total,5:F1}%" +
                      (flop > 0 ? $" {flop / seconds / 1e12,6:F1} TFLOP/s" : ""));
        });

        int f = model.Vae.DownsampleFactor;
        var image = gpu.FromHost(noise.Sample(1, 3, height * f, width * f));
        var latent = gpu.FromHost(noise.Sample(1, checkpoint.Vae.LatentChannels, height, width));
        Section("vae", () =>
        {
            var vaeCounted = new IIP.Engine.Models.Vae.AutoencoderKL(checkpoint.VaeWeights, checkpoint.Vae, counter);
            counter.Reset();
            vaeCounted.Encode(image);
            Report($"vae encode {height * f}x{width * f}", Time(gpu, () => model.Vae.Encode(image), reps), counter.Flops);
            counter.Reset();
            vaeCounted.Decode(latent);
            Report($"vae decode {height * f}x{width * f}", Time(gpu, () => model.Vae.Decode(latent), reps), counter.Flops);
        });
        Section("text encoder", () =>
        {
            var ids = Enumerable.Range(0, 2).Select(b => Enumerable.Range(0, 77).Select(i => (49406 + i * 7 + b) % checkpoint.TextEncoder.VocabSize).ToArray()).ToArray();
            var textCounted = new IIP.Engine.Models.Clip.ClipTextModel(checkpoint.TextEncoderWeights, checkpoint.TextEncoder, counter);
            counter.Reset();
            textCounted.Forward(ids);
            Report("text encoder batch 2", Time(gpu, () => model.TextEncoder.Forward(ids), reps), counter.Flops);
        });
        Section("perturbation gradient", () =>
        {
            // IIP.md step 3: d TCNP / d c* through the UNet at t = 981 (TcnpObjective: an eager forward with e0, a recorded
            // forward with c*, its backward);
            // the default optimization runs it 10 iterations x 4 noise latents once per model (then cached)
            var x = noise.Sample(1, checkpoint.Unet.InChannels, height, width);
            var c = noise.Sample(1, 77, checkpoint.Unet.CrossAttentionDim);
            var uncond = noise.Sample(1, 77, checkpoint.Unet.CrossAttentionDim);
            TcnpObjective.LossAndGradient(unet, gpu, x, 981, c, uncond);
            var timing = Time(gpu, () => TcnpObjective.LossAndGradient(unet, gpu, x, 981, c, uncond), Math.Max(1, reps / 2));
            var defaults = new IipOptions();
            Print($"perturbation gradient (TCNP and its gradient through the UNet): {timing.Best * 1e3:F1} ms (median {timing.Median * 1e3:F1}); " +
                  $"the default optimization ({defaults.PerturbationIterations} x {defaults.PerturbationNoiseLatents}) about " +
                  $"{timing.Best * defaults.PerturbationIterations * defaults.PerturbationNoiseLatents:F1} s");
        });
        Section("iip", () =>
        {
            // IIP per image with the method's defaults; the embeddings are random (no tokenizer travels), which changes no work.
            var options = new IipOptions();
            var empty = gpu.FromHost(noise.Sample(1, 77, checkpoint.Unet.CrossAttentionDim));
            var perturbation = gpu.FromHost(noise.Sample(1, 77, checkpoint.Unet.CrossAttentionDim));
            // the pipeline's loops replay CUDA graphs (UNetGraphs): three inversion steps against the eager forward
            var z0 = gpu.ToHost(latent);
            var replayed = model.Sampler.Invert(z0, 3, options.GridSteps, empty);
            var eager = new DdimSampler(new NoisePredictor(gpu, unet, recordGraphs: false), model.Scheduler).Invert(z0, 3, options.GridSteps, empty);
            Print($"inversion, 3 steps: graph-replayed pipeline vs eager forwards max |diff| {MaxAbsDiff(replayed, eager):G3} (expected 0)");

            var detector = new IipDetector(model, options, empty, perturbation);
            var hostImage = gpu.ToHost(image);
            detector.Score(hostImage);
            int images = Math.Max(2, reps / 2);
            var calls = IIP.Native.DriverCallCounts.Now();
            var iip = Stopwatch.StartNew();
            for (int i = 0; i < images; i++) detector.Score(hostImage);
            double perImage = iip.Elapsed.TotalSeconds / images;
            var perImageCalls = IIP.Native.DriverCallCounts.Now() - calls;
            // IIP.md: t_I unconditional inversion steps up the grid, then the same t_I timesteps back down with guidance
            Print($"iip {height * f}x{width * f} ({options.InversionSteps} inversion steps at batch 1 + {options.InversionSteps} guided steps at batch 2, latent cosine): " +
                  $"{perImage:F3} s/image = {1 / perImage:F2} images/s over {images} images; per image {perImageCalls.HostDeviceCopies / (double)images:F1} " +
                  $"host-device copies, {perImageCalls.Launches / (double)images:F1} launches");
            // `iip scan --batch N`: N images inverted and regenerated together (UNet batch N and 2N). Each batch size records
            // its own graphs (about one forward's activations each), released before the next size.
            foreach (int batch in new[] { 4, 8, 16, 32 })
            {
                model.Sampler.Predictor.ReleaseGraphs();
                try
                {
                    var batchImages = Enumerable.Repeat(hostImage, batch).ToList();
                    detector.ScoreBatch(batchImages);   // records the graphs of this size
                    var batched = Stopwatch.StartNew();
                    detector.ScoreBatch(batchImages);
                    double perImageBatched = batched.Elapsed.TotalSeconds / batch;
                    Print($"iip batch {batch}: {perImageBatched:F3} s/image = {1 / perImageBatched:F2} images/s; pool {gpu.PoolMemory.Reserved / (1 << 30):F1} GiB reserved");
                }
                catch (IIP.Native.CudaException e)
                {
                    Print($"iip batch {batch}: failed ({e.Message}); larger batches skipped");
                    break;
                }
            }
        });
        return failures == 0 ? 0 : 1;

        // One part of the bench; a failure is printed and the other parts still run (device time is scarce).
        void Section(string name, Action body)
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                failures++;
                Print($"FAILED {name}: {e}");
            }
        }
    }

    private readonly record struct Timing(double Best, double Median);

    private static Timing Time(CudaBackend gpu, Action work, int reps)
    {
        work();
        work();
        gpu.Synchronize();
        var times = new double[Math.Max(1, reps)];
        for (int i = 0; i < times.Length; i++)
        {
            var watch = Stopwatch.StartNew();
            work();
            gpu.Synchronize();
            times[i] = watch.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return new Timing(times[0], times[times.Length / 2]);
    }

    private static void Report(string what, Timing timing, double flops) =>
        Print($"{what}: {timing.Best * 1e3:F2} ms (median {timing.Median * 1e3:F2}) = {1 / timing.Best:F1} it/s, " +
              $"{flops / 1e9:F1} GFLOP, {flops / timing.Best / 1e12:F1} TFLOP/s");

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a.Data[i] - b.Data[i]));
        return max;
    }

    private static void Print(string line) => Console.WriteLine(line);
}
