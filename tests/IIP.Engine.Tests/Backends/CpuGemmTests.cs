using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cpu.Gemm;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// CpuGemm against <see cref="ReferenceOps.Gemm"/> (double), for every micro-kernel family this CPU runs.
/// Tolerance: |C - ref| &lt;= 8 sqrt(K + 1) u (|alpha| sum_p |a_ip b_pj|) + 2 u |beta c0|: the probabilistic
/// rounding-error bound for fp32 dot products (Higham and Mary 2019, lambda = 8), far below the size of any
/// indexing mistake (one missing product is ~ sum |ab| / K, at least 7x above it for K &lt;= 3000).
/// </summary>
public sealed unsafe class CpuGemmTests
{
    /// <summary>Names of the micro-kernel families this CPU runs (the widest first).</summary>
    public static IEnumerable<string> KernelNames() => GemmKernelSet.All.Where(s => s.IsSupported).Select(s => s.Name);

    public static TheoryData<string> KernelSets() => new(KernelNames());

    private static GemmKernelSet Set(string name) => GemmKernelSet.All.Single(s => s.Name == name);

    /// <summary>A CPU backend on the named kernel family (for the op tests that run on every family).</summary>
    internal static CpuBackend Backend(string kernels) => new(Set(kernels));

    // Odd sizes around the tile and block edges (MR 4/6/12, NR 8/16/32, KC 256-384, MC 64-288).
    private static readonly (int M, int N, int K)[] OddShapes =
    [
        (1, 1, 1), (1, 7, 17), (7, 1, 65), (17, 65, 7), (65, 17, 257), (13, 33, 300), (12, 32, 256), (24, 64, 129),
        (100, 77, 40), (145, 41, 513), (257, 9, 31), (6, 16, 1),
    ];

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void AllTransposesAlphaBetaOddSizes(string kernels)
    {
        int seed = 0;
        foreach (var (m, n, k) in OddShapes)
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                    foreach (var (alpha, beta) in new[] { (1f, 0f), (0.5f, 2f), (-1.5f, 1f) })
                        Check(Set(kernels), m, n, k, transA, transB, alpha, beta, pad: 3, seed++, parallel: true);
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void ThreadedBlocksAndColumnSplits(string kernels)
    {
        // Large enough to run threaded: several depth blocks (K > KC), row splits and column groups, a column
        // block edge (N > NC = 4096) and a row block edge (M > RowBlock = 4096; 1024 for the scalar family).
        Check(Set(kernels), 300, 150, 520, false, false, 1f, 0f, pad: 0, seed: 1, parallel: true);
        Check(Set(kernels), 37, 4100, 20, true, true, 0.75f, -0.5f, pad: 5, seed: 2, parallel: true);
        Check(Set(kernels), 20, 1500, 300, false, true, 1f, 1f, pad: 1, seed: 3, parallel: true);
        Check(Set(kernels), 4200, 24, 30, false, true, 1f, 0.5f, pad: 2, seed: 5, parallel: true);
        Check(Set(kernels), 300, 150, 520, true, false, 1f, 0f, pad: 0, seed: 4, parallel: false);
        // Several depth blocks over a C block too large for L2 (1100 x 320 floats): rows split so that each item's
        // part of C stays in L2, on the threads and on the calling thread alone.
        Check(Set(kernels), 1100, 300, 800, false, true, 1f, 0.5f, pad: 0, seed: 6, parallel: true);
        Check(Set(kernels), 1100, 300, 800, false, true, 1f, 0.5f, pad: 0, seed: 7, parallel: false);
    }

    [Theory]
    [InlineData(4096, 320, 2880, false, false)]  // 3x3 conv at 64x64, 320 channels, token-major
    [InlineData(4096, 1280, 320, false, true)]   // linear 320 -> 1280, x W^T
    [InlineData(4096, 4096, 40, false, true)]    // attention scores of one head
    [InlineData(4096, 40, 4096, false, false)]   // attention P V of one head
    public void StableDiffusionShapesOnSampledEntries(int m, int n, int k, bool transA, bool transB)
    {
        // The full double reference would take seconds; 1000 random entries plus the four corners check every
        // tile position class (interior, edge rows, edge columns) at a fraction of the cost.
        var rng = new Random(m + n + k);
        var entries = new List<(int, int)> { (0, 0), (m - 1, 0), (0, n - 1), (m - 1, n - 1) };
        for (int e = 0; e < 1000; e++) entries.Add((rng.Next(m), rng.Next(n)));
        Check(GemmKernelSet.Best, m, n, k, transA, transB, 1f, 0f, pad: 0, seed: 7, parallel: true, entries);
    }

    [Fact]
    public void BetaZeroDoesNotReadC()
    {
        // BLAS semantics: with beta = 0, C is output only, so NaN or Inf left in it must not propagate.
        var a = TestArrays.Uniform(1, 20 * 30);
        var b = TestArrays.Uniform(2, 30 * 40);
        var c = Enumerable.Repeat(float.NaN, 20 * 40).ToArray();
        fixed (float* pa = a, pb = b, pc = c)
            CpuGemm.Multiply(false, false, 20, 40, 30, 1f, pa, 30, pb, 40, 0f, pc, 40);
        Assert.All(c, v => Assert.True(float.IsFinite(v), $"C holds {v} after beta = 0"));
    }

    [Fact]
    public void EmptyDepthScalesC()
    {
        // K = 0: C = beta C (alpha op(A) op(B) is an empty sum).
        var c = new[] { 1f, 2f, 3f, 4f };
        fixed (float* pc = c)
            CpuGemm.Multiply(false, false, 2, 2, 0, 1f, null, 1, null, 2, 0.5f, pc, 2);
        Assert.Equal(new[] { 0.5f, 1f, 1.5f, 2f }, c);
    }

    [Fact]
    public void RejectsLeadingDimensionsThatAreTooSmall()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
        {
            fixed (float* p = new float[16])
                CpuGemm.Multiply(false, false, 2, 4, 2, 1f, p, 1, p, 4, 0f, p, 4);
        });
        Assert.Contains("lda=1", ex.Message);
    }

    private static void Check(GemmKernelSet kernels, int m, int n, int k, bool transA, bool transB, float alpha, float beta,
        int pad, int seed, bool parallel, List<(int I, int J)>? entries = null)
    {
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        var a = TestArrays.Uniform(seed * 3 + 1, (long)(transA ? k : m) * lda);
        var b = TestArrays.Uniform(seed * 3 + 2, (long)(transB ? n : k) * ldb);
        var c0 = TestArrays.Uniform(seed * 3 + 3, (long)m * ldc);
        var c = (float[])c0.Clone();
        fixed (float* pa = a, pb = b, pc = c)
            CpuGemm.Multiply(kernels, transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);

        if (entries is null)
        {
            entries = new List<(int, int)>(m * n);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) entries.Add((i, j));
        }
        var (expected, magnitude) = ReferenceOps.Gemm(transA, transB, k, alpha, a, lda, b, ldb, beta, c0, ldc, entries);
        var actual = new float[entries.Count];
        for (int e = 0; e < entries.Count; e++) actual[e] = c[(long)entries[e].I * ldc + entries[e].J];
        double lambda = 8 * Math.Sqrt(k + 1) * NumericAssert.U;
        string name = $"{kernels.Name} M={m} N={n} K={k} {(transA ? 't' : 'n')}{(transB ? 't' : 'n')} alpha={alpha} beta={beta} ld+{pad}";
        NumericAssert.Close(name, actual, expected, e => lambda * magnitude[e] + 2 * NumericAssert.U * Math.Abs(beta * c0[(long)entries[e].I * ldc + entries[e].J]));

        // Padding columns between rows of C are not C: they must be untouched.
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(c[(long)i * ldc + j] == c0[(long)i * ldc + j], $"{name}: wrote outside C at row {i}, column {j}");
    }
}
