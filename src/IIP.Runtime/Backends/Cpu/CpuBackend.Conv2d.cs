using System.Numerics.Tensors;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d pad, Tensor y)
    {
        // x [N, C, H, W], w [O, C, KH, KW] -> y [N, O, Ho, Wo]
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        Require(nameof(Conv2d), x.Rank == 4 && w.Rank == 4 && w.Shape[1] == c && y.Shape[0] == n && y.Shape[1] == o
            && y.Shape[2] == ho && y.Shape[3] == wo && (b is null || b.Length == o), x, w, y);
        int ckk = c * kh * kw, pixels = ho * wo;
        bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == default;
        float[]? col = pointwise ? null : new float[(long)ckk * pixels];
        fixed (float* px = x.Data, pw = w.Data, py = y.Data)
        {
            for (int i = 0; i < n; i++)
            {
                float* xi = px + (long)i * c * h * wd;
                float* yi = py + (long)i * o * pixels;
                if (pointwise)
                {
                    // y[O, HW] = w[O, C] x[C, HW]
                    CpuGemm.Multiply(false, false, o, pixels, c, 1f, pw, c, xi, pixels, 0f, yi, pixels);
                }
                else
                {
                    Im2Col(xi, c, h, wd, kh, kw, stride, pad, ho, wo, col!);
                    fixed (float* pc = col)
                        CpuGemm.Multiply(false, false, o, pixels, ckk, 1f, pw, ckk, pc, pixels, 0f, yi, pixels);
                }
            }
        }
        if (b is not null)
        {
            var yd = y.Data; var bd = b.Data;
            Parallel.For(0, n * o, no => TensorPrimitives.Add(yd.AsSpan(no * pixels, pixels), bd[no % o], yd.AsSpan(no * pixels, pixels)));
        }
    }

    // x [C, H, W] -> col [C * KH * KW, Ho * Wo], zero outside the padded image.
    private static void Im2Col(float* x, int c, int h, int w, int kh, int kw, int stride, Padding2d pad, int ho, int wo, float[] col)
    {
        nint px = (nint)x;
        Parallel.For(0, c * kh * kw, row =>
        {
            float* src = (float*)px;
            int ci = row / (kh * kw), ky = row / kw % kh, kx = row % kw;
            var dst = col.AsSpan(row * ho * wo, ho * wo);
            for (int oy = 0; oy < ho; oy++)
            {
                int iy = oy * stride - pad.Top + ky;
                var drow = dst.Slice(oy * wo, wo);
                if ((uint)iy >= (uint)h) { drow.Clear(); continue; }
                float* srow = src + ((long)ci * h + iy) * w;
                for (int ox = 0; ox < wo; ox++)
                {
                    int ix = ox * stride - pad.Left + kx;
                    drow[ox] = (uint)ix < (uint)w ? srow[ix] : 0f;
                }
            }
        });
    }
}
