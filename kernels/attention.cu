// Fused multi-head attention forward, flash style (Dao 2023, FlashAttention-2): softmax(q k^T / sqrt(d)) v without
// materializing the score matrix. Launcher: CudaBackend.Attention.cs; CPU reference: CpuBackend.Attention.cs.
//
// q [B, Tq, C], k [B, Tk, C], v [B, Tk, C] -> y [B, Tq, C]; head h uses channels [h d, (h + 1) d) (d = C / heads, the
// same for v). One block per (64 query rows, batch x head); 4 warps, each owning 16 query rows. Per key block of 64:
// S = Q K^T on tensor cores (fp32), scaled into the log2 domain, masked (keys >= Tk; with causal, keys after the
// query), then the online softmax: m' = max(m, rowmax S), P = 2^(S - m'), l' = l 2^(m - m') + rowsum P,
// O' = O 2^(m - m') + P V, with P rounded to fp16 as the A operand of the second product (its accumulator layout
// is the A fragment layout, so P never leaves registers). At the end y = O / l.
// D is the head size rounded up to 16 (instantiated for 16 .. 160); columns d .. D are zero-filled in shared memory.
// Shared memory: Q, and K and V twice (two key blocks), as [64][D+8] halves (105 KiB at D = 160: the launcher raises the
// kernel's dynamic shared memory limit), each row written with 16-byte stores; the next key block is copied with
// cp.async while the current one is multiplied (when rows are 16-byte aligned; else loaded in turn). V's fragments for
// P V (pairs along keys) are read with ldmatrix.trans, as the GEMM reads its [k][n] tiles (a transposed copy of V took
// 2-byte stores that shared banks).
#include "common.cuh"

using namespace iip;

