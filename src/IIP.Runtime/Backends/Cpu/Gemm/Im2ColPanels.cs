using System.Runtime.CompilerServices;
namespace IIP.Runtime.Backends.Cpu.Gemm;

/// <summary>
/// The im2col matrix of a batch of images x [N, C, H, W], op(B) = col [C * KH * KW, N * Ho * Wo] (the images side by
/// side), packed straight from the images (implicit GEMM: the column matrix is never stored). Outer index =
/// n * Ho * Wo + oy * Wo + ox, depth index = (c * KH + ky) * KW + kx; element =
/// x[n, c, oy * stride - top + ky, ox * stride - left + kx], 0 outside the image. With one image it is that image's
/// col(x).
/// </summary>
internal readonly unsafe struct Im2ColPanels(float* x, int c, int h, int w, int kh, int kw, int stride, Padding2d pad, int ho, int wo)
    : IPanelSource
{
    public float* Prepacked => null;

    public void Pack(int o0, int count, int k0, int kc, int width, float* dst)
    {
        for (int q = 0; q * width < count; q++)
        {
            int cols = Math.Min(width, count - q * width);
            float* panel = dst + (long)q * width * kc;
            // Walk the panel's pixels in runs that stay on one output row (so on one image).
            for (int j = 0; j < cols;)
            {
                int o = o0 + q * width + j, image = o / (ho * wo), pixel = o % (ho * wo), oy = pixel / wo, ox = pixel % wo;
                int run = Math.Min(cols - j, wo - ox);
                PackRun(x + (long)image * c * h * w, oy, ox, run, k0, kc, width, panel + j);
                j += run;
            }
            if (cols < width)
                for (int p = 0; p < kc; p++) new Span<float>(panel + (long)p * width + cols, width - cols).Clear();
        }
    }

    // dst[p * width + t] = image[ch, iy, ix(t)] for t < run: one output row, pixels ox .. ox + run - 1.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PackRun(float* image, int oy, int ox, int run, int k0, int kc, int width, float* dst)
    {
        int kk = kh * kw;
        int ch = k0 / kk, ky = k0 / kw % kh, kx = k0 % kw;
        for (int p = 0; p < kc; p++, dst += width)
        {
            int iy = oy * stride - pad.Top + ky;
            if ((uint)iy >= (uint)h)
            {
                new Span<float>(dst, run).Clear();
            }
            else
            {
                float* src = image + ((long)ch * h + iy) * w;
                int ix0 = ox * stride - pad.Left + kx;
                if (stride == 1)
                {
                    // Valid t: 0 <= ix0 + t < w.
                    int t0 = Math.Clamp(-ix0, 0, run), t1 = Math.Clamp(w - ix0, t0, run);
                    for (int t = 0; t < t0; t++) dst[t] = 0f;
                    new ReadOnlySpan<float>(src + ix0 + t0, t1 - t0).CopyTo(new Span<float>(dst + t0, t1 - t0));
                    for (int t = t1; t < run; t++) dst[t] = 0f;
                }
                else
                {
                    for (int t = 0; t < run; t++)
                    {
                        int ix = ix0 + t * stride;
                        dst[t] = (uint)ix < (uint)w ? src[ix] : 0f;
                    }
                }
            }
            if (++kx == kw)
            {
                kx = 0;
                if (++ky == kh) { ky = 0; ch++; }
            }
        }
    }
}
