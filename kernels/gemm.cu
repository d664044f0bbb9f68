// Tensor-core GEMMs (mma.sync m16n8k16, fp16 in, fp32 accumulate) for linear layers, 1x1 convolutions and the
// attention score products, and 3x3 (any KxK, any stride and padding) convolution as implicit GEMM, forward and
// input gradient. Launcher: CudaBackend.Gemm.cs; CPU reference: CpuBackend.cs (Linear), CpuBackend.Conv2d.cs,
// CpuBackend.Backward.cs (LinearBackwardInput), CpuBackend.BackwardConv2d.cs.
//
// C [M, N] = alpha op(A) op(B) (+ bias), row-major, batched over blockIdx.z with element strides.
// Names give the storage of A and B as BLAS would for row-major C = A B:
//   nt: A [M, K] (k contiguous), B [N, K] (k contiguous)   -- y = x W^T (Linear), S = Q K^T
//   nn: A [M, K],               B [K, N] (n contiguous)   -- dx = dy W, 1x1 conv y = W x, Y = P V
//   tn: A [K, M] (m contiguous), B [K, N]                  -- 1x1 conv dx = W^T dy, dV = P^T dY, dK = dS^T Q
// Block tile 128 x 128 x 32, 8 warps of 64 x 32; the next k tile is fetched into registers while the current one is
// multiplied (two shared buffers, one barrier per k tile). Shared tiles keep the operand's contiguous direction:
// [row][k] (k contiguous, 8 halves of padding per row so the 32-bit fragment loads hit 32 distinct banks) for operands
// stored k-contiguous, [k][row] (rows contiguous, padded to 136 so each ldmatrix phase hits 32 distinct banks) for
// the others, whose fragments are read with ldmatrix.trans. Both are written with 16-byte stores.
// The *_pipelined kernels (opt-in, for operands that allow 16-byte loads) copy tiles with cp.async straight into a
// three-stage ring of shared tiles (dynamic shared memory, 60 KiB), two k tiles in flight while one is multiplied, so
// no registers hold the next tile (Ampere's multistage GEMM, as in CUTLASS's sm80 kernels).
// Split K (fp16-output kernels): when a product has too few output tiles to fill the GPU (the 8x8 and 16x16 UNet
// levels: 20-40 tiles for 132 SMs, K up to 23040), the host launches `splits` blocks per tile, each summing one
// contiguous range of k tiles into fp32 partials [batch][split][M][N]; splitk_reduce_f16 then adds them in split
// order (deterministic), adds the bias and rounds to fp16 once.
#include "common.cuh"

using namespace iip;

namespace {

constexpr int BM = 128, BN = 128, BK = 32, LDS = BK + 8, LDK = 128 + 8, THREADS = 256;
constexpr int TILE = 128 * LDS;  // halves in one [128][LDS] shared tile (a [BK][LDK] tile, 4352 halves, fits too)
constexpr int STAGES = 3;        // the pipelined kernels' ring of k tiles
constexpr int PIPELINE_SHARED_BYTES = STAGES * 2 * TILE * 2;  // A and B tile per stage: 61440 bytes (CudaKernelSet)
static_assert(2 * PIPELINE_SHARED_BYTES <= 163 * 1024, "two pipelined blocks fit an A100 SM's shared memory");

// Flags from the host: which operands allow 16-byte vector loads and 2-element stores; X_ROWS (convolution): the input's
// rows start 16-byte aligned (x aligned, W % 8 == 0).
constexpr int A_VEC = 1, B_VEC = 2, C_PAIR = 4, X_ROWS = 8;

// This thread's share of one 128 x 32 tile: two chunks of 8 halves.
struct Regs {
    uint4 v[2];
};

// Chunk layouts. "k chunks": chunk c covers tile row c / 4, k offsets (c % 4) * 8 .. + 7, stored into a [row][k] tile.
// "row chunks": chunk c covers k offset c / 16, tile rows (c % 16) * 8 .. + 7 (consecutive rows at one k, for
// operands whose rows are contiguous in memory), stored into a [k][row] tile.
__device__ __forceinline__ void store_k_chunks(const Regs& r, __half* tile) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int c = threadIdx.x + i * THREADS;
        *reinterpret_cast<uint4*>(tile + (c >> 2) * LDS + (c & 3) * 8) = r.v[i];
    }
}

