// GroupNorm (Wu and He 2018), optionally fused with SiLU, and its input gradient.
// Launcher: CudaBackend.Norms.cs; CPU reference: CpuBackend.Norms.cs, CpuBackend.BackwardNorms.cs.
// One block per (image, group), or, when that leaves the GPU half idle (batch 2 x 32 groups = 64 blocks on 132 SMs), a
// split pass: group_norm_partial_f16 sums slices of each group, group_norm_apply_f16 combines a group's slice sums in
// slice order and normalizes its own slice (CudaBackend.GroupNormSplitCount chooses). The group's cpg * spatial
// elements are contiguous in [N, C, spatial].
// Statistics: biased variance from sums of (x - shift) and (x - shift)^2 with shift = the group's first
// element, which keeps the fp32 sums from cancelling when the mean is large against the spread.
#include "common.cuh"

using namespace iip;

namespace {

struct Moments {
    float mean, inv;  // inv = 1 / sqrt(var + eps)
};

// Sums of (x - shift) and (x - shift)^2 over x[begin, end), block-wide (every thread gets both; thread i visits
// begin + i, begin + i + blockDim.x, ...).
__device__ float2 shifted_sums(const __half* x, long long begin, long long end, float shift, float* scratch) {
    float s1 = 0.0f, s2 = 0.0f;
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        const float v = f32(x[i]) - shift;
        s1 += v;
        s2 += v * v;
    }
    s1 = block_sum(s1, scratch);
    s2 = block_sum(s2, scratch);
    return make_float2(s1, s2);
}

// Mean and 1 / sqrt(var + eps) of `count` elements from their shifted sums (biased variance).
__device__ Moments moments_from_sums(float s1, float s2, float shift, long long count, float eps) {
    const float m = s1 / (float)count;
    const float var = fmaxf(s2 / (float)count - m * m, 0.0f);
    return {shift + m, rsqrtf(var + eps)};
}

__device__ Moments group_moments(const __half* x, long long count, float eps, float* scratch) {
    const float shift = f32(x[0]);
    const float2 sums = shifted_sums(x, 0, count, shift, scratch);
    return moments_from_sums(sums.x, sums.y, shift, count, eps);
}

// The channel (within the group) of element i of a group's [cpg, spatial] block, advanced with i by the block stride:
// a subtraction per step where the old code divided per element (64-bit); each thread visits the same elements in the same
// order, so the results are bit for bit those of the division.
struct ChannelCursor {
    long long spatial;
    int channel;
    long long offset;  // i - channel * spatial

    __device__ ChannelCursor(long long first, long long spatial_) : spatial(spatial_), channel((int)(first / spatial_)),
                                                                    offset(first - (long long)(first / spatial_) * spatial_) {}

    __device__ void advance(long long step) {
        offset += step;
        if (offset < spatial) return;
        if (offset < 2 * spatial) {  // the common case at SD sizes (spatial >= the block): at most one channel on
            offset -= spatial;
            ++channel;
            return;
        }
        const long long q = offset / spatial;  // small planes (8 x 8 and below): several channels per step
        channel += (int)q;
        offset -= q * spatial;
    }
};

// y = xhat gamma + beta (then SiLU when silu_flag) over elements [begin, end) of the group whose block starts at
// x + start and whose first channel is first_channel; thread i visits begin + i, begin + i + blockDim.x, ...
__device__ void normalize_range(const __half* x, const __half* gamma, const __half* beta, __half* y, long long start,
                                long long begin, long long end, int first_channel, long long spatial, Moments mo,
                                int silu_flag) {
    ChannelCursor cursor(begin + threadIdx.x, spatial);
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x, cursor.advance(blockDim.x)) {
        const int c = first_channel + cursor.channel;
        float a = (f32(x[start + i]) - mo.mean) * mo.inv * f32(gamma[c]) + f32(beta[c]);
        if (silu_flag) a = silu(a);
        y[start + i] = f16(a);
    }
}

}  // namespace

// x [N, C, spatial], gamma [C], beta [C] -> y like x; grid N * groups, block 256..1024.
// y = xhat gamma + beta, then SiLU when silu != 0.
extern "C" __global__ void group_norm_f16(const __half* x, const __half* gamma, const __half* beta, __half* y,
                                          int channels, int groups, long long spatial, float eps, int silu_flag) {
    __shared__ float scratch[32];
    const int cpg = channels / groups, group = blockIdx.x % groups;
    const long long count = (long long)cpg * spatial, start = (long long)blockIdx.x * count;
    const Moments mo = group_moments(x + start, count, eps, scratch);
    normalize_range(x, gamma, beta, y, start, 0, count, group * cpg, spatial, mo, silu_flag);
}

