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

// y[p, i, j] = x[p, i / 2, j / 2].  x [planes, h, w] -> y [planes, 2h, 2w]
extern "C" __global__ void upsample_nearest2x_f16(const __half* x, __half* y, long long planes, int h, int w) {
    const long long wo = 2LL * w, plane = 4LL * h * w, n = planes * plane;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long p = i / plane, r = i - p * plane;
        const long long oy = r / wo, ox = r - oy * wo;
        y[i] = x[(p * h + oy / 2) * w + ox / 2];
    }
}

// dx[p, i, j] = sum of dy[p, 2i + a, 2j + b], a, b in {0, 1}.  dy [planes, 2h, 2w] -> dx [planes, h, w]
extern "C" __global__ void upsample_nearest2x_backward_f16(const __half* dy, __half* dx, long long planes, int h, int w) {
    const long long plane = (long long)h * w, n = planes * plane;
    for (long long i = global_index(); i < n; i += global_stride()) {
        const long long p = i / plane, r = i - p * plane;
        const long long iy = r / w, ix = r - iy * w;
        const __half* top = dy + (p * 2 * h + 2 * iy) * 2 * w + 2 * ix;
        const __half* bottom = top + 2 * w;
        dx[i] = f16(f32(top[0]) + f32(top[1]) + f32(bottom[0]) + f32(bottom[1]));
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
