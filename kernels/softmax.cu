// Row softmax over fp32 scores and its gradient, for the attention paths that materialize the score matrix
// (head sizes above the fused kernel's 160, and the attention backward). Launcher: CudaBackend.Attention.cs;
// CPU reference: CpuBackend.Attention.cs (SoftmaxRows) and CpuBackend.BackwardAttention.cs (SoftmaxGradientRows).
// Scores come as a batch of [rows, cols] matrices (one per head); grid (rows, matrices), one block per row.
// With causal != 0, row r of each matrix sees columns 0..r (the rest are zero), as the CPU reference.
// Probabilities are written as out_scale * p in fp16: with out_scale = the row length the typical value is about 1
// rather than 1 / Tk, so fp16 keeps its relative precision; the GEMM that consumes them divides it out.
#include "common.cuh"

using namespace iip;

// s [matrices, rows, cols] fp32 -> p [matrices, rows, cols] fp16 = out_scale * softmax(s) per row; row_max, row_sum
// [matrices, rows] (may be null) receive the row's max and sum of exp(s - max) for the backward.
extern "C" __global__ void softmax_rows_f32_f16(const float* s, __half* p, float* row_max, float* row_sum, int rows, int cols,
                                                int causal, float out_scale) {
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    if (row >= rows) return;
    const long long index = (long long)blockIdx.y * rows + row;  // row across the batch of matrices
    const int valid = causal ? min(row + 1, cols) : cols;
    const float* sr = s + index * cols;
    __half* pr = p + index * cols;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < valid; i += blockDim.x) m = fmaxf(m, sr[i]);
    m = block_max(m, scratch);
    float l = 0.0f;
    for (int i = threadIdx.x; i < valid; i += blockDim.x) l += expf(sr[i] - m);
    l = block_sum(l, scratch);
    const float scale = out_scale / l;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) pr[i] = f16(i < valid ? expf(sr[i] - m) * scale : 0.0f);
    if (threadIdx.x == 0) {
        if (row_max != nullptr) row_max[index] = m;
        if (row_sum != nullptr) row_sum[index] = l;
    }
}

// The softmax Jacobian-vector product with p recomputed in fp32 from the scores and the forward's row statistics:
//   p = exp(s - max) / sum;  ds = out_scale * p (dp - <p, dp>)
// s, dp [matrices, rows, cols] fp32; row_max, row_sum [matrices, rows] -> ds [matrices, rows, cols] fp16.
extern "C" __global__ void softmax_backward_rows_f32_f16(const float* s, const float* row_max, const float* row_sum, const float* dp,
                                                         __half* ds, int rows, int cols, int causal, float out_scale) {
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    if (row >= rows) return;
    const long long index = (long long)blockIdx.y * rows + row;
    const int valid = causal ? min(row + 1, cols) : cols;
    const float* sr = s + index * cols;
    const float* dpr = dp + index * cols;
    __half* dsr = ds + index * cols;
    const float m = row_max[index], inv = 1.0f / row_sum[index];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < valid; i += blockDim.x) dot += expf(sr[i] - m) * inv * dpr[i];
    dot = block_sum(dot, scratch);
    for (int i = threadIdx.x; i < cols; i += blockDim.x)
        dsr[i] = f16(i < valid ? out_scale * expf(sr[i] - m) * inv * (dpr[i] - dot) : 0.0f);
}
