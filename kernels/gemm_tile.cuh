// The tensor-core tile machinery shared by kernels/gemm.cu and kernels/conv2d.cu: a 128 x 128 output tile of
// C = alpha op(A) op(B) (+ bias) from operand loaders (a loader reads its operand's 128 x 32 tiles from wherever the
// operand lives: a row-major matrix here, an implicit im2col in conv2d.cu), mma.sync m16n8k16 (fp16 in, fp32
// accumulate), a register-staged or cp.async main loop, split K into fp32 partials, and the epilogue.
// The layout and pipeline notes are at the top of gemm.cu.
#pragma once

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

// The main loops and the epilogue, for any pair of loaders.

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