// Split pass 1. x [N, C, spatial] seen as [N groups, count]; grid N groups * splits, block 256..1024. Block b sums slice
// s = b % splits of group g = b / splits, elements [count s / splits, count (s + 1) / splits), shifted by the group's
// first element: partial[2 b] = sum (x - shift), partial[2 b + 1] = sum (x - shift)^2 (fp32).
extern "C" __global__ void group_norm_partial_f16(const __half* x, long long count, int splits, float* partial) {
    __shared__ float scratch[32];
    const int g = blockIdx.x / splits, s = blockIdx.x % splits;
    const __half* xg = x + (long long)g * count;
    const float2 sums = shifted_sums(xg, count * s / splits, count * (s + 1) / splits, f32(xg[0]), scratch);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = sums.x;
        partial[2 * blockIdx.x + 1] = sums.y;
    }
}

// Split pass 2: as group_norm_f16 over slice s of group g (grid and slices as group_norm_partial_f16), the moments from
// the group's `splits` partial sums added in slice order (every block of the group gets the same mean and inv).
extern "C" __global__ void group_norm_apply_f16(const __half* x, const __half* gamma, const __half* beta, __half* y,
                                                int channels, int groups, long long spatial, float eps, int silu_flag,
                                                int splits, const float* partial) {
    const int g = blockIdx.x / splits, s = blockIdx.x % splits;
    const int cpg = channels / groups, group = g % groups;
    const long long count = (long long)cpg * spatial, start = (long long)g * count;
    float s1 = 0.0f, s2 = 0.0f;
    for (int j = 0; j < splits; ++j) {
        s1 += partial[2 * (g * splits + j)];
        s2 += partial[2 * (g * splits + j) + 1];
    }
    const Moments mo = moments_from_sums(s1, s2, f32(x[start]), count, eps);
    normalize_range(x, gamma, beta, y, start, count * s / splits, count * (s + 1) / splits, group * cpg, spatial, mo,
                    silu_flag);
}

// With xhat = (x - mean) inv and g = dL/dxhat = dy gamma (times silu'(xhat gamma + beta) when fused):
//   dx = inv (g - mean(g) - xhat mean(g xhat))      (Ioffe and Szegedy 2015, section 3)
// x, dy, dx [N, C, spatial]; gamma, beta [C]; grid N * groups.
extern "C" __global__ void group_norm_backward_f16(const __half* x, const __half* gamma, const __half* beta, const __half* dy,
                                                   __half* dx, int channels, int groups, long long spatial, float eps,
                                                   int silu_flag) {
    __shared__ float scratch[32];
    const int cpg = channels / groups, group = blockIdx.x % groups;
    const long long count = (long long)cpg * spatial, start = (long long)blockIdx.x * count;
    const Moments mo = group_moments(x + start, count, eps, scratch);
    float sum_g = 0.0f, sum_gx = 0.0f;
    ChannelCursor cursor(threadIdx.x, spatial);
    for (long long i = threadIdx.x; i < count; i += blockDim.x, cursor.advance(blockDim.x)) {
        const int c = group * cpg + cursor.channel;
        const float gam = f32(gamma[c]);
        const float xhat = (f32(x[start + i]) - mo.mean) * mo.inv;
        float g = f32(dy[start + i]) * gam;
        if (silu_flag) g *= silu_grad(xhat * gam + f32(beta[c]));
        sum_g += g;
        sum_gx += g * xhat;
    }
    const float mean_g = block_sum(sum_g, scratch) / (float)count;
    const float mean_gx = block_sum(sum_gx, scratch) / (float)count;
    ChannelCursor again(threadIdx.x, spatial);
    for (long long i = threadIdx.x; i < count; i += blockDim.x, again.advance(blockDim.x)) {
        const int c = group * cpg + again.channel;
        const float gam = f32(gamma[c]);
        const float xhat = (f32(x[start + i]) - mo.mean) * mo.inv;
        float g = f32(dy[start + i]) * gam;
        if (silu_flag) g *= silu_grad(xhat * gam + f32(beta[c]));
        dx[start + i] = f16(mo.inv * (g - mean_g - xhat * mean_gx));
    }
}
