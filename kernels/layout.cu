// Data movement: channel concatenation, nearest 2x upsampling, NCHW <-> token transposes, and their input
// gradients. Launcher: CudaBackend.Layout.cs; CPU reference: CpuBackend.cs and CpuBackend.Backward.cs.
#include "common.cuh"

using namespace iip;

// y[i] = [a[i] | b[i]] per image.  a [N, sa], b [N, sb] -> y [N, sa + sb]  (sa = Ca H W, sb = Cb H W)
extern "C" __global__ void concat_channels_f16(const __half* a, const __half* b, __half* y, int images, long long sa, long long sb) {
    const long long per = sa + sb, n = (long long)images * per;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long image = i / per, j = i - image * per;
        y[i] = j < sa ? a[image * sa + j] : b[image * sb + (j - sa)];
    }
}

// Splits dy [N, sa + sb] into da [N, sa] and db [N, sb]; a null destination is skipped.
extern "C" __global__ void concat_channels_backward_f16(const __half* dy, __half* da, __half* db, int images, long long sa, long long sb) {
    const long long per = sa + sb, n = (long long)images * per;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long image = i / per, j = i - image * per;
        if (j < sa) {
            if (da != nullptr) da[image * sa + j] = dy[i];
        } else if (db != nullptr) {
            db[image * sb + (j - sa)] = dy[i];
        }
    }
}

// y[p, i, j] = x[p, i / 2, j / 2].  x [planes, h, w] -> y [planes, ho, wo], ho in {2h - 1, 2h}, wo in {2w - 1, 2w}
// (the last row or column cut off where the UNet's skip connection is odd-sized, as diffusers' interpolate to its size)
extern "C" __global__ void upsample_nearest2x_f16(const __half* x, __half* y, long long planes, int h, int w, int ho, int wo) {
    const long long plane = (long long)ho * wo, n = planes * plane;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long p = i / plane, r = i - p * plane;
        const long long oy = r / wo, ox = r - oy * wo;
        y[i] = x[(p * h + oy / 2) * w + ox / 2];
    }
}

// dx[p, i, j] = sum of the dy[p, 2i + a, 2j + b], a, b in {0, 1}, inside dy [planes, ho, wo] -> dx [planes, h, w]
extern "C" __global__ void upsample_nearest2x_backward_f16(const __half* dy, __half* dx, long long planes, int h, int w, int ho, int wo) {
    const long long plane = (long long)h * w, n = planes * plane;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long p = i / plane, r = i - p * plane;
        const long long iy = r / w, ix = r - iy * w;
        const __half* top = dy + (p * ho + 2 * iy) * wo + 2 * ix;
        const bool right = 2 * ix + 1 < wo, bottom = 2 * iy + 1 < ho;
        float sum = f32(top[0]);
        if (right) sum += f32(top[1]);
        if (bottom) sum += f32(top[wo]);
        if (bottom && right) sum += f32(top[wo + 1]);
        dx[i] = f16(sum);
    }
}

// Batched transpose through a 32 x 33 shared tile (the padding column avoids bank conflicts).
// src [batch, rows, cols] -> dst [batch, cols, rows]; grid (ceil(cols / 32), ceil(rows / 32), batch), block (32, 8).
// ChannelsToTokens: rows = C, cols = H W.  TokensToChannels: rows = H W, cols = C.
extern "C" __global__ void transpose_f16(const __half* src, __half* dst, int rows, int cols) {
    __shared__ __half tile[32][33];
    const long long plane = (long long)rows * cols;
    src += blockIdx.z * plane;
    dst += blockIdx.z * plane;
    const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
    for (int dy = threadIdx.y; dy < 32; dy += 8) {
        const int r = r0 + dy, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[dy][threadIdx.x] = src[(long long)r * cols + c];
    }
    __syncthreads();
    for (int dy = threadIdx.y; dy < 32; dy += 8) {
        const int c = c0 + dy, r = r0 + threadIdx.x;
        if (r < rows && c < cols) dst[(long long)c * rows + r] = tile[threadIdx.x][dy];
    }
}
