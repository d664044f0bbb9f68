using System.Numerics.Tensors;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Conv2dBackwardInput(Tensor dy, Tensor w, int stride, Padding2d pad, Tensor dx)
    {
        // Forward: y [O, P] = w [O, CKK] col(x) [CKK, P] per image, P = Ho Wo.
        // Backward: dcol [CKK, P] = w^T dy [O, P], then col2im scatters dcol back onto dx (the adjoint of im2col).
        // Same GEMM size as the forward, so the cost is the forward's. w^T is formed once per call (O CKK copies,
        // negligible next to the GEMM's O CKK P) so the GEMM runs untransposed like the forward's.
        int n = dx.Shape[0], c = dx.Shape[1], h = dx.Shape[2], wd = dx.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        Require(nameof(Conv2dBackwardInput), dx.Rank == 4 && w.Rank == 4 && dy.Rank == 4 && stride >= 1
            && w.Shape[1] == c && dy.Shape[0] == n && dy.Shape[1] == o && dy.Shape[2] == ho && dy.Shape[3] == wo, dy, w, dx);
        int ckk = c * kh * kw, pixels = ho * wo;
        bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == default;
        float[]? col = pointwise ? null : new float[(long)ckk * pixels];
        var wt = new float[(long)ckk * o];
        TransposeMatrix(w.Data, wt, o, ckk);   // w [O, CKK] -> wt [CKK, O]
        fixed (float* pdy = dy.Data, pw = wt, pdx = dx.Data, pc = col)
        {
            for (int i = 0; i < n; i++)
            {
                float* dyi = pdy + (long)i * o * pixels;
                float* dxi = pdx + (long)i * c * h * wd;
                if (pointwise)
                {
                    // dx [C, HW] = w^T [C, O] dy [O, HW]
                    CpuGemm.Multiply(false, false, c, pixels, o, 1f, pw, o, dyi, pixels, 0f, dxi, pixels);
                }
                else
                {
                    // dcol [CKK, P] = w^T [CKK, O] dy [O, P]
                    CpuGemm.Multiply(false, false, ckk, pixels, o, 1f, pw, o, dyi, pixels, 0f, pc, pixels);
                    Col2Im(pc, c, h, wd, kh, kw, stride, pad, ho, wo, dxi);
                }
            }
        }
    }

    // col [C * KH * KW, Ho * Wo] -> x [C, H, W]: x[c, oy s - top + ky, ox s - left + kx] += col[(c, ky, kx), (oy, ox)],
    // entries that fall in the padding are dropped. One task per channel, so no two tasks write the same pixel.
    private static void Col2Im(float* col, int c, int h, int w, int kh, int kw, int stride, Padding2d pad, int ho, int wo, float* x)
    {
        nint pcol = (nint)col, px = (nint)x;
        Parallel.For(0, c, ci =>
        {
            var plane = new Span<float>((float*)px + (long)ci * h * w, h * w);
            plane.Clear();
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++)
                {
                    float* src = (float*)pcol + ((long)(ci * kh + ky) * kw + kx) * ho * wo;
                    // output columns whose input column ix = ox s - left + kx lies in [0, w)
                    int first = pad.Left - kx > 0 ? (pad.Left - kx + stride - 1) / stride : 0;
                    int lastNumerator = w - 1 + pad.Left - kx;
                    int end = lastNumerator < 0 ? 0 : Math.Min(wo, lastNumerator / stride + 1);
                    if (first >= end) continue;
                    for (int oy = 0; oy < ho; oy++)
                    {
                        int iy = oy * stride - pad.Top + ky;
                        if ((uint)iy >= (uint)h) continue;
                        var srow = new ReadOnlySpan<float>(src + (long)oy * wo, wo);
                        var drow = plane.Slice(iy * w, w);
                        int ix0 = first * stride - pad.Left + kx;
                        if (stride == 1)
                        {
                            var d = drow.Slice(ix0, end - first);
                            TensorPrimitives.Add(d, srow[first..end], d);
                        }
                        else
                        {
                            for (int ox = first, ix = ix0; ox < end; ox++, ix += stride) drow[ix] += srow[ox];
                        }
                    }
                }
        });
    }

    // src [rows, cols] -> dst [cols, rows], in 32 x 32 tiles, one task per tile row.
    private static void TransposeMatrix(float[] src, float[] dst, int rows, int cols)
    {
        const int Tile = 32;
        Parallel.For(0, (rows + Tile - 1) / Tile, tile =>
        {
            int r0 = tile * Tile, r1 = Math.Min(rows, r0 + Tile);
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int c1 = Math.Min(cols, c0 + Tile);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[(long)c * rows + r] = src[(long)r * cols + c];
            }
        });
    }
}
