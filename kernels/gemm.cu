// Tensor-core GEMMs (mma.sync m16n8k16, fp16 in, fp32 accumulate) for linear layers, 1x1 convolutions and the
// attention score products, on the tile machinery of gemm_tile.cuh (which conv2d.cu shares), and the split-K reduction
// of both. Launcher: CudaBackend.Gemm.cs; CPU reference: CpuBackend.cs (Linear), CpuBackend.Backward.cs
// (LinearBackwardInput), CpuGemm.cs.
//
// C [M, N] = alpha op(A) op(B) (+ bias), row-major, batched over blockIdx.z with element strides.
// Names give the storage of A and B as BLAS would for row-major C = A B:
//   nt: A [M, K] (k contiguous), B [N, K] (k contiguous)   -- y = x W^T (Linear), S = Q K^T
//   nn: A [M, K],               B [K, N] (n contiguous)   -- dx = dy W, 1x1 conv y = W x, Y = P V
//   tn: A [K, M] (m contiguous), B [K, N]                  -- 1x1 conv dx = W^T dy, dV = P^T dY, dK = dS^T Q
// Block tile 128 x 128 x 32, 8 warps of 64 x 32; the next k tile is fetched into registers while the current one is
// multiplied (two shared buffers, one barrier per k tile). Shared tiles keep the operand's contiguous direction:
// [row][k] (k contiguous, 8 halves of padding per row so the 32-bit fragment loads hit 32 distinct banks) for operands
// stored k-contiguous, [k][row] (rows contiguous, padded to 136 so each ldmatrix phase hits 32 distinct banks) for
// the others, whose fragments are read with ldmatrix.trans. Both are written with 16-byte stores.
// The *_pipelined kernels (opt-in, for operands that allow 16-byte loads) copy tiles with cp.async straight into a
// three-stage ring of shared tiles (dynamic shared memory, 60 KiB), two k tiles in flight while one is multiplied, so
// no registers hold the next tile (Ampere's multistage GEMM, as in CUTLASS's sm80 kernels).
// Split K (fp16-output kernels): when a product has too few output tiles to fill the GPU (the 8x8 and 16x16 UNet
// levels: 20-40 tiles for 132 SMs, K up to 23040), the host launches `splits` blocks per tile, each summing one
// contiguous range of k tiles into fp32 partials [batch][split][M][N]; splitk_reduce_f16 then adds them in split
// order (deterministic), adds the bias and rounds to fp16 once.
#include "gemm_tile.cuh"

using namespace iip;

// Grid (ceil(N / 128), ceil(M / 128), batch x splits), block 256. bias [N] (bias_mode 1) or [M] (bias_mode 2) or null.
// splits > 1 (fp16 output only): partial holds batch x splits x M x N floats; then splitk_reduce_f16 writes C.
#define IIP_GEMM_PARAMS                                                                                                   \
    const __half *a, const __half *b, OUT_T *c, const __half *bias, int m, int n, int k, int lda, int ldb, int ldc,     \
        long long stride_a, long long stride_b, long long stride_c, float alpha, int bias_mode, int flags, int splits,   \
        float *partial
#define IIP_GEMM_BATCH                                                  \
    const int item = blockIdx.z / splits, split = blockIdx.z % splits; \
    a += item * stride_a;                                               \
    b += item * stride_b;                                               \
    c += item * stride_c

#define OUT_T __half
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, KContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nn_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, RowContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_tn_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(RowContig{a, m, k, lda, (flags & A_VEC) != 0}, RowContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha,
              bias, bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

// The same three products with the cp.async main loop: both operands must allow 16-byte loads (flags A_VEC and B_VEC,
// which these kernels do not re-check); dynamic shared memory PIPELINE_SHARED_BYTES (61440: the launcher opts in).
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(KContig{a, m, k, lda, true}, KContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nn_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(KContig{a, m, k, lda, true}, RowContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_tn_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(RowContig{a, m, k, lda, true}, RowContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}
#undef OUT_T

// fp32 output (attention scores and their gradient, which the softmax kernels read at full precision); the host uses splits 1.
#define OUT_T float
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16_f32(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, KContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}
#undef OUT_T

// The second pass of split K: c[item, row, col] = fp16(sum over s in order of partial[item][s][row][col] + bias), bias per
// column (bias_mode 1), per row (2) or none. c of item z starts at c + z stride_c, rows ldc apart. One thread per element.
extern "C" __global__ void splitk_reduce_f16(const float* partial, __half* c, const __half* bias, int m, int n, int ldc,
                                             long long stride_c, int splits, int items, int bias_mode) {
    const long long per_item = (long long)m * n, total = per_item * items;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        const long long item = e / per_item, rc = e - item * per_item;
        const int row = (int)(rc / n), col = (int)(rc - (long long)row * n);
        const float* p = partial + item * splits * per_item + rc;
        float sum = 0.0f;
        for (int s = 0; s < splits; ++s) sum += p[s * per_item];
        if (bias_mode == BIAS_PER_COLUMN) sum += f32(bias[col]);
        else if (bias_mode == BIAS_PER_ROW) sum += f32(bias[row]);
        c[item * stride_c + (long long)row * ldc + col] = __float2half_rn(sum);
    }
}
