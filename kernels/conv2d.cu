// 3x3 (any KxK, any stride and padding) convolution as implicit GEMM on the tile machinery of gemm_tile.cuh, forward
// and input gradient, and the explicit im2col of the cuBLAS path. Launcher: CudaBackend.Conv2d.cs; CPU reference:
// CpuBackend.Conv2d.cs, CpuBackend.BackwardConv2d.cs. Split K partials are reduced by gemm.cu's splitk_reduce_f16.
#include "gemm_tile.cuh"

using namespace iip;

namespace {

// Convolution geometry of one image: x [C, H, W], w [O, C, KH, KW], y [O, Ho, Wo],
// Ho = (H + pad_t + pad_b - KH) / stride + 1 (the host computes Ho and Wo).
struct ConvShape {
    int C, H, W, O, KH, KW, stride, pad_t, pad_l, Ho, Wo;
};

// Eight halves shifted by one along the row: [left, v0 .. v6] and [v1 .. v7, right] (h[0] in the low bytes).
__device__ __forceinline__ uint4 shift_in_left(const uint4& v, unsigned short left) {
    return {(v.x << 16) | left, (v.y << 16) | (v.x >> 16), (v.z << 16) | (v.y >> 16), (v.w << 16) | (v.z >> 16)};
}
__device__ __forceinline__ uint4 shift_in_right(const uint4& v, unsigned short right) {
    return {(v.y << 16) | (v.x >> 16), (v.z << 16) | (v.y >> 16), (v.w << 16) | (v.z >> 16), ((unsigned)right << 16) | (v.w >> 16)};
}

// Implicit im2col, B of the forward convolution: element (p, k) with p = oy Wo + ox an output pixel and
// k = (c KH + ky) KW + kx reads x[c, oy s - pad_t + ky, ox s - pad_l + kx], zero outside the image.
// rows_aligned (X_ROWS): with stride 1, the 8 pixels of a chunk read input columns ox + kx - pad_l .. + 7 of one row, ox a
// multiple of 8; when kx - pad_l is -1, 0 or 1 (every 3x3 convolution with padding 1), they are the aligned 16 bytes at
// column ox shifted by one column, the one column beyond read alone (zero past the image's edge): two loads, not eight.
struct Im2col {
    static constexpr bool k_major = true;
    const __half* x;
    ConvShape s;
    bool rows_aligned;

    __device__ void load(int row0, int k0, Regs& r) const {
        const int pixels = s.Ho * s.Wo, k_total = s.C * s.KH * s.KW;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, k = k0 + (c >> 4), p = row0 + (c & 15) * 8;
            __half h[8];
            if (k < k_total) {
                const int ci = k / (s.KH * s.KW), rem = k - ci * s.KH * s.KW, ky = rem / s.KW, kx = rem - ky * s.KW;
                const __half* plane = x + (long long)ci * s.H * s.W;
                int oy = p / s.Wo, ox = p - oy * s.Wo;
                if ((s.Wo & 7) == 0) {
                    // the 8 pixels lie in one output row (every SD latent width): one input row, columns stride apart
                    const int iy = oy * s.stride - s.pad_t + ky, ix0 = ox * s.stride - s.pad_l + kx, shift = ix0 - ox;
                    const bool row_inside = p < pixels && iy >= 0 && iy < s.H;
                    if (rows_aligned && s.stride == 1 && shift >= -1 && shift <= 1 && ox + 8 <= s.W) {
                        if (!row_inside) {
                            r.v[i] = make_uint4(0u, 0u, 0u, 0u);
                            continue;
                        }
                        const __half* row = plane + iy * s.W;
                        const uint4 center = *reinterpret_cast<const uint4*>(row + ox);
                        if (shift == 0) {
                            r.v[i] = center;
                        } else if (shift < 0) {
                            r.v[i] = shift_in_left(center, ox > 0 ? __half_as_ushort(row[ox - 1]) : (unsigned short)0);
                        } else {
                            r.v[i] = shift_in_right(center, ox + 8 < s.W ? __half_as_ushort(row[ox + 8]) : (unsigned short)0);
                        }
                        continue;
                    }
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        const int ix = ix0 + j * s.stride;
                        h[j] = row_inside && ix >= 0 && ix < s.W ? plane[iy * s.W + ix] : __float2half_rn(0.0f);
                    }
                } else {
#pragma unroll
                    for (int j = 0; j < 8; ++j) {
                        const int iy = oy * s.stride - s.pad_t + ky, ix = ox * s.stride - s.pad_l + kx;
                        const bool inside = p + j < pixels && iy >= 0 && iy < s.H && ix >= 0 && ix < s.W;
                        h[j] = inside ? plane[iy * s.W + ix] : __float2half_rn(0.0f);
                        if (++ox == s.Wo) {
                            ox = 0;
                            ++oy;
                        }
                    }
                }
            } else {
#pragma unroll
                for (int j = 0; j < 8; ++j) h[j] = __float2half_rn(0.0f);
            }
            r.v[i] = pack8(h);
        }
    }

    __device__ void store(const Regs& r, __half* tile) const { store_row_chunks(r, tile); }
};

