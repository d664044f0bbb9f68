using IIP.Engine.Configs;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;

namespace IIP.TestSupport.Conformance;

internal static partial class ConformanceCases
{
    // SD v1.4's scheduler: the reference for the fused DDIM kernels.
    private static DdimScheduler Scheduler { get; } = new(SchedulerConfig.StableDiffusionV14);

    private static IEnumerable<ConformanceCase> Sampling()
    {
        const int Ratio = 20;  // 50 steps
        int[] latent = [1, 4, 64, 64];
        int n = 4 * 64 * 64;
        // fp32 arithmetic as the reference; x0 = (x - s eps) / sqrt(a) amplifies by up to 1 / sqrt(a(981)) ~ 15, then one fp16
        // rounding of the result
        var step = new Tolerance(1e-3, 1e-3, "fp16 rounding of the new latent; fp32 arithmetic as DdimScheduler");
        foreach (var (t, invert) in new[] { (981, false), (21, false), (1, false), (21, true), (981, true) })
        {
            string name = $"ddim_{(invert ? "invert" : "step")} t={t} [1,4,64,64]";
            yield return Single(name, "ddim.cu ddim_transfer_f16", step, 8.0 * n,
                () => [ConformanceHarness.Normal(80 + t, 1f, latent), ConformanceHarness.Normal(81 + t, 1f, latent)],
                x =>
                {
                    var y = new Tensor(latent);
                    if (invert) Scheduler.InvertStep(x[0].Data, x[1].Data, t, Ratio, y.Data);
                    else Scheduler.Step(x[0].Data, x[1].Data, t, Ratio, y.Data);
                    return y;
                },
                (g, x) =>
                {
                    var y = g.Allocate(latent);
                    float from = invert ? Scheduler.Alpha(t - Ratio) : Scheduler.Alpha(t), to = invert ? Scheduler.Alpha(t) : Scheduler.Alpha(t - Ratio);
                    g.DdimTransfer(x[0], x[1], DdimStepCoefficients.ForNoise(from, to), y);
                    return y;
                });
        }

        // a v-prediction step (SD 2.x 768-v): the kernel with A = 1, B = 0, against diffusers' form computed directly,
        // x0 = sqrt(a) x - sqrt(1 - a) v, eps = sqrt(a) v + sqrt(1 - a) x, y = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps
        foreach (int t in new[] { 981, 21 })
        {
            yield return Single($"ddim_step v-prediction t={t} [1,4,64,64]", "ddim.cu ddim_transfer_f16", step, 8.0 * n,
                () => [ConformanceHarness.Normal(90 + t, 1f, latent), ConformanceHarness.Normal(91 + t, 1f, latent)],
                x =>
                {
                    double a = Scheduler.Alpha(t), aPrev = Scheduler.Alpha(t - Ratio);
                    var y = new Tensor(latent);
                    for (int i = 0; i < n; i++)
                    {
                        double xi = x[0].Data[i], v = x[1].Data[i];
                        double x0 = Math.Sqrt(a) * xi - Math.Sqrt(1 - a) * v, eps = Math.Sqrt(a) * v + Math.Sqrt(1 - a) * xi;
                        y.Data[i] = (float)(Math.Sqrt(aPrev) * x0 + Math.Sqrt(1 - aPrev) * eps);
                    }
                    return y;
                },
                (g, x) =>
                {
                    var y = g.Allocate(latent);
                    g.DdimTransfer(x[0], x[1], DdimStepCoefficients.ForVelocity(Scheduler.Alpha(t), Scheduler.Alpha(t - Ratio)), y);
                    return y;
                });
        }

        // TCNP: fp32 partial sums of squares of fp32 differences of fp16 inputs (exact), against the reference's double sum
        var norm = new Tolerance(1e-5, 0, "fp32 block partial sums over 16384 squares, against a double sum");
        foreach (float guidance in new[] { 7.5f, 1f })
        {
            string name = $"guidance_combine g={guidance} [2,4,64,64] + TCNP";
            yield return new ConformanceCase(name, "guidance.cu guidance_combine_f16", (gpu, options) =>
            {
                var pair = ConformanceHarness.Normal(90, 1f, 2, 4, 64, 64);
                var (expected, tcnp) = GuidedReference(pair, guidance);
                var d = gpu.FromHost(pair);
                var eps = gpu.Allocate(latent);
                CudaBackend.PendingNorm? pending = null;
                double ms = ConformanceHarness.RunAndTime(gpu, options, () => pending = gpu.GuidanceCombine(d, guidance, eps));
                return new CaseResult(name, "guidance.cu", Pointwise,
                [
                    ConformanceHarness.Compare("eps", expected, gpu.ToHost(eps), Pointwise),
                    ConformanceHarness.Compare("tcnp", Tensor.From([(float)tcnp], 1), Tensor.From([(float)pending!.Read()], 1), norm),
                ], ms, 4.0 * n);
            });
        }
        {
            const int T = 981;
            string name = $"guided_ddim_step g=7.5 t={T} [1,4,64,64] + TCNP";
            yield return new ConformanceCase(name, "ddim.cu guided_ddim_step_f16", (gpu, options) =>
            {
                var pair = ConformanceHarness.Normal(91, 1f, 2, 4, 64, 64);
                var x = ConformanceHarness.Normal(92, 1f, latent);
                var (eps, tcnp) = GuidedReference(pair, 7.5f);
                var expected = new Tensor(latent);
                Scheduler.Step(x.Data, eps.Data, T, Ratio, expected.Data);
                var dPair = gpu.FromHost(pair);
                var dx = gpu.FromHost(x);
                var y = gpu.Allocate(latent);
                CudaBackend.PendingNorm? pending = null;
                double ms = ConformanceHarness.RunAndTime(gpu, options,
                    () => pending = gpu.GuidedDdimStep(dPair, dx, 7.5f, DdimStepCoefficients.ForNoise(Scheduler.Alpha(T), Scheduler.Alpha(T - Ratio)), y));
                return new CaseResult(name, "ddim.cu", step,
                [
                    ConformanceHarness.Compare("x_prev", expected, gpu.ToHost(y), step),
                    ConformanceHarness.Compare("tcnp", Tensor.From([(float)tcnp], 1), Tensor.From([(float)pending!.Read()], 1), norm),
                ], ms, 12.0 * n);
            });
        }
        {
            // three items in one launch (the batched loops' layout: eps pair [u_0, u_1, u_2, c_0, c_1, c_2]); each item's TCNP
            // is its own row of partials, so an item mixed up with another moves a norm by far more than the tolerance
            const int T = 501, Items = 3;
            int[] items = [Items, 4, 32, 32];
            int per = 4 * 32 * 32;
            string name = $"guided_ddim_step g=7.5 t={T} [3,4,32,32] + TCNP per item";
            yield return new ConformanceCase(name, "ddim.cu guided_ddim_step_f16", (gpu, options) =>
            {
                var pair = ConformanceHarness.Normal(93, 1f, 2 * Items, 4, 32, 32);
                var x = ConformanceHarness.Normal(94, 1f, items);
                var expected = new Tensor(items);
                var tcnp = new float[Items];
                for (int i = 0; i < Items; i++)
                {
                    // item i's pair [u_i; c_i] -> the single-item reference
                    var itemPair = Tensor.ConcatBatch(pair.SliceBatch(i), pair.SliceBatch(Items + i));
                    var (eps, itemTcnp) = GuidedReference(itemPair, 7.5f);
                    Scheduler.Step(x.SliceBatch(i).Data, eps.Data, T, Ratio, expected.Data.AsSpan(i * per, per));
                    tcnp[i] = (float)itemTcnp;
                }
                var dPair = gpu.FromHost(pair);
                var dx = gpu.FromHost(x);
                var y = gpu.Allocate(items);
                CudaBackend.PendingNorm? pending = null;
                double ms = ConformanceHarness.RunAndTime(gpu, options,
                    () => pending = gpu.GuidedDdimStep(dPair, dx, 7.5f, DdimStepCoefficients.ForNoise(Scheduler.Alpha(T), Scheduler.Alpha(T - Ratio)), y));
                return new CaseResult(name, "ddim.cu", step,
                [
                    ConformanceHarness.Compare("x_prev", expected, gpu.ToHost(y), step),
                    ConformanceHarness.Compare("tcnp", Tensor.From(tcnp, Items), Tensor.From(pending!.ReadAll().Select(v => (float)v).ToArray(), Items), norm),
                ], ms, 12.0 * Items * per);
            });
        }
    }

    // As DdimSampler's guided steps on the host (HostSamplingSteps): eps = u + g (c - u) in fp32, TCNP = ||c - u|| summed in double.
    private static (Tensor Eps, double Tcnp) GuidedReference(Tensor pair, float guidance)
    {
        int n = (int)(pair.Length / 2);
        var e = pair.Data;
        var eps = new Tensor([1, .. pair.Shape[1..]]);
        double sq = 0;
        for (int i = 0; i < n; i++)
        {
            float diff = e[n + i] - e[i];
            sq += (double)diff * diff;
            eps.Data[i] = e[i] + guidance * diff;
        }
        return (eps, Math.Sqrt(sq));
    }
}