__device__ __forceinline__ void store_row_chunks(const Regs& r, __half* tile) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int c = threadIdx.x + i * THREADS;
        *reinterpret_cast<uint4*>(tile + (c >> 4) * LDK + (c & 15) * 8) = r.v[i];
    }
}

// Element (row, k) at p[row * ld + k]: A of nt/nn, B of nt.
struct KContig {
    static constexpr bool k_major = false;
    const __half* p;
    int rows, k_total, ld;
    bool vec;

    __device__ void load(int row0, int k0, Regs& r) const {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, row = row0 + (c >> 2), k = k0 + (c & 3) * 8;
            const __half* src = p + (long long)row * ld + k;
            if (vec && row < rows && k + 8 <= k_total) {
                r.v[i] = *reinterpret_cast<const uint4*>(src);
            } else {
                __half h[8];
#pragma unroll
                for (int j = 0; j < 8; ++j) h[j] = (row < rows && k + j < k_total) ? src[j] : __float2half_rn(0.0f);
                r.v[i] = pack8(h);
            }
        }
    }

    __device__ void store(const Regs& r, __half* tile) const { store_k_chunks(r, tile); }

    // load + store in one step with cp.async, for operands with 16-byte loads (vec): this thread's chunks of the tile,
    // zero-filled past the last row and past K
    __device__ void issue(int row0, int k0, __half* tile) const {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, row = row0 + (c >> 2), k = k0 + (c & 3) * 8;
            const int bytes = row < rows ? 2 * max(0, min(8, k_total - k)) : 0;
            cp_async_16(tile + (c >> 2) * LDS + (c & 3) * 8, bytes > 0 ? p + (long long)row * ld + k : p, bytes);
        }
    }
};

// Element (row, k) at p[k * ld + row]: A of tn, B of nn/tn.
struct RowContig {
    static constexpr bool k_major = true;
    const __half* p;
    int rows, k_total, ld;
    bool vec;

    __device__ void load(int row0, int k0, Regs& r) const {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, k = k0 + (c >> 4), row = row0 + (c & 15) * 8;
            const __half* src = p + (long long)k * ld + row;
            if (vec && k < k_total && row + 8 <= rows) {
                r.v[i] = *reinterpret_cast<const uint4*>(src);
            } else {
                __half h[8];
#pragma unroll
                for (int j = 0; j < 8; ++j) h[j] = (k < k_total && row + j < rows) ? src[j] : __float2half_rn(0.0f);
                r.v[i] = pack8(h);
            }
        }
    }

    __device__ void store(const Regs& r, __half* tile) const { store_row_chunks(r, tile); }

    // as KContig::issue: zero-filled past the last row and past K
    __device__ void issue(int row0, int k0, __half* tile) const {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int c = threadIdx.x + i * THREADS, k = k0 + (c >> 4), row = row0 + (c & 15) * 8;
            const int bytes = k < k_total ? 2 * max(0, min(8, rows - row)) : 0;
            cp_async_16(tile + (c >> 4) * LDK + (c & 15) * 8, bytes > 0 ? p + (long long)k * ld + row : p, bytes);
        }
    }
};

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

