namespace IIP.Detection.Golden;

/// <summary>The storage precision a golden run is judged for.</summary>
public enum GoldenPrecision
{
    /// <summary>fp32 storage (the CPU backend): data/golden/README.md's tolerances.</summary>
    Fp32,

    /// <summary>
    /// fp16 storage (the CUDA backend; on the CPU, <see cref="Diagnostics.Fp16StorageBackend"/>): one fp16 rounding of
    /// every op output (4.9e-4 relative) compounds through the network, and the sampling, inversion and optimization
    /// chains amplify it (guidance 7.5 multiplies the difference of two noise predictions at every step).
    /// </summary>
    Fp16Storage,
}

/// <summary>
/// The bounds a case is judged by under fp16 storage. Each was set on 2026-11-28 (txt2img.latent revised on 2026-12-07,
/// below) from two measurements of tiny-sd's golden cases, the H200 CUDA backend (docs/bench-logs/2026-11-28-h200-golden.txt) and the CPU with fp16 storage
/// emulated (`iip-gpu-check --golden ... --device cpu-fp16`), which agree to within a factor of two case by case:
/// the bound is about twice the larger of the two. Host-side cases (tokenizer, scheduler, DDIM arithmetic) keep their
/// fp32 bounds: the host computes them in fp32 on every backend.
/// </summary>
public static class GoldenFp16Tolerances
{
    // Single forward passes: worst measured 7.8e-3 max|err|/max|ref| (vae.decoded on the CPU emulation; 5.0e-3 on the H200);
    // text encoder and UNet 1e-3 to 1.8e-3, VAE encoder 2.3e-3 to 3.6e-3.
    private static readonly GoldenTolerance Forward = new(GoldenMetric.AbsoluteOfMax, 1.6e-2, 1e-4);

    // Chains, by case: measured (H200, CPU emulation) -> bound.
    private static readonly Dictionary<string, GoldenTolerance> Chains = new()
    {
        ["inversion.latents"] = new(GoldenMetric.Relative, 5e-2),   // 2.5e-2, 1.3e-2 (20 unguided inversion steps)
        ["regen.latent"] = new(GoldenMetric.Relative, 1.5e-1),      // 6.1e-2, 7.1e-2 (guided DDIM from the inverted latent)
        ["regen.tcnp"] = new(GoldenMetric.Relative, 5e-2),          // 2.1e-2, 2.5e-2
        ["regen.image"] = new(GoldenMetric.Relative, 4e-1),         // 1.3e-1, 1.9e-1 (the decoder on regen.latent)
        // 50 guided steps with the latent stored in fp16 between them, as the on-device loop keeps it (Sampling/DdimSampler;
        // before 2026-12-07 the loop went through the host in fp32 and measured 9.5e-4 on the H200, 9.3e-4 emulated):
        // CPU emulation 2.5e-3 (tiny-sd) and 3.8e-3 (tiny-sd2), kernel emulator 4.6e-3 (tiny-sd2) -> 1e-2
        ["txt2img.latent"] = new(GoldenMetric.Relative, 1e-2),
        ["txt2img.tcnp"] = new(GoldenMetric.Relative, 5e-3),        // 2.5e-3, 2.4e-3
        ["grad.dctx"] = new(GoldenMetric.RelativeL2, 2e-2),         // 8.9e-3, 6.9e-3 (backward through the UNet)
        ["optim.losses"] = new(GoldenMetric.Relative, 4e-3),        // 1.4e-3, 1.7e-3
        ["optim.ctx"] = new(GoldenMetric.Relative, 2.5e-1),         // 8.5e-2, 1.1e-1 (Adam steps on those gradients)
    };

    /// <summary>The bound for <paramref name="caseName"/> whose fp32 bound is <paramref name="fp32"/>.</summary>
    public static GoldenTolerance For(string caseName, GoldenTolerance fp32)
    {
        if (Chains.TryGetValue(caseName, out var chain)) return chain;
        if (fp32 == GoldenTolerance.Forward) return Forward;
        if (fp32 == GoldenTolerance.Exact || fp32 == GoldenTolerance.Scheduler) return fp32;
        throw new ArgumentException($"golden case '{caseName}' has no fp16 bound: measure it on a GPU and with --device cpu-fp16, then add it");
    }
}
