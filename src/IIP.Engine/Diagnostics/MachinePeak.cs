using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Diagnostics;

/// <summary>The measured fp32 FMA throughput of one vector width, all cores together.</summary>
/// <param name="VectorBits">256 (AVX2 FMA) or 512 (AVX-512F); 0 for the scalar fallback.</param>
/// <param name="GflopPerSecond">Best of the timed rounds; one FMA lane counts 2 FLOP.</param>
/// <param name="Threads">Threads that ran the loop at once (one per logical core).</param>
public readonly record struct FmaPeak(int VectorBits, double GflopPerSecond, int Threads);

/// <summary>
/// Measures what the arithmetic units of this machine can do: every core runs a loop of fused multiply-adds
/// on <see cref="Chains"/> independent accumulators (enough to cover FMA latency x issue width: 4 cycles x
/// 2 ports = 8 in flight, so 12 leaves slack), with no memory traffic. The best round is the peak that
/// benchmarks report their "% of peak" against.
/// </summary>
public static class MachinePeak
{
    /// <summary>Independent accumulator chains per thread.</summary>
    public const int Chains = 12;

    /// <summary>
    /// The peak of the widest FMA the CPU GEMM uses (<see cref="Backends.Cpu.CpuGemm.KernelName"/>): the honest
    /// denominator for "% of peak" of our own kernels.
    /// </summary>
    public static FmaPeak MeasureForGemm(double secondsPerRound = 0.2, int rounds = 3)
        => Measure(Backends.Cpu.CpuGemm.VectorBits, secondsPerRound, rounds);

    /// <summary>Runs the FMA loop on <paramref name="threads"/> threads (0: every core) at <paramref name="vectorBits"/> (256 or 512) and returns the best round.</summary>
    public static FmaPeak Measure(int vectorBits, double secondsPerRound = 0.2, int rounds = 3, int threads = 0)
    {
        if (vectorBits == 512 && !Avx512F.IsSupported) throw new PlatformNotSupportedException("AVX-512F is not supported on this CPU");
        if (vectorBits == 256 && !Fma.IsSupported) throw new PlatformNotSupportedException("FMA3 is not supported on this CPU");
        if (threads <= 0) threads = Environment.ProcessorCount;
        Func<long, float> loop = vectorBits switch
        {
            512 => FmaLoop512,
            256 => FmaLoop256,
            _ => FmaLoopScalar,
        };
        int lanes = vectorBits == 0 ? 1 : vectorBits / 32;
        double flopPerIteration = 2.0 * lanes * Chains;

        // Calibrate the iteration count of one round on one thread (also JIT-compiles the loop).
        long iterations = 1 << 16;
        double calibrationSeconds;
        while (true)
        {
            var sw = Stopwatch.StartNew();
            loop(iterations);
            calibrationSeconds = sw.Elapsed.TotalSeconds;
            if (calibrationSeconds > secondsPerRound / 8 || iterations > 1L << 40) break;
            iterations *= 2;
        }
        iterations = Math.Max(1, (long)(iterations * secondsPerRound / calibrationSeconds));

        double best = 0;
        for (int round = 0; round < rounds; round++)
        {
            using var start = new Barrier(threads + 1);
            var workers = new Thread[threads];
            var results = new float[threads];
            for (int t = 0; t < threads; t++)
            {
                int slot = t;
                workers[t] = new Thread(() =>
                {
                    start.SignalAndWait();
                    results[slot] = loop(iterations);
                }) { IsBackground = true };
                workers[t].Start();
            }
            // The clock starts before the workers are released: on a busy machine this thread may be descheduled
            // right after the barrier, and a clock started late would report an impossible rate.
            var sw = Stopwatch.StartNew();
            start.SignalAndWait();
            foreach (var w in workers) w.Join();
            double seconds = sw.Elapsed.TotalSeconds;
            GC.KeepAlive(results);
            best = Math.Max(best, flopPerIteration * iterations * threads / seconds / 1e9);
        }
        return new FmaPeak(vectorBits, best, threads);
    }