namespace {

constexpr int BQ = 64, BKEYS = 64, THREADS = 128;

// rows [row0, row0 + 64) x channels [0, D) of src (row stride ld) -> dst [64][D + 8], zero where row >= row_limit or
// channel >= d.
template <int D>
__device__ void load_rows(const __half* src, int ld, int row0, int row_limit, int d, bool vec, __half* dst) {
    constexpr int CHUNKS = D / 8, LD = D + 8;
    for (int c = threadIdx.x; c < 64 * CHUNKS; c += THREADS) {
        const int r = c / CHUNKS, col = (c - r * CHUNKS) * 8, gr = row0 + r;
        const __half* s = src + (long long)gr * ld + col;
        uint4 val;
        if (vec && gr < row_limit && col + 8 <= d) {
            val = *reinterpret_cast<const uint4*>(s);
        } else {
            __half h[8];
#pragma unroll
            for (int j = 0; j < 8; ++j) h[j] = (gr < row_limit && col + j < d) ? s[j] : __float2half_rn(0.0f);
            val = pack8(h);
        }
        *reinterpret_cast<uint4*>(dst + r * LD + col) = val;
    }
}

// As load_rows with cp.async (operands with 16-byte aligned rows, vec): the copies land at a later cp_async_wait.
template <int D>
__device__ void issue_rows(const __half* src, int ld, int row0, int row_limit, int d, __half* dst) {
    constexpr int CHUNKS = D / 8, LD = D + 8;
    for (int c = threadIdx.x; c < 64 * CHUNKS; c += THREADS) {
        const int r = c / CHUNKS, col = (c - r * CHUNKS) * 8, gr = row0 + r;
        const int bytes = gr < row_limit ? 2 * max(0, min(8, d - col)) : 0;
        cp_async_16(dst + r * LD + col, bytes > 0 ? src + (long long)gr * ld + col : src, bytes);
    }
}

// Key block `kb` of k and v into the shared tiles ks, vs: with cp.async when vec (waited for by the caller), else loaded.
template <int D>
__device__ void fetch_keys(const __half* k, const __half* v, int ldk, int ldv, int kb, int tk, int d, bool vec, __half* ks, __half* vs) {
    if (vec) {
        issue_rows<D>(k, ldk, kb, tk, d, ks);
        issue_rows<D>(v, ldv, kb, tk, d, vs);
    } else {
        load_rows<D>(k, ldk, kb, tk, d, false, ks);
        load_rows<D>(v, ldv, kb, tk, d, false, vs);
    }
    cp_async_commit();
}

template <int D>
__device__ void attention_block(const __half* q, const __half* k, const __half* v, __half* y, int tq, int tk, int heads, int d,
                                int ldq, int ldk, int ldv, int ldy, float scale_log2, int causal, int vec_flag) {
    constexpr int LD = D + 8, KSTEPS = D / 16, OUT_TILES = D / 8;
    __half* const qs = dynamic_shared<__half>();  // [64][LD]
    __half* const kv = qs + BQ * LD;              // key block i: K at kv + (i % 2) 2 TILE, V a TILE after it, TILE = [64][LD]

    const bool vec = vec_flag != 0;
    const int b = blockIdx.y / heads, h = blockIdx.y - b * heads, q0 = blockIdx.x * BQ;
    q += (long long)b * tq * ldq + (long long)h * d;
    k += (long long)b * tk * ldk + (long long)h * d;
    v += (long long)b * tk * ldv + (long long)h * d;
    y += (long long)b * tq * ldy + (long long)h * d;

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int q8 = lane >> 3, r8 = lane & 7;  // ldmatrix: this lane addresses row r8 of matrix q8
    const int row_a = q0 + warp * 16 + g, row_b = row_a + 8;  // this thread's two query rows

    float o[OUT_TILES][4];
#pragma unroll
    for (int n = 0; n < OUT_TILES; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};

    constexpr int TILE = BKEYS * LD;
    load_rows<D>(q, ldq, q0, tq, d, vec, qs);
    const int key_end = causal ? min(tk, q0 + BQ) : tk;
    if (key_end > 0) fetch_keys<D>(k, v, ldk, ldv, 0, tk, d, vec, kv, kv + TILE);
    for (int kb = 0, i = 0; kb < key_end; kb += BKEYS, ++i) {
        // block i has landed for every thread, and every warp is done with block i - 1, whose buffers are refilled next
        cp_async_wait<0>();
        __syncthreads();
        if (kb + BKEYS < key_end) {
            __half* next = kv + ((i + 1) & 1) * 2 * TILE;
            fetch_keys<D>(k, v, ldk, ldv, kb + BKEYS, tk, d, vec, next, next + TILE);  // in flight during this block's work
        }
        const __half* const ks = kv + (i & 1) * 2 * TILE;
        const __half* const vs = ks + TILE;

        // S [16 x 64] per warp = Q K^T
        float s[8][4];
#pragma unroll
        for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) {
            uint32_t a[4];
            const __half* pa = qs + (warp * 16 + g) * LD + kk * 16 + 2 * t;
            a[0] = load_pair(pa);
            a[1] = load_pair(pa + 8 * LD);
            a[2] = load_pair(pa + 8);
            a[3] = load_pair(pa + 8 * LD + 8);
#pragma unroll
            for (int j = 0; j < 8; ++j) {
                const __half* pb = ks + (j * 8 + g) * LD + kk * 16 + 2 * t;
                mma_m16n8k16(s[j], a, load_pair(pb), load_pair(pb + 8));
            }
        }

        // mask, scale to log2 units, row maxima (element e of a fragment is row g for e < 2, row g + 8 otherwise)
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = kb + j * 8 + 2 * t + (e & 1), row = e < 2 ? row_a : row_b;
                const bool live = key < tk && (!causal || key <= row);
                s[j][e] = live ? s[j][e] * scale_log2 : -INFINITY;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[j][e]);
            }
        float base[2], corr[2], rowsum[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            // the four threads of a quad hold the same two rows
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float m_new = fmaxf(m_run[r], mx[r]);
            base[r] = m_new == -INFINITY ? 0.0f : m_new;  // a row with no live key yet: keep every term 0, not NaN
            corr[r] = exp2f(m_run[r] - base[r]);
            m_run[r] = m_new;
        }
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[j][e] = exp2f(s[j][e] - base[e >> 1]);
                rowsum[e >> 1] += s[j][e];
            }
