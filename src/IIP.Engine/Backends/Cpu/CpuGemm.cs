using IIP.Engine.Backends.Cpu.Gemm;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// Single-precision GEMM on row-major matrices: C = alpha * op(A) op(B) + beta * C,
/// op(A) [M, K], op(B) [K, N], C [M, N]; lda/ldb/ldc are row strides in elements. When beta is 0, C is
/// not read (NaNs in it do not propagate), as in BLAS. Packed, cache-blocked and register-tiled
/// (see <see cref="GemmDriver"/>), with an AVX-512, an AVX2/FMA and a scalar micro-kernel family.
/// </summary>
public static unsafe class CpuGemm
{
    /// <summary>The micro-kernel family in use, e.g. "avx512 12x32".</summary>
    public static string KernelName => GemmKernelSet.Best.Name;

    /// <summary>The vector width of that family in bits (512, 256, or 0 for scalar).</summary>
    public static int VectorBits => GemmKernelSet.Best.VectorBits;

    /// <summary>Multithreaded over all cores when the problem is large enough to gain from it.</summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => Multiply(GemmKernelSet.Best, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel: true);

    internal static void Multiply(GemmKernelSet kernels, bool transA, bool transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool parallel)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"CpuGemm.Multiply: negative size m={m}, n={n}, k={k}");
        if (ldc < n || (k > 0 && lda < (transA ? m : k)) || (n > 0 && k > 0 && ldb < (transB ? k : n)))
            throw new ArgumentException($"CpuGemm.Multiply: leading dimension too small (m={m}, n={n}, k={k}, lda={lda}, ldb={ldb}, ldc={ldc})");
        GemmDriver.Run(kernels, StridedPanels.ForA(transA, a, lda), StridedPanels.ForB(transB, b, ldb),
            m, n, k, alpha, beta, c, ldc, parallel);
    }
}
