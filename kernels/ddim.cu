// DDIM (Song et al. 2021, eq. 12 with eta 0), fused: one pass per step over the latent.
// Launcher: CudaBackend.Sampling.cs (driven by Sampling/DdimSampler.cs); CPU reference: DdimScheduler.Transfer and
// HostSamplingSteps.GuidedDdimStep (DdimStepCoefficients).
//   x0 = (x - B p) / A;   out = C x0 + D p   (DdimStepCoefficients: for a noise prediction A = sqrt(a_from),
//   B = sqrt(1 - a_from), C = sqrt(a_to), D = sqrt(1 - a_to); for a velocity prediction A = 1, B = 0 and C, D fold the
//   conversion of v into the step)
// A sampling step goes from a_from = a(t) to a_to = a(t_prev); an inversion step from a(t_prev) to a(t).
// The host passes the four numbers, computed in fp32 as the reference.
#include "common.cuh"

using namespace iip;

namespace {

struct Transfer {
    float sqrt_from, sqrt_one_minus_from, sqrt_to, sqrt_one_minus_to;

    __device__ float apply(float x, float eps) const {
        const float x0 = (x - sqrt_one_minus_from * eps) / sqrt_from;
        return sqrt_to * x0 + sqrt_one_minus_to * eps;
    }
};

}  // namespace

// x, eps [n] -> y [n] (y may alias x).
extern "C" __global__ void ddim_transfer_f16(const __half* x, const __half* eps, __half* y, long long n, float sqrt_from,
                                             float sqrt_one_minus_from, float sqrt_to, float sqrt_one_minus_to) {
    const Transfer tr{sqrt_from, sqrt_one_minus_from, sqrt_to, sqrt_one_minus_to};
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(tr.apply(f32(x[i]), f32(eps[i])));
}

// One guided sampling step for each of N items (blockIdx.y = item i, gridDim.y = N): with u_i = eps_pair[i], c_i =
// eps_pair[N + i] (the UNet batch [x; x] under [uncond x N; cond x N], uncond first),
//   eps = u_i + g (c_i - u_i);  y_i = transfer(x_i, eps);  partial_sq[i, block] = sum over the block's elements of (c_i - u_i)^2
// (item i's TCNP, ||c_i - u_i||_2, is the square root of the sum of its row of partials: sum_partials_f32 in guidance.cu).
// eps_pair [2N, n], x [N, n] -> y [N, n] (may alias x), partial_sq [N, gridDim.x]; block 256; n = elements per item.
extern "C" __global__ void guided_ddim_step_f16(const __half* eps_pair, const __half* x, __half* y, float* partial_sq, long long n,
                                                float guidance, float sqrt_from, float sqrt_one_minus_from, float sqrt_to,
                                                float sqrt_one_minus_to) {
    __shared__ float scratch[32];
    const Transfer tr{sqrt_from, sqrt_one_minus_from, sqrt_to, sqrt_one_minus_to};
    const long long item = blockIdx.y, items = gridDim.y;
    const __half* u_item = eps_pair + item * n;
    const __half* c_item = eps_pair + (items + item) * n;
    const __half* x_item = x + item * n;
    __half* y_item = y + item * n;
    float sq = 0.0f;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const float u = f32(u_item[i]), c = f32(c_item[i]), diff = c - u;
        sq += diff * diff;
        y_item[i] = f16(tr.apply(f32(x_item[i]), u + guidance * diff));
    }
    sq = block_sum(sq, scratch);
    if (threadIdx.x == 0) partial_sq[item * gridDim.x + blockIdx.x] = sq;
}