// A of the input gradient: element (c, k) with k = (o KH + ky) KW + kx reads w[o, c, ky, kx] (W^T as a [C, O KH KW] matrix).
struct ConvWeightTransposed {
    static constexpr bool k_major = false;
    const __half* w;
    ConvShape s;

    __device__ void load(int row0, int k0, Regs& r) const {
        const int kk = s.KH * s.KW, k_total = s.O * kk;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, ci = row0 + (c >> 2), k = k0 + (c & 3) * 8;
            __half h[8];
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const int kj = k + j, o = kj / kk, rem = kj - o * kk;
                h[j] = (ci < s.C && kj < k_total) ? w[((long long)o * s.C + ci) * kk + rem] : __float2half_rn(0.0f);
            }
            r.v[i] = pack8(h);
        }
    }

    __device__ void store(const Regs& r, __half* tile) const { store_k_chunks(r, tile); }
};

// Implicit col2im, B of the input gradient: element (q, k) with q = iy W + ix an input pixel and k = (o, ky, kx)
// reads dy[o, oy, ox] where iy = oy s - pad_t + ky and ix = ox s - pad_l + kx, i.e. oy = (iy + pad_t - ky) / s when
// that divides exactly and lands inside [0, Ho) (likewise ox); otherwise the term is zero. Summing over k gives
// dx[c, iy, ix] = sum_{o, ky, kx} w[o, c, ky, kx] dy[o, oy, ox], the transposed convolution.
struct Col2im {
    static constexpr bool k_major = true;
    const __half* dy;
    ConvShape s;

    __device__ void load(int row0, int k0, Regs& r) const {
        const int pixels = s.H * s.W, k_total = s.O * s.KH * s.KW;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, k = k0 + (c >> 4), q = row0 + (c & 15) * 8;
            __half h[8];
            if (k < k_total) {
                const int o = k / (s.KH * s.KW), rem = k - o * s.KH * s.KW, ky = rem / s.KW, kx = rem - ky * s.KW;
                const __half* plane = dy + (long long)o * s.Ho * s.Wo;
                int iy = q / s.W, ix = q - iy * s.W;
#pragma unroll
                for (int j = 0; j < 8; ++j) {
                    const int ty = iy + s.pad_t - ky, tx = ix + s.pad_l - kx;
                    const int oy = ty / s.stride, ox = tx / s.stride;
                    const bool hit = q + j < pixels && ty >= 0 && tx >= 0 && oy * s.stride == ty && ox * s.stride == tx
                                     && oy < s.Ho && ox < s.Wo;
                    h[j] = hit ? plane[oy * s.Wo + ox] : __float2half_rn(0.0f);
                    if (++ix == s.W) {
                        ix = 0;
                        ++iy;
                    }
                }
            } else {
#pragma unroll
                for (int j = 0; j < 8; ++j) h[j] = __float2half_rn(0.0f);
            }
            r.v[i] = pack8(h);
        }
    }

    __device__ void store(const Regs& r, __half* tile) const { store_row_chunks(r, tile); }
};

}  // namespace