// acc += the A tile `as` times the B tile `bs` (one k tile, in their loaders' layouts). acc[i][j] is the 16 x 8
// fragment at warp rows wm + 16 i, warp columns wn + 8 j.
template <class LoadA, class LoadB>
__device__ __forceinline__ void multiply_tile(const __half* as, const __half* bs, float (&acc)[4][4][4]) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
#pragma unroll
    for (int ks = 0; ks < BK; ks += 16) {
        uint32_t a[4][4], b[4][2];
        const int q = lane >> 3, r8 = lane & 7;  // ldmatrix: this lane addresses row r8 of matrix q
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            if constexpr (LoadA::k_major) {
                // matrices (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15) = a0..a3
                ldmatrix_x4_trans(a[i], as + (ks + (q >> 1) * 8 + r8) * LDK + wm + i * 16 + (q & 1) * 8);
            } else {
                const __half* pa = as + (wm + i * 16 + g) * LDS + ks + 2 * t;
                a[i][0] = load_pair(pa);
                a[i][1] = load_pair(pa + 8 * LDS);
                a[i][2] = load_pair(pa + 8);
                a[i][3] = load_pair(pa + 8 * LDS + 8);
            }
        }
#pragma unroll
        for (int j = 0; j < 4; j += 2) {
            if constexpr (LoadB::k_major) {
                // matrices (k 0-7, n block j), (k 8-15, block j), (k 0-7, block j + 1), (k 8-15, block j + 1)
                uint32_t r[4];
                ldmatrix_x4_trans(r, bs + (ks + (q & 1) * 8 + r8) * LDK + wn + (j + (q >> 1)) * 8);
                b[j][0] = r[0];
                b[j][1] = r[1];
                b[j + 1][0] = r[2];
                b[j + 1][1] = r[3];
            } else {
#pragma unroll
                for (int jj = j; jj < j + 2; ++jj) {
                    const __half* pb = bs + (wn + jj * 8 + g) * LDS + ks + 2 * t;
                    b[jj][0] = load_pair(pb);
                    b[jj][1] = load_pair(pb + 8);
                }
            }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) mma_m16n8k16(acc[i][j], a[i], b[j][0], b[j][1]);
    }
}

__device__ __forceinline__ void zero(float (&acc)[4][4][4]) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
}

// Multiplies k tiles [kt_begin, kt_end) (tiles of BK; the loaders zero-fill k >= their k_total), staging the next
// tile in registers during the current tile's MMAs (two shared buffers, one barrier per k tile).
template <class LoadA, class LoadB>
__device__ void gemm_mainloop(const LoadA& la, const LoadB& lb, int m0, int n0, int kt_begin, int kt_end, float (&acc)[4][4][4]) {
    __shared__ __align__(16) __half smem[4 * TILE];  // A buffers 0, 1 then B buffers 0, 1: 40 KiB
    __half* const as_base = smem;
    __half* const bs_base = smem + 2 * TILE;
    zero(acc);
    if (kt_begin >= kt_end) return;
    Regs ra, rb;
    la.load(m0, kt_begin * BK, ra);
    lb.load(n0, kt_begin * BK, rb);
    la.store(ra, as_base);
    lb.store(rb, bs_base);
    __syncthreads();
    for (int kt = kt_begin; kt < kt_end; ++kt) {
        const int cur = (kt - kt_begin) & 1;
        if (kt + 1 < kt_end) {
            la.load(m0, (kt + 1) * BK, ra);
            lb.load(n0, (kt + 1) * BK, rb);
        }
        multiply_tile<LoadA, LoadB>(as_base + cur * TILE, bs_base + cur * TILE, acc);
        if (kt + 1 < kt_end) {
            la.store(ra, as_base + (cur ^ 1) * TILE);
            lb.store(rb, bs_base + (cur ^ 1) * TILE);
        }
        __syncthreads();
    }
}

