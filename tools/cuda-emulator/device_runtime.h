// The CUDA device built-ins the kernels use, for compiling kernels/*.cu with a host C++ compiler (g++ -include this
// file, IIP_EMULATION defined). Each CUDA thread of a block runs as a fiber of one host thread (block_scheduler.cpp);
// __syncthreads and the warp collectives (__shfl_xor_sync, mma.sync, ldmatrix) are points where a fiber waits for its
// block or warp. What the emulator checks is the kernels' logic (indexing, fragment layouts, barriers, bounds); the
// arithmetic is fp32 as on the GPU but not bit-identical to it (tensor-core summation order, exp2f/rsqrtf accuracy).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef IIP_EMULATION
#define IIP_EMULATION 1
#endif

// Qualifiers: device code is ordinary host code; block shared memory declared in a function is a function-local static
// (blocks run one at a time, so one copy serves every block); dynamic shared memory is dynamic_shared_memory() below.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

struct __attribute__((aligned(16))) uint4 {
    unsigned x, y, z, w;
};

struct __attribute__((aligned(8))) float2 {
    float x, y;
};

inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// IEEE binary16 storage, converted with round-to-nearest-even as the GPU's cvt.rn.f16.f32.
struct __half {
    unsigned short bits;
};

struct __attribute__((aligned(4))) __half2 {
    __half x, y;
};

inline float __half2float(__half h) {
    const uint32_t sign = (uint32_t)(h.bits & 0x8000u) << 16, exponent = (h.bits >> 10) & 0x1fu, mantissa = h.bits & 0x3ffu;
    if (exponent == 0) {
        const float v = (float)mantissa * 0x1p-24f;  // zero or subnormal: m 2^-24
        return sign ? -v : v;
    }
    const uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)         // inf, NaN
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline __half __float2half_rn(float x) {
    uint32_t f;
    std::memcpy(&f, &x, 4);
    const uint32_t sign = (f >> 16) & 0x8000u, a = f & 0x7fffffffu;
    if (a >= 0x7f800000u) return {(unsigned short)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u))};  // NaN, inf
    if (a >= 0x477ff000u) return {(unsigned short)(sign | 0x7c00u)};  // >= 65520 rounds to even past 65504: inf
    if (a < 0x38800000u) {
        // below 2^-14: a subnormal m 2^-24 (m = 1024 is the smallest normal), rounded to nearest even by rint
        float magnitude;
        std::memcpy(&magnitude, &a, 4);
        return {(unsigned short)(sign | (uint32_t)std::nearbyint(magnitude * 0x1p24f))};
    }
    const uint32_t rebiased = a - 0x38000000u, kept = rebiased >> 13, dropped = rebiased & 0x1fffu;
    const uint32_t rounded = kept + (dropped > 0x1000u || (dropped == 0x1000u && (kept & 1u)));  // a carry moves the exponent
    return {(unsigned short)(sign | rounded)};
}

inline __half2 __floats2half2_rn(float lo, float hi) { return {__float2half_rn(lo), __float2half_rn(hi)}; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline __half __ushort_as_half(unsigned short bits) { return {bits}; }

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

namespace iip_emulation {

// The calling fiber's coordinates and the launch's shape (block_scheduler.cpp).
const dim3& thread_index();
const dim3& block_index();
const dim3& block_dim();
const dim3& grid_dim();
unsigned char* dynamic_shared_memory();

// __syncthreads: waits until every thread of the block that has not exited arrives.
void sync_block();

// __shfl_xor_sync over the full warp: the value of lane (lane ^ lane_mask).
float shfl_xor(float value, int lane_mask);

// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 for the warp (fragment layouts in kernels/common.cuh).
void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

// ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 for the warp (kernels/common.cuh).
void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row_address);

}  // namespace iip_emulation

#define threadIdx (::iip_emulation::thread_index())
#define blockIdx (::iip_emulation::block_index())
#define blockDim (::iip_emulation::block_dim())
#define gridDim (::iip_emulation::grid_dim())

inline void __syncthreads() { ::iip_emulation::sync_block(); }

inline float __shfl_xor_sync(unsigned /*mask: the kernels pass the full warp*/, float value, int lane_mask) {
    return ::iip_emulation::shfl_xor(value, lane_mask);
}
