using IIP.Engine.Backends;
using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;

namespace IIP.Engine.Sampling;

/// <summary>
/// The DDIM loops every part of the tool samples with (IIP's inversion and regeneration, its calibration, ori-prompt,
/// PIA, SecMI, the denoising loss, <c>iip generate</c>, <c>iip golden</c>): one noise predictor, the model's scheduler
/// and the backend's <see cref="ISamplingSteps"/>. Latents stay on the backend from the first step to the last (on the
/// CUDA backend: no host copy inside a loop; the TCNP values are read once at its end); the host sees the latent in and
/// the result out. Formulas: <see cref="DdimScheduler"/> (DDIM, eta 0) and classifier-free guidance
/// eps = eps_u + g (eps_c - eps_u) with TCNP = ||eps_c - eps_u||_2 per item (Wen et al. 2024). For a v-prediction
/// model (SD 2.x 768-v) guidance and TCNP work on the UNet's raw outputs v (guidance is linear, so guiding v or eps is the
/// same; TCNP = ||v_c - v_u|| as Wen et al.'s code computes it), and each step's transfer takes v directly
/// (<see cref="DdimStepCoefficients.ForVelocity"/>, with the alpha of x's own level).
/// Memory: each loop runs in an <see cref="ActivationScope"/> and releases its uploads (<see cref="IBackend.Release"/>), so
/// it returns every device buffer it used when it returns, never leaving one to a finalizer.
/// </summary>
public sealed class DdimSampler(NoisePredictor predictor, DdimScheduler scheduler)
{
    public NoisePredictor Predictor { get; } = predictor;

    public DdimScheduler Scheduler { get; } = scheduler;

    private IBackend Backend => Predictor.Backend;

    private ISamplingSteps Steps => Predictor.Backend.SamplingSteps;

    /// <summary>
    /// eps_theta(x_i, t_i, context) for every latent of a batch in one UNet call. x [N, C, h, w], timesteps [N], context
    /// [1, S, D] shared by all items or [N, S, D] -> eps [N, C, h, w] (host).
    /// </summary>
    public Tensor PredictNoise(Tensor x, IReadOnlyList<int> timesteps, Tensor context)
    {
        int n = x.Shape[0];
        RequireTimesteps(n, timesteps);
        using var scope = Backend.OpenScope();
        var contexts = Contexts(n, context);
        var eps = Backend.ToHostOutOf(scope, Predictor.Predict(x, Floats(timesteps), contexts));
        Backend.ReleaseUpload(contexts, context);
        return NoiseOnHost(eps, x, timesteps);
    }

    /// <summary>
    /// Classifier-free guidance for a batch, as <see cref="GuidedSample"/>'s steps compute it: one UNet call on [x; x] under
    /// [uncond x N; cond x N]; g = 1 is the conditional prediction alone (one call at batch N). x [N, C, h, w],
    /// timesteps [N], uncond and cond [1, S, D] -> eps [N, C, h, w] (host).
    /// </summary>
    public Tensor GuidedNoise(Tensor x, IReadOnlyList<int> timesteps, Tensor uncond, Tensor cond, float guidance)
    {
        if (guidance == 1f) return PredictNoise(x, timesteps, cond);
        int n = x.Shape[0];
        RequireTimesteps(n, timesteps);
        using var scope = Backend.OpenScope();
        var uploaded = Backend.FromHost(x);
        var pair = Pair(uploaded);
        var contexts = GuidanceContexts(n, uncond, cond);
        var epsPair = Predictor.Predict(pair, Floats([.. timesteps, .. timesteps]), contexts);
        var eps = Backend.Allocate(x.Shape);
        Steps.GuidanceCombine(epsPair, guidance, eps);
        var result = Backend.ToHostOutOf(scope, eps);
        Backend.ReleaseUpload(uploaded, x);
        Backend.Release(contexts);
        return NoiseOnHost(result, x, timesteps);
    }

