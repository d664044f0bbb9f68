using IIP.Engine.Optim;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;
using IIP.Detection.Files;

namespace IIP.Detection.Methods;

/// <summary>The optimized perturbation embedding and the loss before each AdamW step.</summary>
public sealed record PerturbationResult(Tensor Embedding, double[] Losses, bool FromCache);

/// <summary>
/// IIP.md step 4: a prompt embedding made non-memorized by minimizing Wen's TCNP. Start from the embedding
/// of a meaningless prompt (or random rows); for each AdamW step, L(c) = mean over K fixed noise latents
/// x_k ~ N(0, I) of ||eps(x_k, T, c) - eps(x_k, T, e0)||_2 at the first grid timestep T (981); the gradient of
/// token 0 (BOS) is zeroed before each step. Computed once per model and options, cached on disk.
/// </summary>
public static class PerturbationEmbedding
{
    /// <summary>
    /// Optimizes from <paramref name="start"/> [1, S, D]. Used directly by the golden <c>optim.*</c> cases and by
    /// <see cref="Compute"/>. noise: the K latents [1, C, h, w].
    /// </summary>
    public static PerturbationResult Optimize(StableDiffusion model, Tensor start, Tensor uncond, IReadOnlyList<Tensor> noise, int timestep,
        AdamWOptions adam, int iterations, IProgress<string>? log = null)
    {
        var c = start.Clone();
        int width = c.Dim(-1);
        var optimizer = new AdamW((int)c.Length, adam);
        var losses = new double[iterations];
        for (int it = 0; it < iterations; it++)
        {
            var grad = new float[c.Length];
            double loss = 0;
            foreach (var x in noise)
            {
                var (l, g) = TcnpObjective.LossAndGradient(model.Unet, model.Backend, x, timestep, c, uncond);
                loss += l / noise.Count;
                for (int i = 0; i < grad.Length; i++) grad[i] += g.Data[i] / noise.Count;
            }
            Array.Clear(grad, 0, width);   // token 0 (BOS) is not optimized (AdamW's weight decay still scales it, as PyTorch's does)
            losses[it] = loss;
            optimizer.Step(c.Data, grad);
            log?.Report($"perturbation embedding: step {it + 1}/{iterations}, TCNP {loss:F5}");
        }
        return new PerturbationResult(c, losses, FromCache: false);
    }

    /// <summary>
    /// The perturbation embedding for <paramref name="model"/> under <paramref name="options"/>, read from
    /// <paramref name="cacheDirectory"/> when present (key: model fingerprint + options), else optimized and saved.
    /// </summary>
    public static PerturbationResult Compute(StableDiffusion model, string modelFingerprint, IipOptions options, Tensor uncond,
        string? cacheDirectory, IProgress<string>? log = null)
    {
        string? cachePath = cacheDirectory is null ? null
            : Path.Combine(cacheDirectory, $"perturbation-{modelFingerprint[..16]}-{options.PerturbationKey()}.safetensors");
        using var held = cachePath is null ? null : CacheLock.Wait(cachePath, log);   // the tasks of a sharded scan compute it once
        if (cachePath is not null && File.Exists(cachePath))
        {
            using var cached = SafetensorsFile.Open(cachePath);
            var losses = cached.Load("losses").Data.Select(v => (double)v).ToArray();
            log?.Report($"perturbation embedding: cached {cachePath}");
            return new PerturbationResult(cached.Load("embedding"), losses, FromCache: true);
        }

        var start = options.PerturbationInit == PerturbationInit.Prompt
            ? model.Backend.ToHost(model.EncodePrompts([options.PerturbationPrompt]))
            : RandomStart(uncond, options.Seed);
        var noiseRng = new GaussianNoise(options.Seed);
        var latentShape = model.NativeLatentShape;
        var noise = Enumerable.Range(0, options.PerturbationNoiseLatents).Select(_ => noiseRng.Sample(latentShape)).ToArray();
        int timestep = model.Scheduler.Timesteps(options.GridSteps)[0];
        var adam = new AdamWOptions { LearningRate = options.PerturbationLearningRate };
        var result = Optimize(model, start, uncond, noise, timestep, adam, options.PerturbationIterations, log);
        long bad = Engine.Weights.NonFiniteWeights.FindFirst(result.Embedding.Span);
        if (bad >= 0 || result.Losses.Any(l => !double.IsFinite(l)))
            throw new InvalidOperationException($"the perturbation embedding became non-finite while it was optimized (TCNP per step: {string.Join(", ", result.Losses.Select(l => l.ToString("G4")))}); " +
                                                "it is not cached. Try a smaller --perturbation-lr or fewer --perturbation-iterations, or check the model's weights");

        if (cachePath is not null)
        {
            Directory.CreateDirectory(cacheDirectory!);
            AtomicFile.Write(cachePath, temporary => SafetensorsWriter.Write(temporary, [
                SafetensorsTensor.From("embedding", result.Embedding, WeightDType.F32),
                SafetensorsTensor.From("losses", Tensor.From(result.Losses.Select(v => (float)v).ToArray(), result.Losses.Length), WeightDType.F32),
            ], new Dictionary<string, string> { ["model"] = modelFingerprint, ["options"] = options.PerturbationKey() }));
        }
        return result;
    }

    // random N(0, 1) rows, row 0 (BOS) taken from the empty prompt's embedding
    internal static Tensor RandomStart(Tensor uncond, int seed)
    {
        var start = new GaussianNoise(seed ^ 0x5EED).Sample(uncond.Shape);
        int width = uncond.Dim(-1);
        Array.Copy(uncond.Data, start.Data, width);
        return start;
    }
}
