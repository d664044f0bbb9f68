// Elementwise ops and their input gradients. Launcher: CudaBackend.Elementwise.cs; CPU reference:
// CpuBackend.cs and CpuBackend.Backward.cs. Grid-stride loops over n elements, fp32 arithmetic; the forward ops take 8
// elements per step with 16-byte loads and stores when their pointers are 16-byte aligned and the length allows (the
// same arithmetic per element, so the same results).
#include "common.cuh"

using namespace iip;

namespace {

// y[i] = op(x[i]) for i < n; y may alias x.
template <class Op>
__device__ __forceinline__ void map_unary(const __half* x, __half* y, long long n, Op op) {
    if (n % 8 == 0 && aligned16(x, y)) {
        for (long long v = global_index(); v < n / 8; v += global_stride()) {
            float f[8];
            unpack8(reinterpret_cast<const uint4*>(x)[v], f);
#pragma unroll
            for (int j = 0; j < 8; ++j) f[j] = op(f[j]);
            reinterpret_cast<uint4*>(y)[v] = pack8(f);
        }
        return;
    }
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(op(f32(x[i])));
}

// y[i] = op(a[i], b[i]) for i < n; y may alias a or b.
template <class Op>
__device__ __forceinline__ void map_binary(const __half* a, const __half* b, __half* y, long long n, Op op) {
    if (n % 8 == 0 && aligned16(a, b, y)) {
        for (long long v = global_index(); v < n / 8; v += global_stride()) {
            float fa[8], fb[8];
            unpack8(reinterpret_cast<const uint4*>(a)[v], fa);
            unpack8(reinterpret_cast<const uint4*>(b)[v], fb);
#pragma unroll
            for (int j = 0; j < 8; ++j) fa[j] = op(fa[j], fb[j]);
            reinterpret_cast<uint4*>(y)[v] = pack8(fa);
        }
        return;
    }
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(op(f32(a[i]), f32(b[i])));
}

}  // namespace

// y = a + b; y may alias a or b.  a, b, y [n]
extern "C" __global__ void add_f16(const __half* a, const __half* b, __half* y, long long n) {
    map_binary(a, b, y, n, [](float u, float v) { return u + v; });
}

// y[nc, s] = x[nc, s] + bias[nc].  x, y [N*C, inner], bias [N*C]
extern "C" __global__ void add_channel_bias_f16(const __half* x, const __half* bias, __half* y, long long n, long long inner) {
    if (inner % 8 == 0 && aligned16(x, y)) {
        // 8 consecutive elements share a channel
        for (long long v = global_index(); v < n / 8; v += global_stride()) {
            float f[8];
            unpack8(reinterpret_cast<const uint4*>(x)[v], f);
            const float b = f32(bias[v * 8 / inner]);
#pragma unroll
            for (int j = 0; j < 8; ++j) f[j] += b;
            reinterpret_cast<uint4*>(y)[v] = pack8(f);
        }
        return;
    }
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(f32(x[i]) + f32(bias[i / inner]));
}

// y = alpha x + beta z; z is not read when beta == 0 (as the CPU reference). y may alias x or z.
extern "C" __global__ void axpby_f16(float alpha, const __half* x, float beta, const __half* z, __half* y, long long n) {
    if (beta == 0.0f) map_unary(x, y, n, [alpha](float u) { return alpha * u; });
    else map_binary(x, z, y, n, [alpha, beta](float u, float v) { return alpha * u + beta * v; });
}

// y = x sigmoid(x)
extern "C" __global__ void silu_f16(const __half* x, __half* y, long long n) {
    map_unary(x, y, n, [](float u) { return silu(u); });
}

// y = x sigmoid(1.702 x)  (CLIP's quick_gelu)
extern "C" __global__ void quick_gelu_f16(const __half* x, __half* y, long long n) {
    map_unary(x, y, n, [](float u) { return u * sigmoid(1.702f * u); });
}

// y = x Phi(x), exact erf GELU
extern "C" __global__ void gelu_f16(const __half* x, __half* y, long long n) {
    map_unary(x, y, n, [](float u) { return gelu(u); });
}

// GEGLU (Shazeer 2020) as diffusers: hidden, gate = x.chunk(2, -1); y = hidden gelu(gate).
// x [rows, 2d] -> y [rows, d]
extern "C" __global__ void geglu_f16(const __half* x, __half* y, long long rows, int d) {
    const long long n = rows * d;
    if (d % 8 == 0 && aligned16(x, y)) {
        // 8 consecutive outputs lie in one row: one division per 8
        for (long long v = global_index(); v < n / 8; v += global_stride()) {
            const long long r = v * 8 / d, c = v * 8 - r * d;
            const __half* row = x + r * 2 * d;
            float h[8], g[8];
            unpack8(*reinterpret_cast<const uint4*>(row + c), h);
            unpack8(*reinterpret_cast<const uint4*>(row + d + c), g);
#pragma unroll
            for (int j = 0; j < 8; ++j) h[j] *= gelu(g[j]);
            reinterpret_cast<uint4*>(y)[v] = pack8(h);
        }
        return;
    }
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long r = i / d, c = i - r * d;
        const __half* row = x + r * 2 * d;
        y[i] = f16(f32(row[c]) * gelu(f32(row[d + c])));
    }
}

// dx = dy silu'(x).  x, dy, dx [n]
extern "C" __global__ void silu_backward_f16(const __half* x, const __half* dy, __half* dx, long long n) {
    for (long long i = global_index(); i < n; i += global_stride()) dx[i] = f16(f32(dy[i]) * silu_grad(f32(x[i])));
}

// y = h gelu(g): dh = dy gelu(g), dg = dy h gelu'(g).  x [rows, 2d] = [h | g], dy [rows, d] -> dx [rows, 2d]
extern "C" __global__ void geglu_backward_f16(const __half* x, const __half* dy, __half* dx, long long rows, int d) {
    const long long n = rows * d;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long r = i / d, c = i - r * d;
        const __half* row = x + r * 2 * d;
        __half* drow = dx + r * 2 * d;
        const float h = f32(row[c]), g = f32(row[d + c]), grad = f32(dy[i]);
        drow[c] = f16(grad * gelu(g));
        drow[d + c] = f16(grad * h * gelu_grad(g));
    }
}
