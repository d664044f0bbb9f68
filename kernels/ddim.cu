// DDIM (Song et al. 2021, eq. 12 with eta 0), fused: one pass per step over the latent.
// Launcher: CudaBackend.Sampling.cs; CPU reference: DdimScheduler.Step / InvertStep and StableDiffusion.GuidedNoise.
//   x0 = (x - sqrt(1 - a_from) eps) / sqrt(a_from);   out = sqrt(a_to) x0 + sqrt(1 - a_to) eps
// A sampling step goes from a_from = a(t) to a_to = a(t_prev); an inversion step from a(t_prev) to a(t).
// The host passes the four square roots, computed in fp32 as the reference.
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

// One guided sampling step: with u = eps_pair[0], c = eps_pair[1],
//   eps = u + g (c - u);  y = transfer(x, eps);  partial_sq[block] = sum over the block's elements of (c - u)^2
// (the TCNP, ||c - u||_2, is the square root of the sum of the partials: sum_partials_f32 in guidance.cu).
// eps_pair [2, n], x [n] -> y [n] (may alias x), partial_sq [gridDim.x]; block 256.
extern "C" __global__ void guided_ddim_step_f16(const __half* eps_pair, const __half* x, __half* y, float* partial_sq, long long n,
                                                float guidance, float sqrt_from, float sqrt_one_minus_from, float sqrt_to,
                                                float sqrt_one_minus_to) {
    __shared__ float scratch[32];
    const Transfer tr{sqrt_from, sqrt_one_minus_from, sqrt_to, sqrt_one_minus_to};
    float sq = 0.0f;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const float u = f32(eps_pair[i]), c = f32(eps_pair[n + i]), diff = c - u;
        sq += diff * diff;
        y[i] = f16(tr.apply(f32(x[i]), u + guidance * diff));
    }
    sq = block_sum(sq, scratch);
    if (threadIdx.x == 0) partial_sq[blockIdx.x] = sq;
}
