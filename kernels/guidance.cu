// Classifier-free guidance and the TCNP norm (Wen et al. 2024): eps = u + g (c - u), TCNP = ||c - u||_2.
// Launcher: CudaBackend.Sampling.cs; CPU reference: HostSamplingSteps (GuidanceCombine, GuidedDdimStep).
// The norm is reduced deterministically: fixed per-block partial sums, then one block adds them in a fixed order.
#include "common.cuh"

using namespace iip;

// eps_pair [2, n] (uncond, cond) -> eps [n], partial_sq [gridDim.x]; block 256.
extern "C" __global__ void guidance_combine_f16(const __half* eps_pair, __half* eps, float* partial_sq, long long n, float guidance) {
    __shared__ float scratch[32];
    float sq = 0.0f;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const float u = f32(eps_pair[i]), diff = f32(eps_pair[n + i]) - u;
        sq += diff * diff;
        eps[i] = f16(u + guidance * diff);
    }
    sq = block_sum(sq, scratch);
    if (threadIdx.x == 0) partial_sq[blockIdx.x] = sq;
}

// One row per block: total[r] = sum of partial[r, 0 .. count) for r = blockIdx.x (one block: the single sum of a norm).
extern "C" __global__ void sum_partials_f32(const float* partial, int count, float* total) {
    __shared__ float scratch[32];
    const float* row = partial + (long long)blockIdx.x * count;
    float s = 0.0f;
    for (int i = threadIdx.x; i < count; i += blockDim.x) s += row[i];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) total[blockIdx.x] = s;
}