    /// <summary>
    /// Guided DDIM sampling of N latents over <paramref name="timesteps"/> (descending, spacing <paramref name="ratio"/>),
    /// one UNet call at batch 2N per step: latents [N, C, h, w] (host or backend), uncond and cond [1, S, D] (shared) or
    /// [N, S, D] (one prompt per latent) ->
    /// the final latents [N, C, h, w] (host) and the TCNP of every step, [step][item].
    /// </summary>
    public GuidedSamples GuidedSample(Tensor latents, IReadOnlyList<int> timesteps, int ratio, Tensor uncond, Tensor cond, float guidance,
        IProgress<int>? progress = null)
    {
        int n = latents.Shape[0];
        using var scope = Backend.OpenScope();
        var contexts = GuidanceContexts(n, uncond, cond);
        var x = Working(latents);
        var pair = Backend.Allocate([2 * n, .. x.Shape[1..]]);
        var log = Steps.NewTcnpLog(timesteps.Count, n);
        for (int i = 0; i < timesteps.Count; i++)
        {
            int t = timesteps[i];
            Steps.DuplicateBatch(x, pair);
            var outputPair = Predictor.Predict(pair, Repeated(t, 2 * n), contexts);
            Steps.GuidedDdimStep(outputPair, x, guidance, Scheduler.StepCoefficients(Scheduler.Alpha(t), Scheduler.Alpha(t - ratio)), x, log, i);
            progress?.Report(i + 1);
        }
        var result = new GuidedSamples(Backend.ToHostOutOf(scope, x), log.Read());
        Backend.Release(x);
        Backend.Release(contexts);
        return result;
    }

    /// <summary>
    /// Unconditional DDIM inversion (no guidance) over the first <paramref name="steps"/> timesteps of the ascending
    /// <paramref name="gridSteps"/>-step grid: x_t = invert(x_{t - ratio}, eps(x_{t - ratio}, t, context)).
    /// z0 [N, C, h, w] (host or backend), context [1, S, D] shared or [N, S, D] -> the latents at the last timestep (host).
    /// <paramref name="path"/>, when given, receives z0 and the latent after every step (host copies: one per step).
    /// </summary>
    public Tensor Invert(Tensor z0, int steps, int gridSteps, Tensor context, List<Tensor>? path = null)
    {
        int ratio = Scheduler.StepRatio(gridSteps);
        var ascending = Scheduler.Timesteps(gridSteps).Reverse().Take(steps).ToArray();
        int n = z0.Shape[0];
        using var scope = Backend.OpenScope();
        var contexts = Contexts(n, context);
        var x = Working(z0);
        path?.Add(Backend.ToHost(z0).Clone());
        foreach (int t in ascending)
        {
            var output = Predictor.Predict(x, Repeated(t, n), contexts);
            Steps.DdimTransfer(x, output, Scheduler.StepCoefficients(Scheduler.Alpha(t - ratio), Scheduler.Alpha(t)), x);   // x is at t - ratio
            path?.Add(Backend.ToHost(x).Clone());
        }
        var result = Backend.ToHostOutOf(scope, x);
        Backend.Release(x);
        Backend.ReleaseUpload(contexts, context);
        return result;
    }

    /// <summary>
    /// One deterministic DDIM step from timestep <paramref name="from"/> to <paramref name="to"/> (either direction) with
    /// eps(x, from, context): x [N, C, h, w], context [1, S, D] or [N, S, D] -> [N, C, h, w] (host). SecMI's D(x, from, to).
    /// </summary>
    public Tensor Transfer(Tensor x, int from, int to, Tensor context)
    {
        int n = x.Shape[0];
        using var scope = Backend.OpenScope();
        var working = Working(x);
        var contexts = Contexts(n, context);
        var output = Predictor.Predict(working, Repeated(from, n), contexts);
        Steps.DdimTransfer(working, output, Scheduler.StepCoefficients(Scheduler.Alpha(from), Scheduler.Alpha(to)), working);
        var result = Backend.ToHostOutOf(scope, working);
        Backend.Release(working);
        Backend.ReleaseUpload(contexts, context);
        return result;
    }