// As gemm_mainloop with cp.async: a ring of STAGES shared stages (stage s: A tile at 2 s TILE, B tile at (2 s + 1) TILE
// of the dynamic shared memory), STAGES - 1 tiles in flight. Each thread commits one copy group per tile (empty past
// the end, so the count stays aligned) and waits for the oldest; the barrier after the wait publishes every thread's
// copies and ensures the stage refilled next (read in the previous iteration) is no longer read.
template <class LoadA, class LoadB>
__device__ void gemm_mainloop_pipelined(const LoadA& la, const LoadB& lb, int m0, int n0, int kt_begin, int kt_end,
                                        float (&acc)[4][4][4]) {
    __half* const smem = dynamic_shared<__half>();
    zero(acc);
    const int tiles = kt_end - kt_begin;
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < tiles) {
            la.issue(m0, (kt_begin + s) * BK, smem + 2 * s * TILE);
            lb.issue(n0, (kt_begin + s) * BK, smem + (2 * s + 1) * TILE);
        }
        cp_async_commit();
    }
    for (int i = 0; i < tiles; ++i) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        const int next = i + STAGES - 1;
        if (next < tiles) {
            const int stage = next % STAGES;
            la.issue(m0, (kt_begin + next) * BK, smem + 2 * stage * TILE);
            lb.issue(n0, (kt_begin + next) * BK, smem + (2 * stage + 1) * TILE);
        }
        cp_async_commit();
        const int stage = i % STAGES;
        multiply_tile<LoadA, LoadB>(smem + 2 * stage * TILE, smem + (2 * stage + 1) * TILE, acc);
    }
    cp_async_wait<0>();  // nothing may still be writing shared memory when the block ends
}

__device__ __forceinline__ void store_pair(__half* dst, float v0, float v1) {
    *reinterpret_cast<__half2*>(dst) = __floats2half2_rn(v0, v1);
}
__device__ __forceinline__ void store_pair(float* dst, float v0, float v1) { *reinterpret_cast<float2*>(dst) = make_float2(v0, v1); }
__device__ __forceinline__ void store_one(__half* dst, float v) { *dst = __float2half_rn(v); }
__device__ __forceinline__ void store_one(float* dst, float v) { *dst = v; }

constexpr int BIAS_NONE = 0, BIAS_PER_COLUMN = 1, BIAS_PER_ROW = 2;

// C[row, col] = alpha acc + bias, for the rows < M and columns < N this block owns.
template <typename OutT>
__device__ void gemm_epilogue(const float (&acc)[4][4][4], OutT* c, int ldc, int m_total, int n_total, int m0, int n0, float alpha,
                              const __half* bias, int bias_mode, bool pair_ok) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp & 1) * 64, wn = (warp >> 1) * 32;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const int row = m0 + wm + i * 16 + g + half * 8, col = n0 + wn + j * 8 + 2 * t;
                if (row >= m_total || col >= n_total) continue;
                float v0 = alpha * acc[i][j][2 * half], v1 = alpha * acc[i][j][2 * half + 1];
                const bool second = col + 1 < n_total;
                if (bias_mode == BIAS_PER_COLUMN) {
                    v0 += f32(bias[col]);
                    if (second) v1 += f32(bias[col + 1]);
                } else if (bias_mode == BIAS_PER_ROW) {
                    const float b = f32(bias[row]);
                    v0 += b;
                    v1 += b;
                }
                OutT* dst = c + (long long)row * ldc + col;
                if (second && pair_ok) {
                    store_pair(dst, v0, v1);
                } else {
                    store_one(dst, v0);
                    if (second) store_one(dst + 1, v1);
                }
            }
}

// One output tile: blockIdx.x/y pick its columns/rows. With splits > 1, split `split` of item `item` sums its range
// of k tiles into partial + (item * splits + split) M N (fp32, [M][N], alpha applied, no bias) instead of writing C.
// Pipelined: the cp.async main loop (the loaders' issue(); dynamic shared memory PIPELINE_SHARED_BYTES).
template <bool Pipelined = false, class LoadA, class LoadB, typename OutT>
__device__ void gemm_tile(const LoadA& la, const LoadB& lb, OutT* c, int ldc, int m_total, int n_total, int k_total, float alpha,
                          const __half* bias, int bias_mode, bool pair_ok, int splits = 1, int item = 0, int split = 0,
                          float* partial = nullptr) {
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int tiles = (k_total + BK - 1) / BK, per_split = (tiles + splits - 1) / splits;
    const int kt_begin = split * per_split, kt_end = min(tiles, kt_begin + per_split);
    float acc[4][4][4];
    if constexpr (Pipelined) gemm_mainloop_pipelined(la, lb, m0, n0, kt_begin, kt_end, acc);
    else gemm_mainloop(la, lb, m0, n0, kt_begin, kt_end, acc);
    if (splits == 1) {
        gemm_epilogue(acc, c, ldc, m_total, n_total, m0, n0, alpha, bias, bias_mode, pair_ok);
    } else {
        float* part = partial + ((long long)item * splits + split) * m_total * n_total;
        gemm_epilogue(acc, part, n_total, m_total, n_total, m0, n0, alpha, nullptr, BIAS_NONE, (n_total & 1) == 0);
    }
}

}  // namespace