#pragma unroll
        for (int r = 0; r < 2; ++r) l_run[r] = l_run[r] * corr[r] + rowsum[r];  // per-thread partial; quad-reduced at the end
#pragma unroll
        for (int n = 0; n < OUT_TILES; ++n) {
            o[n][0] *= corr[0];
            o[n][1] *= corr[0];
            o[n][2] *= corr[1];
            o[n][3] *= corr[1];
        }

        // O [16 x D] += P [16 x 64] V [64 x D]; P's accumulator fragments for keys 16 kk .. 16 kk + 15 are S tiles 2 kk, 2 kk + 1
#pragma unroll
        for (int kk = 0; kk < 4; ++kk) {
            const uint32_t a[4] = {pack_half2(s[2 * kk][0], s[2 * kk][1]), pack_half2(s[2 * kk][2], s[2 * kk][3]),
                                   pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
            for (int n = 0; n < OUT_TILES; n += 2) {
                // matrices (keys 0-7, columns of tile n), (keys 8-15, tile n), (keys 0-7, tile n + 1), (keys 8-15, tile n + 1)
                uint32_t b[4];
                ldmatrix_x4_trans(b, vs + (kk * 16 + (q8 & 1) * 8 + r8) * LD + (n + (q8 >> 1)) * 8);
                mma_m16n8k16(o[n], a, b[0], b[1]);
                mma_m16n8k16(o[n + 1], a, b[2], b[3]);
            }
        }
    }

    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 1);
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 2);
        inv[r] = l_run[r] > 0.0f ? 1.0f / l_run[r] : 0.0f;
    }
#pragma unroll
    for (int n = 0; n < OUT_TILES; ++n) {
        const int col = n * 8 + 2 * t;
        if (col >= d) continue;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const int row = r == 0 ? row_a : row_b;
            if (row >= tq) continue;
            const float v0 = o[n][2 * r] * inv[r], v1 = o[n][2 * r + 1] * inv[r];
            __half* dst = y + (long long)row * ldy + col;
            if (col + 1 < d && vec) {
                *reinterpret_cast<__half2*>(dst) = __floats2half2_rn(v0, v1);
            } else {
                dst[0] = f16(v0);
                if (col + 1 < d) dst[1] = f16(v1);
            }
        }
    }
}

}  // namespace

// Grid (ceil(Tq / 64), B * heads), block 128, dynamic shared memory 320 (D + 8) * 2 bytes.
// scale_log2 = log2(e) / sqrt(d). vec: d % 8 == 0, C % 8 == 0 and all pointers 16-byte aligned.
#define IIP_ATTENTION(D)                                                                                                    \
    extern "C" __global__ void __launch_bounds__(THREADS) attention_f16_d##D(                                               \
        const __half* q, const __half* k, const __half* v, __half* y, int tq, int tk, int heads, int d, int ldq, int ldk,    \
        int ldv, int ldy, float scale_log2, int causal, int vec) {                                                          \
        attention_block<D>(q, k, v, y, tq, tk, heads, d, ldq, ldk, ldv, ldy, scale_log2, causal, vec);                       \
    }

IIP_ATTENTION(16)
IIP_ATTENTION(32)
IIP_ATTENTION(48)
IIP_ATTENTION(64)
IIP_ATTENTION(80)
IIP_ATTENTION(96)
IIP_ATTENTION(112)
IIP_ATTENTION(128)
IIP_ATTENTION(144)
IIP_ATTENTION(160)