// Forward convolution as implicit GEMM per image: y [O, Ho Wo] = w [O, C KH KW] im2col(x) [C KH KW, Ho Wo] + bias [O].
// x [N, C, H, W], w [O, C, KH, KW], bias [O] or null -> y [N, O, Ho, Wo]; grid (ceil(Ho Wo / 128), ceil(O / 128), N x splits).
// flags: A_VEC when C KH KW % 8 == 0 and w is 16-byte aligned; C_PAIR when Ho Wo is even and y 4-byte aligned; X_ROWS
// when W % 8 == 0 and x is 16-byte aligned.
// splits > 1: partial [N][splits][O][Ho Wo] floats, then splitk_reduce_f16 (bias per row) writes y.
extern "C" __global__ void __launch_bounds__(THREADS, 2) conv2d_f16(const __half* x, const __half* w, const __half* bias, __half* y, int C,
                                                                 int H, int W, int O, int KH, int KW, int stride, int pad_t, int pad_l,
                                                                 int Ho, int Wo, int flags, int splits, float* partial) {
    const ConvShape s{C, H, W, O, KH, KW, stride, pad_t, pad_l, Ho, Wo};
    const int pixels = Ho * Wo, k_total = C * KH * KW;
    const int item = blockIdx.z / splits, split = blockIdx.z % splits;
    x += (long long)item * C * H * W;
    y += (long long)item * O * pixels;
    gemm_tile(KContig{w, O, k_total, k_total, (flags & A_VEC) != 0}, Im2col{x, s, (flags & X_ROWS) != 0}, y, pixels, O, pixels, k_total, 1.0f, bias,
              bias != nullptr ? BIAS_PER_ROW : BIAS_NONE, (flags & C_PAIR) != 0, splits, item, split, partial);
}

// Input gradient of the convolution as implicit GEMM per image: dx [C, H W] = W^T [C, O KH KW] col2im(dy) [O KH KW, H W].
// dy [N, O, Ho, Wo], w [O, C, KH, KW] -> dx [N, C, H, W]; grid (ceil(H W / 128), ceil(C / 128), N x splits).
// splits > 1: partial [N][splits][C][H W] floats, then splitk_reduce_f16 writes dx.
extern "C" __global__ void __launch_bounds__(THREADS, 2) conv2d_backward_input_f16(const __half* dy, const __half* w, __half* dx, int C,
                                                                                int H, int W, int O, int KH, int KW, int stride,
                                                                                int pad_t, int pad_l, int Ho, int Wo, int flags, int splits,
                                                                                float* partial) {
    const ConvShape s{C, H, W, O, KH, KW, stride, pad_t, pad_l, Ho, Wo};
    const int pixels = H * W;
    const int item = blockIdx.z / splits, split = blockIdx.z % splits;
    dy += (long long)item * O * Ho * Wo;
    dx += (long long)item * C * pixels;
    gemm_tile(ConvWeightTransposed{w, s}, Col2im{dy, s}, dx, pixels, C, pixels, O * KH * KW, 1.0f, nullptr, BIAS_NONE,
              (flags & C_PAIR) != 0, splits, item, split, partial);
}

// Explicit im2col for the cuBLAS path of a convolution (CudaBackend.Conv2d with IIP_CUBLAS=1): x [N, C, H, W] ->
// col [N, C KH KW, Ho Wo] with col[n][(c KH + ky) KW + kx][oy Wo + ox] = x[n, c, oy s - pad_t + ky, ox s - pad_l + kx]
// (0 outside the image), the B operand of y[n] [O, Ho Wo] = w [O, C KH KW] col[n]. One thread per col element, grid-stride.
extern "C" __global__ void im2col_f16(const __half* x, __half* col, int N, int C, int H, int W, int KH, int KW, int stride, int pad_t,
                                      int pad_l, int Ho, int Wo) {
    const long long pixels = (long long)Ho * Wo, per_image = (long long)C * KH * KW * pixels, total = per_image * N;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        const long long n = e / per_image, r = e - n * per_image;
        const int row = (int)(r / pixels), p = (int)(r - (long long)row * pixels);
        const int c = row / (KH * KW), rem = row - c * KH * KW, ky = rem / KW, kx = rem - ky * KW;
        const int oy = p / Wo, ox = p - oy * Wo;
        const int iy = oy * stride - pad_t + ky, ix = ox * stride - pad_l + kx;
        col[e] = (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[((n * C + c) * H + iy) * (long long)W + ix] : __float2half_rn(0.0f);
    }
}
