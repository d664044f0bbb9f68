// LayerNorm over the last axis (biased variance) and its input gradient.
// Launcher: CudaBackend.Norms.cs; CPU reference: CpuBackend.Norms.cs, CpuBackend.BackwardNorms.cs.
// One warp per row, 4 rows per 128-thread block; statistics from shifted sums (shift = the row's first element).
#include "common.cuh"

using namespace iip;

namespace {

struct Moments {
    float mean, inv;
};

__device__ Moments row_moments(const __half* x, int c, float eps) {
    const int lane = threadIdx.x & 31;
    const float shift = f32(x[0]);
    float s1 = 0.0f, s2 = 0.0f;
    for (int i = lane; i < c; i += 32) {
        const float v = f32(x[i]) - shift;
        s1 += v;
        s2 += v * v;
    }
    s1 = warp_sum(s1);
    s2 = warp_sum(s2);
    const float m = s1 / (float)c;
    return {shift + m, rsqrtf(fmaxf(s2 / (float)c - m * m, 0.0f) + eps)};
}

}  // namespace

// x [rows, c], gamma [c], beta [c] -> y [rows, c]; grid ceil(rows / 4), block 128.
extern "C" __global__ void layer_norm_f16(const __half* x, const __half* gamma, const __half* beta, __half* y,
                                          long long rows, int c, float eps) {
    const long long row = (long long)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (row >= rows) return;
    const __half* xr = x + row * c;
    __half* yr = y + row * c;
    const Moments mo = row_moments(xr, c, eps);
    for (int i = threadIdx.x & 31; i < c; i += 32) yr[i] = f16((f32(xr[i]) - mo.mean) * mo.inv * f32(gamma[i]) + f32(beta[i]));
}

// g = dy gamma; dx = inv (g - mean(g) - xhat mean(g xhat)).  x, dy, dx [rows, c], gamma [c].
extern "C" __global__ void layer_norm_backward_f16(const __half* x, const __half* gamma, const __half* dy, __half* dx,
                                                   long long rows, int c, float eps) {
    const long long row = (long long)blockIdx.x * 4 + (threadIdx.x >> 5);
    if (row >= rows) return;
    const int lane = threadIdx.x & 31;
    const __half* xr = x + row * c;
    const __half* dyr = dy + row * c;
    __half* dxr = dx + row * c;
    const Moments mo = row_moments(xr, c, eps);
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (int i = lane; i < c; i += 32) {
        const float g = f32(dyr[i]) * f32(gamma[i]), xhat = (f32(xr[i]) - mo.mean) * mo.inv;
        sum_g += g;
        sum_gx += g * xhat;
    }
    const float mean_g = warp_sum(sum_g) / (float)c, mean_gx = warp_sum(sum_gx) / (float)c;
    for (int i = lane; i < c; i += 32) {
        const float g = f32(dyr[i]) * f32(gamma[i]), xhat = (f32(xr[i]) - mo.mean) * mo.inv;
        dxr[i] = f16(mo.inv * (g - mean_g - xhat * mean_gx));
    }
}
