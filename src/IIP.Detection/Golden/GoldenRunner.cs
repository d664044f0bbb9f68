using System.Text.Json;
using IIP.Detection.Methods;
using IIP.Engine.Backends;
using IIP.Engine.Diagnostics;
using IIP.Engine.Optim;
using IIP.Engine.Pipelines;
using IIP.Engine.Sampling;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Detection.Golden;

/// <summary>
/// Recomputes the cases of a golden file (data/golden/README.md defines names and meanings) with a loaded
/// model and compares them with the stored references. Cases whose reference tensors are absent are skipped;
/// cases this engine cannot compute are reported NOT RUN with the reason, never as passed.
/// <paramref name="precision"/> picks the bounds: the README's for fp32 storage (the CPU backend), or
/// <see cref="GoldenFp16Tolerances"/> for fp16 storage (the CUDA backend); by default the model's backend's
/// (<see cref="PrecisionOf"/>).
/// </summary>
public sealed class GoldenRunner(StableDiffusion model, IWeightSource golden, string? goldenJsonPath, IReadOnlyList<string>? onlyPrefixes = null,
    GoldenPrecision? precision = null)
{
    /// <summary>The storage precision whose bounds the cases are judged by.</summary>
    public GoldenPrecision Precision { get; } = precision ?? PrecisionOf(model.Backend);

    /// <summary>fp16 storage for the CUDA backend and the CPU's emulation of it (<see cref="IBackend.Precision"/>), else fp32.</summary>
    public static GoldenPrecision PrecisionOf(IBackend backend) =>
        backend.Precision == StoragePrecision.Fp16 ? GoldenPrecision.Fp16Storage : GoldenPrecision.Fp32;

    /// <summary>The references (golden.safetensors) and the tokenizer cases beside them (golden.json), given either file.</summary>
    public static (string Tensors, string Json) FilesOf(string goldenPath)
    {
        string tensors = goldenPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Path.ChangeExtension(goldenPath, ".safetensors") : goldenPath;
        return (tensors, Path.ChangeExtension(tensors, ".json"));
    }

    /// <summary>
    /// Runs the cases, writing one <see cref="GoldenResult.Format"/> line per case as it finishes and then the
    /// "N passed, N failed, N not run" summary (", N errors" when a case threw); returns the number of failed and errored
    /// cases, the ones that make the run fail.
    /// </summary>
    public int RunAndReport(TextWriter output)
    {
        int pass = 0, fail = 0, notRun = 0, errors = 0;
        foreach (var result in Run())
        {
            output.WriteLine(result.Format());
            switch (result.Status)
            {
                case GoldenStatus.Pass: pass++; break;
                case GoldenStatus.Fail: fail++; break;
                case GoldenStatus.Error: errors++; break;
                default: notRun++; break;
            }
        }
        output.WriteLine($"{pass} passed, {fail} failed, {notRun} not run" + (errors > 0 ? $", {errors} errors" : ""));
        return fail + errors;
    }

    /// <summary>
    /// The cases, in the README's order. A case (or a group of cases computed together) that throws is reported ERROR with
    /// the exception (a failure of the run) and the others still run, so the report is always whole; a failure of the
    /// device itself propagates (every later case would fail the same way).
    /// </summary>
    public IEnumerable<GoldenResult> Run()
    {
        var ctx = new GoldenContext(model, golden);
        if (goldenJsonPath is not null && File.Exists(goldenJsonPath) && Selected("tokenizer"))
            foreach (var r in Guarded(["tokenizer"], () => [Tokenizer(goldenJsonPath)], inGoldenJson: true)) yield return r;
        foreach (var (names, compute) in Cases)
            foreach (var r in Guarded(names, () => compute(this, ctx))) yield return r;
    }

    /// <summary>
    /// The reference cases of a golden file, in the order they are reported: each group of cases computed together, by the
    /// tensor names it compares (the other tensors of the file are inputs: unet.x, vae.image, ...).
    /// </summary>
    private static readonly (string[] Names, Func<GoldenRunner, GoldenContext, IEnumerable<GoldenResult>> Compute)[] Cases =
    [
        (["text_encoder.hidden"], (g, ctx) => [g.Compare("text_encoder.hidden", ctx.Hidden, GoldenTolerance.Forward)]),
        (["scheduler.timesteps50"], (g, _) => [g.SchedulerTimesteps()]),
        (["scheduler.alphas_cumprod"], (g, _) => [g.SchedulerAlphas()]),
        (["unet.eps.t981"], (g, _) => [g.UnetEps(981)]),
        (["unet.eps.t501"], (g, _) => [g.UnetEps(501)]),
        (["unet.eps.t1"], (g, _) => [g.UnetEps(1)]),
        (["vae.mean", "vae.logvar"], (g, _) => g.VaeEncode()),
        (["vae.decoded"], (g, _) => [g.VaeDecoded()]),
        (["ddim.step.t501"], (g, _) => g.DdimStep()),
        (["inversion.start"], (g, _) => [g.InversionStart()]),
        (["inversion.latents"], (g, ctx) => g.Inversion(ctx)),
        (["regen.latent", "regen.tcnp", "regen.image"], (g, ctx) => g.Regeneration(ctx)),
        (["txt2img.latent", "txt2img.tcnp"], (g, ctx) => g.TextToImage(ctx)),
        (["grad.loss", "grad.dctx"], (g, ctx) => g.Gradient(ctx)),
        (["optim.losses", "optim.ctx"], (g, ctx) => g.Optimization(ctx)),
    ];

    /// <summary>Every case name a golden file can hold, in report order (the tokenizer case of golden.json first).</summary>
    public static IReadOnlyList<string> CaseNames { get; } = ["tokenizer", .. Cases.SelectMany(c => c.Names)];

    private GoldenResult SchedulerTimesteps() =>
        Compare("scheduler.timesteps50", model.Scheduler.Timesteps(50).Select(t => (float)t).ToArray(), GoldenTolerance.Scheduler);

    private GoldenResult SchedulerAlphas() => Compare("scheduler.alphas_cumprod", model.Scheduler.AlphasCumprod, GoldenTolerance.Scheduler);

    private GoldenResult VaeDecoded() =>
        Compare("vae.decoded", model.Backend.ToHost(model.Vae.Decode(model.Backend.FromHost(Ref("vae.mean")))).Data, GoldenTolerance.Forward);

    private GoldenResult InversionStart() =>
        Compare("inversion.start", model.Backend.ToHost(model.Backend.Scale(model.Backend.FromHost(Ref("vae.mean")), model.ScalingFactor)).Data, GoldenTolerance.Forward);

    private GoldenResult UnetEps(int t) =>
        Compare($"unet.eps.t{t}", model.Backend.ToHost(model.Unet.Forward(model.Backend.FromHost(Ref("unet.x")), t, model.Backend.FromHost(Ref("unet.ctx")))).Data, GoldenTolerance.Forward);

    private IEnumerable<GoldenResult> VaeEncode()
    {
        var posterior = model.Vae.Encode(model.Backend.FromHost(Ref("vae.image")));
        yield return Compare("vae.mean", model.Backend.ToHost(posterior.Mean).Data, GoldenTolerance.Forward);
        yield return Compare("vae.logvar", model.Backend.ToHost(posterior.LogVar).Data, GoldenTolerance.Forward);
    }

    private IEnumerable<GoldenResult> DdimStep()
    {
        // the stored UNet output at t = 501 (the noise, or v for a v-prediction model, turned into the noise at x's level)
        var x = Ref("unet.x").SliceBatch(1);
        var eps = Ref("unet.eps.t501").SliceBatch(1);
        model.Scheduler.NoiseFromOutput(x.Data, eps.Data, model.Scheduler.Alpha(501), eps.Data);
        var result = new float[x.Length];
        model.Scheduler.Step(x.Data, eps.Data, 501, model.Scheduler.StepRatio(50), result);
        yield return Compare("ddim.step.t501", result, GoldenTolerance.Scheduler);
    }

    private IEnumerable<GoldenResult> Inversion(GoldenContext ctx)
    {
        var latents = new List<Tensor>();
        model.Sampler.Invert(Ref("inversion.start"), steps: 20, gridSteps: 50, ctx.Uncond, latents);
        yield return Compare("inversion.latents", Tensor.ConcatBatch(latents.ToArray()).Data, GoldenTolerance.Loop);
    }

    private IEnumerable<GoldenResult> Regeneration(GoldenContext ctx)
    {
        var start = Ref("inversion.latents").SliceBatch(20);
        var timesteps = model.Scheduler.Timesteps(50)[30..];
        var (latent, tcnp) = Generated(model.Sampler.GuidedSample(start, timesteps, model.Scheduler.StepRatio(50), ctx.Uncond, ctx.Cond, 7.5f));
        if (Has("regen.latent")) yield return Compare("regen.latent", latent.Data, GoldenTolerance.Loop);
        if (Has("regen.tcnp")) yield return Compare("regen.tcnp", tcnp.Select(v => (float)v).ToArray(), GoldenTolerance.Loop);
        if (Has("regen.image")) yield return Compare("regen.image", model.DecodeLatent(latent).Data, GoldenTolerance.Loop);
    }

    private IEnumerable<GoldenResult> TextToImage(GoldenContext ctx)
    {
        var (latent, tcnp) = Generated(model.Sampler.GuidedSample(Ref("txt2img.noise"), model.Scheduler.Timesteps(50), model.Scheduler.StepRatio(50), ctx.Uncond, ctx.Cond, 7.5f));
        if (Has("txt2img.latent")) yield return Compare("txt2img.latent", latent.Data, GoldenTolerance.Loop);
        if (Has("txt2img.tcnp")) yield return Compare("txt2img.tcnp", tcnp.Select(v => (float)v).ToArray(), GoldenTolerance.Loop);
    }

    private IEnumerable<GoldenResult> Gradient(GoldenContext ctx)
    {
        // loss = ||eps(x, 981, c) - eps(x, 981, u)||_2 for x = unet.x[0], c = prompt 1, u = prompt 0
        var (loss, gradient) = TcnpObjective.LossAndGradient(model.Unet, model.Backend, Ref("unet.x").SliceBatch(0), 981, ctx.Cond, ctx.Uncond);
        if (Has("grad.loss")) yield return Compare("grad.loss", [(float)loss], GoldenTolerance.Forward);
        if (Has("grad.dctx")) yield return Compare("grad.dctx", gradient.Data, GoldenTolerance.Gradient);
    }

    private IEnumerable<GoldenResult> Optimization(GoldenContext ctx)
    {
        // 10 AdamW steps (lr 0.1, betas 0.9/0.999, eps 1e-8, weight decay 0.01) on c, token 0's gradient zeroed
        var adam = new AdamWOptions { LearningRate = 0.1, Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8, WeightDecay = 0.01 };
        var result = PerturbationEmbedding.Optimize(model, ctx.Cond, ctx.Uncond, [Ref("unet.x").SliceBatch(0)], 981, adam, iterations: 10);
        if (Has("optim.losses")) yield return Compare("optim.losses", result.Losses.Select(v => (float)v).ToArray(), GoldenTolerance.Loop);
        if (Has("optim.ctx")) yield return Compare("optim.ctx", result.Embedding.Data, GoldenTolerance.Loop);
    }

    // the results of one case or group of cases computed together (those of <paramref name="names"/> present and selected;
    // inGoldenJson: a case of golden.json, already checked): the ones reported before a throw, then ERROR with the
    // exception for each one not yet reported
    private IEnumerable<GoldenResult> Guarded(string[] names, Func<IEnumerable<GoldenResult>> compute, bool inGoldenJson = false)
    {
        var wanted = inGoldenJson ? names : names.Where(Has).ToArray();
        if (wanted.Length == 0) yield break;
        var results = new List<GoldenResult>();
        try
        {
            foreach (var result in compute()) results.Add(result);
        }
        catch (Exception e) when (!DeviceFailure.Is(e) && e is not OutOfMemoryException)
        {
            results.AddRange(wanted.Where(n => results.All(r => r.Case != n)).Select(n => GoldenResult.Errored(n, e)));
        }
        foreach (var r in results) yield return r;
    }

    /// <summary>
    /// Every case a golden file holds (its tensor names that are case outputs, and the tokenizer), each NOT RUN with
    /// <paramref name="reason"/>: the report for a model that could not be loaded at all.
    /// </summary>
    public static IEnumerable<GoldenResult> NotRunAll(IWeightSource golden, string? goldenJsonPath, string reason, IReadOnlyList<string>? onlyPrefixes = null)
    {
        bool Selected(string name) => onlyPrefixes is not { Count: > 0 } || onlyPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));
        if (goldenJsonPath is not null && File.Exists(goldenJsonPath) && Selected("tokenizer")) yield return GoldenResult.NotRun("tokenizer", reason);
        foreach (string name in Cases.SelectMany(c => c.Names).Where(n => golden.Names.Contains(n) && Selected(n)))
            yield return GoldenResult.NotRun(name, reason);
    }

    private bool Has(string name) => golden.Names.Contains(name) && Selected(name);

    // a case runs when no prefixes are given or its name starts with one of them
    private bool Selected(string name) => onlyPrefixes is not { Count: > 0 } || onlyPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    private Tensor Ref(string name) => golden.Load(name);

    // one guided sampling loop's final latent [1, C, h, w] and its TCNP per step
    private static (Tensor Latent, List<double> Tcnp) Generated(GuidedSamples samples) => (samples.Latents, samples.Tcnp.Select(step => step[0]).ToList());

    private GoldenResult Compare(string name, Tensor actual, GoldenTolerance tol) => Compare(name, model.Backend.ToHost(actual).Data, tol);

    private GoldenResult Compare(string name, float[] actual, GoldenTolerance tol) =>
        GoldenResult.Compare(name, actual, Ref(name).Data, Precision == GoldenPrecision.Fp16Storage ? GoldenFp16Tolerances.For(name, tol) : tol);

    private GoldenResult Tokenizer(string jsonPath)
    {
        if (model.Tokenizer is null)
            return GoldenResult.NotRun("tokenizer", "the model has no tokenizer; pass --tokenizer DIR");
        using var doc = JsonDocument.Parse(File.ReadAllText(jsonPath));
        if (!doc.RootElement.TryGetProperty("tokenizer", out var cases))
            return GoldenResult.NotRun("tokenizer", $"{jsonPath} has no tokenizer cases");
        var actual = new List<float>();
        var expected = new List<float>();
        string firstMismatch = "";
        foreach (var c in cases.EnumerateArray())
        {
            string text = c.GetProperty("text").GetString()!;
            var ids = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var got = model.Tokenizer.Encode(text);
            if (firstMismatch.Length == 0 && !got.SequenceEqual(ids)) firstMismatch = $"first mismatch: \"{text}\"";
            actual.AddRange(got.Select(i => (float)i));
            expected.AddRange(ids.Select(i => (float)i));
        }
        var r = GoldenResult.Compare("tokenizer", actual.ToArray(), expected.ToArray(), GoldenTolerance.Exact);
        return firstMismatch.Length > 0 ? r with { Detail = firstMismatch } : r;
    }
}

/// <summary>Inputs shared by golden cases: the text encoder's output for the stored ids, computed once.</summary>
public sealed class GoldenContext
{
    private readonly Lazy<Tensor> _hidden;

    public GoldenContext(StableDiffusion model, IWeightSource golden)
    {
        Model = model;
        Golden = golden;
        _hidden = new Lazy<Tensor>(() =>
        {
            var ids = golden.Load("text_encoder.ids");  // [P, 77] as float
            int p = ids.Shape[0], t = ids.Shape[1];
            var rows = Enumerable.Range(0, p).Select(i => ids.Data.AsSpan(i * t, t).ToArray().Select(v => (int)v).ToArray()).ToArray();
            return model.Backend.ToHost(model.TextEncoder.Forward(rows));
        });
    }

    public StableDiffusion Model { get; }
    public IWeightSource Golden { get; }

    /// <summary>Text-encoder last hidden state for the golden ids [P, 77, D]; prompt 0 is "", prompt 1 the conditioning prompt.</summary>
    public Tensor Hidden => _hidden.Value;

    public Tensor Uncond => Hidden.SliceBatch(0);

    public Tensor Cond => Hidden.SliceBatch(1);
}