// Grid (ceil(N / 128), ceil(M / 128), batch x splits), block 256. bias [N] (bias_mode 1) or [M] (bias_mode 2) or null.
// splits > 1 (fp16 output only): partial holds batch x splits x M x N floats; then splitk_reduce_f16 writes C.
#define IIP_GEMM_PARAMS                                                                                                   \
    const __half *a, const __half *b, OUT_T *c, const __half *bias, int m, int n, int k, int lda, int ldb, int ldc,     \
        long long stride_a, long long stride_b, long long stride_c, float alpha, int bias_mode, int flags, int splits,   \
        float *partial
#define IIP_GEMM_BATCH                                                  \
    const int item = blockIdx.z / splits, split = blockIdx.z % splits; \
    a += item * stride_a;                                               \
    b += item * stride_b;                                               \
    c += item * stride_c

#define OUT_T __half
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, KContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nn_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, RowContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_tn_f16(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(RowContig{a, m, k, lda, (flags & A_VEC) != 0}, RowContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha,
              bias, bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}

// The same three products with the cp.async main loop: both operands must allow 16-byte loads (flags A_VEC and B_VEC,
// which these kernels do not re-check); dynamic shared memory PIPELINE_SHARED_BYTES (61440: the launcher opts in).
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(KContig{a, m, k, lda, true}, KContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nn_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(KContig{a, m, k, lda, true}, RowContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}

extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_tn_f16_pipelined(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile<true>(RowContig{a, m, k, lda, true}, RowContig{b, n, k, ldb, true}, c, ldc, m, n, k, alpha, bias, bias_mode,
                    (flags & C_PAIR) != 0, splits, item, split, partial);
}
#undef OUT_T

// fp32 output (attention scores and their gradient, which the softmax kernels read at full precision); the host uses splits 1.
#define OUT_T float
extern "C" __global__ void __launch_bounds__(THREADS, 2) gemm_nt_f16_f32(IIP_GEMM_PARAMS) {
    IIP_GEMM_BATCH;
    gemm_tile(KContig{a, m, k, lda, (flags & A_VEC) != 0}, KContig{b, n, k, ldb, (flags & B_VEC) != 0}, c, ldc, m, n, k, alpha, bias,
              bias_mode, (flags & C_PAIR) != 0, splits, item, split, partial);
}
#undef OUT_T

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

// The second pass of split K: c[item, row, col] = fp16(sum over s in order of partial[item][s][row][col] + bias), bias per
// column (bias_mode 1), per row (2) or none. c of item z starts at c + z stride_c, rows ldc apart. One thread per element.
extern "C" __global__ void splitk_reduce_f16(const float* partial, __half* c, const __half* bias, int m, int n, int ldc,
                                             long long stride_c, int splits, int items, int bias_mode) {
    const long long per_item = (long long)m * n, total = per_item * items;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        const long long item = e / per_item, rc = e - item * per_item;
        const int row = (int)(rc / n), col = (int)(rc - (long long)row * n);
        const float* p = partial + item * splits * per_item + rc;
        float sum = 0.0f;
        for (int s = 0; s < splits; ++s) sum += p[s * per_item];
        if (bias_mode == BIAS_PER_COLUMN) sum += f32(bias[col]);
        else if (bias_mode == BIAS_PER_ROW) sum += f32(bias[row]);
        c[item * stride_c + (long long)row * ldc + col] = __float2half_rn(sum);
    }
}