    /// <summary>One line about the machine: CPU model, cores, vector ISA support, memory.</summary>
    public static string Describe()
    {
        string model = "unknown CPU";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
                    ?.Split(':', 2)[1].Trim() ?? model;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var isa = new List<string>();
        if (Avx2.IsSupported) isa.Add("AVX2");
        if (Fma.IsSupported) isa.Add("FMA3");
        if (Avx512F.IsSupported) isa.Add("AVX-512F");
        if (isa.Count == 0) isa.Add("no AVX2/FMA");
        long memoryGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 30;
        return $"{model}, {Environment.ProcessorCount} logical cores, {string.Join("/", isa)}, {memoryGiB} GiB, "
            + $".NET {Environment.Version}, GEMM kernel {Backends.Cpu.CpuGemm.KernelName}";
    }

    // Each chain: acc = acc * m + a, which converges to a / (1 - m) = 1 and never reaches denormals or infinity.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaLoop256(long iterations)
    {
        var m = Vector256.Create(0.999f);
        var a = Vector256.Create(0.001f);
        Vector256<float> c0 = Vector256.Create(0.5f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
            c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, m, a); c1 = Fma.MultiplyAdd(c1, m, a); c2 = Fma.MultiplyAdd(c2, m, a);
            c3 = Fma.MultiplyAdd(c3, m, a); c4 = Fma.MultiplyAdd(c4, m, a); c5 = Fma.MultiplyAdd(c5, m, a);
            c6 = Fma.MultiplyAdd(c6, m, a); c7 = Fma.MultiplyAdd(c7, m, a); c8 = Fma.MultiplyAdd(c8, m, a);
            c9 = Fma.MultiplyAdd(c9, m, a); c10 = Fma.MultiplyAdd(c10, m, a); c11 = Fma.MultiplyAdd(c11, m, a);
        }
        var sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        return Vector256.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaLoop512(long iterations)
    {
        var m = Vector512.Create(0.999f);
        var a = Vector512.Create(0.001f);
        Vector512<float> c0 = Vector512.Create(0.5f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0,
            c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, m, a); c1 = Avx512F.FusedMultiplyAdd(c1, m, a);
            c2 = Avx512F.FusedMultiplyAdd(c2, m, a); c3 = Avx512F.FusedMultiplyAdd(c3, m, a);
            c4 = Avx512F.FusedMultiplyAdd(c4, m, a); c5 = Avx512F.FusedMultiplyAdd(c5, m, a);
            c6 = Avx512F.FusedMultiplyAdd(c6, m, a); c7 = Avx512F.FusedMultiplyAdd(c7, m, a);
            c8 = Avx512F.FusedMultiplyAdd(c8, m, a); c9 = Avx512F.FusedMultiplyAdd(c9, m, a);
            c10 = Avx512F.FusedMultiplyAdd(c10, m, a); c11 = Avx512F.FusedMultiplyAdd(c11, m, a);
        }
        var sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
        return Vector512.Sum(sum);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaLoopScalar(long iterations)
    {
        const float m = 0.999f, a = 0.001f;
        float c0 = 0.5f, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = MathF.FusedMultiplyAdd(c0, m, a); c1 = MathF.FusedMultiplyAdd(c1, m, a); c2 = MathF.FusedMultiplyAdd(c2, m, a);
            c3 = MathF.FusedMultiplyAdd(c3, m, a); c4 = MathF.FusedMultiplyAdd(c4, m, a); c5 = MathF.FusedMultiplyAdd(c5, m, a);
            c6 = MathF.FusedMultiplyAdd(c6, m, a); c7 = MathF.FusedMultiplyAdd(c7, m, a); c8 = MathF.FusedMultiplyAdd(c8, m, a);
            c9 = MathF.FusedMultiplyAdd(c9, m, a); c10 = MathF.FusedMultiplyAdd(c10, m, a); c11 = MathF.FusedMultiplyAdd(c11, m, a);
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    }
}
