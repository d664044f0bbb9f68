// Shared device helpers for the IIP kernels: fp16 <-> fp32, activations, warp and block reductions,
// the m16n8k16 tensor-core MMA, and grid-stride loops.
//
// Conventions (every .cu file):
//  - storage is fp16 (__half), arithmetic and accumulation fp32;
//  - entry points are extern "C" and named <op>_<dtype> (add_f16, group_norm_f16, ...), one module per file;
//  - element counts that can exceed 2^31 are long long; shapes in comments, row-major: [N, C, H, W].
//  - the same sources compile on the host for the kernel emulator (tools/cuda-emulator: IIP_EMULATION defined, the
//    device built-ins from its device_runtime.h); the few inline-PTX helpers below have an emulated branch.
#pragma once

#ifndef IIP_EMULATION
#include <cuda_fp16.h>
#endif
#include <stdint.h>

namespace iip {

__device__ __forceinline__ float f32(__half h) { return __half2float(h); }
__device__ __forceinline__ __half f16(float f) { return __float2half_rn(f); }

// sigmoid(x) = 1 / (1 + e^-x)
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// silu(x) = x sigmoid(x)
__device__ __forceinline__ float silu(float x) { return x * sigmoid(x); }

// silu'(x) = s (1 + x (1 - s)), s = sigmoid(x)
__device__ __forceinline__ float silu_grad(float x) {
    float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

// Exact GELU, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.functional.gelu, approximate='none').
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
__device__ __forceinline__ float gelu_grad(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Sum over the whole block, returned to every thread. `scratch` holds 32 floats in shared memory; the leading
// barrier lets consecutive calls reuse it. Every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < warps ? scratch[lane] : 0.0f);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max(lane < warps ? scratch[lane] : -INFINITY);
}

// Grid-stride loop index helpers (64-bit).
__device__ __forceinline__ long long global_index() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long global_stride() { return (long long)gridDim.x * blockDim.x; }

// Two fp32 values as one .f16x2 register: `lo` in the low half (the lower k or column index).
__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
}

// D = A B + D on tensor cores, m16n8k16, fp16 inputs, fp32 accumulators (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"). With g = lane / 4 and t = lane % 4:
//   a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..2t+1], a[2] = A[g][2t+8..2t+9], a[3] = A[g+8][2t+8..2t+9]
//   b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g]                       (pairs along k)
//   d[0..1] = D[g][2t..2t+1], d[2..3] = D[g+8][2t..2t+1]
__device__ __forceinline__ void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef IIP_EMULATION
    iip_emulation::mma_m16n8k16(d, a, b0, b1);
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Eight halves as one 16-byte vector (h[0] in the low bytes, the order in memory).
__device__ __forceinline__ uint4 pack8(const __half (&h)[8]) {
    uint4 r;
    r.x = (uint32_t)__half_as_ushort(h[0]) | ((uint32_t)__half_as_ushort(h[1]) << 16);
    r.y = (uint32_t)__half_as_ushort(h[2]) | ((uint32_t)__half_as_ushort(h[3]) << 16);
    r.z = (uint32_t)__half_as_ushort(h[4]) | ((uint32_t)__half_as_ushort(h[5]) << 16);
    r.w = (uint32_t)__half_as_ushort(h[6]) | ((uint32_t)__half_as_ushort(h[7]) << 16);
    return r;
}

// Eight halves as floats and back (round to nearest even).
__device__ __forceinline__ void unpack8(const uint4& v, float (&f)[8]) {
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
        f[2 * w] = f32(__ushort_as_half((unsigned short)(words[w] & 0xffffu)));
        f[2 * w + 1] = f32(__ushort_as_half((unsigned short)(words[w] >> 16)));
    }
}

__device__ __forceinline__ uint4 pack8(const float (&f)[8]) {
    __half h[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) h[j] = f16(f[j]);
    return pack8(h);
}

// Whether every pointer is 16-byte aligned (for 16-byte loads and stores of 8 halves).
__device__ __forceinline__ bool aligned16(const void* a, const void* b = nullptr, const void* c = nullptr) {
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) & 15u) == 0;
}

// 32-bit load of two adjacent halves from shared memory (the address must be 4-byte aligned).
__device__ __forceinline__ uint32_t load_pair(const __half* p) { return *reinterpret_cast<const uint32_t*>(p); }

// ldmatrix .x4 .trans: four 8 x 8 fp16 matrices from shared memory, transposed. Lane i gives the address of row i % 8
// of matrix i / 8 (16 contiguous bytes, 16-byte aligned); register q of every lane receives matrix q, lane (g, t) =
// (lane / 4, lane % 4) holding elements [row 2t][column g] (low half) and [row 2t + 1][column g] (high half): for rows
// indexed by k, the layout of an mma.m16n8k16 operand fragment.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
#ifdef IIP_EMULATION
    iip_emulation::ldmatrix_x4_trans(r, p);
#else
    const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(p));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
#endif
}

// cp.async.cg.shared.global (sm_80): copies src_bytes (0 to 16) of the 16 at src into the 16-byte aligned shared dst and
// zero-fills the rest, without passing through registers; completes at a later cp_async_wait. With src_bytes 0 nothing
// is read (src must still be a valid address: the loaders pass the operand's base).
__device__ __forceinline__ void cp_async_16(__half* dst, const __half* src, int src_bytes) {
#ifdef IIP_EMULATION
    std::memcpy(dst, src, (size_t)src_bytes);  // the emulator copies at once: waits have nothing left to wait for
    std::memset(reinterpret_cast<char*>(dst) + src_bytes, 0, (size_t)(16 - src_bytes));
#else
    const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(src), "r"(src_bytes));
#endif
}

// Closes this thread's group of cp.async copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#ifndef IIP_EMULATION
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most `pending` of this thread's committed groups are incomplete (the newest ones).
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
#ifndef IIP_EMULATION
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
#endif
}

// The block's dynamic shared memory (the launch's shared-memory bytes), 16-byte aligned, as an array of T.
template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
#ifdef IIP_EMULATION
    return reinterpret_cast<T*>(iip_emulation::dynamic_shared_memory());
#else
    extern __shared__ __align__(16) unsigned char dynamic_shared_bytes[];
    return reinterpret_cast<T*>(dynamic_shared_bytes);
#endif
}

}  // namespace iip
