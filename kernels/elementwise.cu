// Elementwise ops and their input gradients. Launcher: CudaBackend.Elementwise.cs; CPU reference:
// CpuBackend.cs and CpuBackend.Backward.cs. Grid-stride loops over n elements, fp32 arithmetic.
#include "common.cuh"

using namespace iip;

// y = a + b; y may alias a or b.  a, b, y [n]
extern "C" __global__ void add_f16(const __half* a, const __half* b, __half* y, long long n) {
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(f32(a[i]) + f32(b[i]));
}

// y[nc, s] = x[nc, s] + bias[nc].  x, y [N*C, inner], bias [N*C]
extern "C" __global__ void add_channel_bias_f16(const __half* x, const __half* bias, __half* y, long long n, long long inner) {
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(f32(x[i]) + f32(bias[i / inner]));
}

// y = alpha x + beta z; z is not read when beta == 0 (as the CPU reference). y may alias x or z.
extern "C" __global__ void axpby_f16(float alpha, const __half* x, float beta, const __half* z, __half* y, long long n) {
    if (beta == 0.0f) {
        for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(alpha * f32(x[i]));
    } else {
        for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(alpha * f32(x[i]) + beta * f32(z[i]));
    }
}

// y = x sigmoid(x)
extern "C" __global__ void silu_f16(const __half* x, __half* y, long long n) {
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(silu(f32(x[i])));
}

// y = x sigmoid(1.702 x)  (CLIP's quick_gelu)
extern "C" __global__ void quick_gelu_f16(const __half* x, __half* y, long long n) {
    for (long long i = global_index(); i < n; i += global_stride()) {
        float v = f32(x[i]);
        y[i] = f16(v * sigmoid(1.702f * v));
    }
}

// y = x Phi(x), exact erf GELU
extern "C" __global__ void gelu_f16(const __half* x, __half* y, long long n) {
    for (long long i = global_index(); i < n; i += global_stride()) y[i] = f16(gelu(f32(x[i])));
}

// GEGLU (Shazeer 2020) as diffusers: hidden, gate = x.chunk(2, -1); y = hidden gelu(gate).
// x [rows, 2d] -> y [rows, d]
extern "C" __global__ void geglu_f16(const __half* x, __half* y, long long rows, int d) {
    const long long n = rows * d;
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