    // a copy of the input on the backend that the loop may overwrite (an input already on a device comes by the host:
    // callers hand in host latents)
    private Tensor Working(Tensor latents) => Backend.FromHost(latents.IsHost ? latents.Clone() : Backend.ToHost(latents));

    // the noise a v-prediction output stands for, on the host, for a batch whose item i is at timestep timesteps[i]:
    // eps = sqrt(a) v + sqrt(1 - a) x (DdimScheduler.NoiseFromOutput); output [N, ..], x [N, ..] -> eps [N, ..]
    private Tensor NoiseOnHost(Tensor output, Tensor x, IReadOnlyList<int> timesteps)
    {
        if (!Scheduler.PredictsVelocity) return output;
        var latents = Backend.ToHost(x);
        var eps = new Tensor(output.Shape);
        int per = (int)(output.Length / output.Shape[0]);
        for (int i = 0; i < output.Shape[0]; i++)
            Scheduler.NoiseFromOutput(latents.Data.AsSpan(i * per, per), output.Data.AsSpan(i * per, per), Scheduler.Alpha(timesteps[i]), eps.Data.AsSpan(i * per, per));
        return eps;
    }

    private Tensor Pair(Tensor x)
    {
        var pair = Backend.Allocate([2 * x.Shape[0], .. x.Shape[1..]]);
        Steps.DuplicateBatch(x, pair);
        return pair;
    }

    // context [1, S, D] or [N, S, D] -> [N, S, D] on the backend (one upload per loop; the context itself when it is
    // [N, S, D] on the backend already)
    private Tensor Contexts(int n, Tensor context)
    {
        if (context.Shape[0] == n) return Backend.FromHost(context);
        if (context.Shape[0] != 1) throw new ArgumentException($"{n} latents need one context or {n}, got [{context.ShapeText}]");
        var host = Backend.ToHost(context);
        return Backend.FromHost(Tensor.ConcatBatch(Enumerable.Repeat(host, n).ToArray()));
    }

    // [uncond x N; cond x N] [2N, S, D] on the backend, uncond first as the guidance steps read it
    // uncond and cond each [1, S, D] (shared by the N items) or [N, S, D] (one per item) -> [2N, S, D] on the backend:
    // the N unconditional rows first, then the N conditional ones, as DuplicateBatch lays out the latents
    private Tensor GuidanceContexts(int n, Tensor uncond, Tensor cond)
    {
        if ((uncond.Shape[0] != 1 && uncond.Shape[0] != n) || (cond.Shape[0] != 1 && cond.Shape[0] != n))
            throw new ArgumentException($"guidance of {n} latents takes uncond and cond embeddings [1, S, D] (shared) or [{n}, S, D] (one per latent), " +
                                        $"got [{uncond.ShapeText}] and [{cond.ShapeText}]");
        var u = Backend.ToHost(uncond);
        var c = Backend.ToHost(cond);
        return Backend.FromHost(Tensor.ConcatBatch([.. PerItem(u, n), .. PerItem(c, n)]));
    }

    private static IEnumerable<Tensor> PerItem(Tensor embedding, int n) =>
        embedding.Shape[0] == n ? Enumerable.Range(0, n).Select(i => embedding.SliceBatch(i)) : Enumerable.Repeat(embedding, n);

    private static float[] Repeated(int t, int n) => Enumerable.Repeat((float)t, n).ToArray();

    private static float[] Floats(IReadOnlyList<int> timesteps) => timesteps.Select(t => (float)t).ToArray();

    private static void RequireTimesteps(int n, IReadOnlyList<int> timesteps)
    {
        if (timesteps.Count != n) throw new ArgumentException($"{n} latents need {n} timesteps, got {timesteps.Count}");
    }
}

/// <summary>The result of a guided sampling loop: latents [N, C, h, w] (host) and TCNP [step][item].</summary>
public sealed record GuidedSamples(Tensor Latents, double[][] Tcnp);
