using System.Buffers;
using IIP.Engine.Backends.Cpu.Gemm;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// Output pixels per image up to which a batch runs as one GEMM over all its images: at the UNet's deep levels (16x16
    /// and 8x8 latents, 1280 channels) a weight panel otherwise serves only 8 or 2 pixel panels per image and the
    /// product waits on reading the weights; side by side, a batch of 2 halves that traffic.
    /// </summary>
    private const int BatchedConvMaxPixels = 256;

    public void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d pad, Tensor y)
    {
        // x [N, C, H, W], w [O, C, KH, KW] -> y [N, O, Ho, Wo]
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        Require(nameof(Conv2d), x.Rank == 4 && w.Rank == 4 && w.Shape[1] == c && y.Rank == 4 && y.Shape[0] == n && y.Shape[1] == o
            && y.Shape[2] == ho && y.Shape[3] == wo && stride >= 1 && ho > 0 && wo > 0 && (b is null || b.Length == o), x, w, y);
        float* packed = _packedWeights.RowsAsA(w);
        fixed (float* pw = w.Data)
        {
            if (packed != null) Conv2dGemms(new PrepackedPanels(packed), x, w, b, stride, pad, y);
            else Conv2dGemms(StridedPanels.ForA(false, pw, c * kh * kw), x, w, b, stride, pad, y);
        }
    }

    // y_i [O, Ho Wo] = w [O, C KH KW] col(x_i) [C KH KW, Ho Wo] + bias [O] (one per row, added by the GEMM driver), the
    // weights as A panels (packed in advance for model weights), col(x_i) packed from the image: one GEMM per image, or
    // for small images one over the batch, C [O, N Ho Wo] = w [col(x_0) .. col(x_N-1)], then copied into y [N, O, Ho Wo].
    private void Conv2dGemms<TWeights>(TWeights weights, Tensor x, Tensor w, Tensor? b, int stride, Padding2d pad, Tensor y)
        where TWeights : struct, IPanelSource
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3], ho = y.Shape[2], wo = y.Shape[3];
        int ckk = c * kh * kw, pixels = ho * wo;
        bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == default;
        // Rows narrower than a B panel: im2col from a zero-padded copy, whole output rows per panel (PaddedIm2ColPanels).
        bool padded = !pointwise && stride == 1 && 2 * wo <= _kernels.NR && PaddedIm2ColPanels.Fits(_kernels.NR, wo);
        int hp = h + pad.Top + pad.Bottom, wp = wd + pad.Left + pad.Right;
        float[]? paddedCopy = padded && pad != default ? ArrayPool<float>.Shared.Rent(checked(n * c * hp * wp)) : null;
        try
        {
            fixed (float* px = x.Data, py = y.Data, pb = b?.Data, pxp = paddedCopy)
            {
                float* source = px;
                if (paddedCopy != null)
                {
                    PaddedIm2ColPanels.Pad(px, n, c, h, wd, pad, pxp);
                    source = pxp;
                }
                var bias = GemmBias.Rows(pb);
                if (n > 1 && pixels <= BatchedConvMaxPixels)
                {
                    long columns = (long)n * pixels;
                    float* batch = GemmScratch.Extra(o * columns);   // C [O, N Ho Wo]
                    if (padded)
                        GemmDriver.Run(_kernels, weights, new PaddedIm2ColPanels(source, c, ho, wo, kh, kw), o, (int)columns, ckk, 1f, 0f,
                            batch, (int)columns, parallel: true, bias);
                    else
                        GemmDriver.Run(_kernels, weights, new Im2ColPanels(px, c, h, wd, kh, kw, stride, pad, ho, wo), o, (int)columns, ckk, 1f, 0f,
                            batch, (int)columns, parallel: true, bias);
                    for (int i = 0; i < n; i++)
                        for (int oc = 0; oc < o; oc++)
                            new ReadOnlySpan<float>(batch + oc * columns + (long)i * pixels, pixels)
                                .CopyTo(new Span<float>(py + ((long)i * o + oc) * pixels, pixels));
                    return;
                }
                for (int i = 0; i < n; i++)
                {
                    float* xi = px + (long)i * c * h * wd;
                    float* yi = py + (long)i * o * pixels;
                    if (pointwise)
                        GemmDriver.Run(_kernels, weights, StridedPanels.ForB(false, xi, pixels), o, pixels, c, 1f, 0f, yi, pixels, parallel: true, bias);
                    else if (padded)
                        GemmDriver.Run(_kernels, weights, new PaddedIm2ColPanels(source + (long)i * c * hp * wp, c, ho, wo, kh, kw), o, pixels, ckk,
                            1f, 0f, yi, pixels, parallel: true, bias);
                    else
                        GemmDriver.Run(_kernels, weights, new Im2ColPanels(xi, c, h, wd, kh, kw, stride, pad, ho, wo), o, pixels, ckk, 1f, 0f, yi, pixels, parallel: true, bias);
                }
            }
        }
        finally
        {
            if (paddedCopy != null) ArrayPool<float>.Shared.Return(paddedCopy);
        }
    }
}
