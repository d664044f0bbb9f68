using System.Globalization;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Diagnostics;
using IIP.Engine.Tensors;

namespace IIP.Cli.Commands.Bench;

/// <summary>
/// The op-level benchmarks of `iip bench`, one method per part. FLOP counts are the multiply-adds of the
/// op's matrix products times 2 (the convention of the engine's cost model); softmax, packing and
/// im2col count as overhead, not as work.
/// </summary>
public sealed class OpBenchmarks(TextWriter output, int warmup, int repeat)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private FmaPeak? _peak;

    /// <summary>The measured peak of the FMA width the GEMM kernels use (measured once, on first need).</summary>
    public FmaPeak GemmPeak => _peak ??= MachinePeak.MeasureForGemm(secondsPerRound: 0.1, rounds: 7);

    /// <summary>
    /// Measures the peak again and keeps the higher figure. Model benchmarks measure it before the model loads (no
    /// thread-pool workers spinning) and again after timing: a single measurement taken while the process's own idle
    /// workers or another tenant held a core read half the machine's peak and gave shares above 100%.
    /// </summary>
    public FmaPeak MeasurePeakAgain()
    {
        var again = MachinePeak.MeasureForGemm(secondsPerRound: 0.1, rounds: 7);
        var higher = _peak is { } earlier && earlier.GflopPerSecond >= again.GflopPerSecond ? earlier : again;
        _peak = higher;
        return higher;
    }

    public void PrintMachine() => output.WriteLine("machine: " + MachinePeak.Describe());

    public void Peak()
    {
        foreach (int bits in new[] { 512, 256, 0 })
        {
            if (bits == 512 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) continue;
            if (bits == 256 && !System.Runtime.Intrinsics.X86.Fma.IsSupported) continue;
            var all = MachinePeak.Measure(bits, 0.1, 7);
            var one = MachinePeak.Measure(bits, 0.1, 7, threads: 1);
            string name = bits == 0 ? "scalar FMA" : $"{bits}-bit FMA";
            output.WriteLine(string.Create(Inv,
                $"peak {name}: {all.GflopPerSecond:F1} GFLOP/s on {all.Threads} threads, {one.GflopPerSecond:F1} GFLOP/s on 1 thread ({MachinePeak.Chains} chains)"));
        }
    }

    /// <summary>The GEMM shapes of the SD v1 UNet at a 64x64 latent (token-major).</summary>
    public void GemmSuite()
    {
        Gemm(4096, 320, 2880, false, false, "conv 3x3 320 ch as GEMM");
        Gemm(4096, 1280, 320, false, true, "linear 320 -> 1280 (x W^T)");
        Gemm(4096, 4096, 40, false, true, "attention scores Q K^T, one head");
        Gemm(4096, 40, 4096, false, false, "attention P V, one head");
        Gemm(320, 4096, 2880, false, false, "conv 3x3 320 ch, channel-major");
    }

    public unsafe void Gemm(int m, int n, int k, bool transA, bool transB, string? label = null)
    {
        var rng = new Random(1);
        var a = RandomArray(rng, (long)m * k);
        var b = RandomArray(rng, (long)k * n);
        var c = new float[(long)m * n];
        int lda = transA ? m : k, ldb = transB ? k : n;
        var timing = BenchTiming.Measure(() =>
        {
            fixed (float* pa = a, pb = b, pc = c)
                CpuGemm.Multiply(transA, transB, m, n, k, 1f, pa, lda, pb, ldb, 0f, pc, n);
        }, warmup, repeat);
        string name = $"gemm M={m} N={n} K={k} {(transA ? 't' : 'n')}{(transB ? 't' : 'n')}";
        Report(label is null ? name : $"{name} ({label})", 2.0 * m * n * k, timing);
    }

    public void Conv(int channels, int height, int width, int kernel)
    {
        var rng = new Random(1);
        var be = CpuBackend.Instance;
        var x = Tensor.From(RandomArray(rng, (long)channels * height * width), 1, channels, height, width);
        var w = Tensor.From(RandomArray(rng, (long)channels * channels * kernel * kernel), channels, channels, kernel, kernel);
        var bias = Tensor.From(RandomArray(rng, channels), channels);
        var y = be.Allocate(1, channels, height, width);
        var pad = Padding2d.Same(kernel / 2);
        var timing = BenchTiming.Measure(() => be.Conv2d(x, w, bias, 1, pad, y), warmup, repeat);
        double flop = 2.0 * channels * channels * kernel * kernel * height * width;
        Report($"conv2d {kernel}x{kernel} C={channels} -> {channels} at {height}x{width}", flop, timing);
    }

    public void Attention(int channels, int tokens, int heads, int contextTokens)
    {
        var rng = new Random(1);
        var be = CpuBackend.Instance;
        int keys = contextTokens > 0 ? contextTokens : tokens;
        var q = Tensor.From(RandomArray(rng, (long)tokens * channels), 1, tokens, channels);
        var k = Tensor.From(RandomArray(rng, (long)keys * channels), 1, keys, channels);
        var v = Tensor.From(RandomArray(rng, (long)keys * channels), 1, keys, channels);
        var y = be.Allocate(1, tokens, channels);
        var timing = BenchTiming.Measure(() => be.Attention(q, k, v, heads, false, y), warmup, repeat);
        double flop = 2.0 * 2.0 * tokens * keys * channels;  // Q K^T and P V, all heads
        string kind = contextTokens > 0 ? $"cross-attention {tokens} x {keys} keys" : $"self-attention {tokens} tokens";
        Report($"{kind}, C={channels}, {heads} heads (d={channels / heads})", flop, timing);
    }

    /// <summary>
    /// The op sequence of one SD v1.4 UNet forward at the given latent size (see <see cref="UNetOpSequence"/>):
    /// per op kind time, share and GFLOP/s, then the total as s/forward and % of peak.
    /// </summary>
    public void UNetOps(int batch, int height, int width, bool byShape = false)
    {
        _ = GemmPeak;   // before any worker threads exist
        var unet = new UNetOpSequence(CpuBackend.Instance, batch, height, width, byShape);
        for (int i = 0; i < warmup; i++) unet.Forward();  // also creates the random inputs
        double best = double.MaxValue;
        Dictionary<string, (double Seconds, double Flop, int Count)> bestKinds = [];
        for (int i = 0; i < repeat; i++)
        {
            unet.Reset();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            unet.Forward();
            double seconds = sw.Elapsed.TotalSeconds;
            if (seconds < best) { best = seconds; bestKinds = new(unet.ByKind); }
        }
        double flop = bestKinds.Values.Sum(k => k.Flop);
        var peak = MeasurePeakAgain();
        output.WriteLine(string.Create(Inv, $"unet op sequence, batch {batch}, latent {height}x{width}: {flop / 1e9:F1} GFLOP of matrix products"));
        foreach (var (kind, (seconds, kindFlop, count)) in bestKinds.OrderByDescending(k => k.Value.Seconds))
        {
            string rate = kindFlop > 0 ? string.Create(Inv, $"  {kindFlop / 1e9,6:F1} GFLOP {kindFlop / seconds / 1e9,6:F1} GFLOP/s") : "";
            output.WriteLine(string.Create(Inv, $"  {kind,-16} {count,4} ops {seconds * 1e3,9:F1} ms {100 * seconds / best,5:F1}%{rate}"));
        }
        double gflops = flop / best / 1e9;
        output.WriteLine(string.Create(Inv,
            $"unet op sequence: {best:F2} s/forward (best of {repeat}), {gflops:F1} GFLOP/s, {100 * gflops / peak.GflopPerSecond:F1}% of the {peak.VectorBits}-bit FMA peak {peak.GflopPerSecond:F1} GFLOP/s"));
    }

    private void Report(string name, double flop, BenchTiming timing)
    {
        double gflops = flop / timing.BestSeconds / 1e9;
        var peak = GemmPeak;
        output.WriteLine(string.Create(Inv,
            $"{name}: {timing.BestSeconds * 1e3:F3} ms/op (median {timing.MedianSeconds * 1e3:F3} of {timing.Runs}), "
            + $"{gflops:F1} GFLOP/s, {100 * gflops / peak.GflopPerSecond:F1}% of the {peak.VectorBits}-bit FMA peak {peak.GflopPerSecond:F1} GFLOP/s"));
    }

    private static float[] RandomArray(Random rng, long length)
    {
        var data = new float[length];
        for (long i = 0; i < length; i++) data[i] = (float)(rng.NextDouble() * 2 - 1);
        return data;
    }
}
