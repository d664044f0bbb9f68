using IIP.Engine.Tensors;

namespace IIP.Detection.Methods;

/// <summary>Similarity measures between an input and its regeneration (IIP.md step 6).</summary>
public static class Similarity
{
    /// <summary>cos(a, b) = a.b / (|a| |b|) over all elements, in double; 0 when either is zero.</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("cosine similarity needs equal lengths");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>
    /// Mean SSIM (Wang et al. 2004, eq. 13) of two images [1, 3, H, W] in [-1, 1], mapped to [0, 1]:
    /// 11x11 Gaussian window (sigma 1.5), C1 = (0.01)^2, C2 = (0.03)^2, valid-region windows only (as
    /// skimage's structural_similarity with gaussian_weights=True, use_sample_covariance=False), averaged over RGB.
    /// </summary>
    public static double Ssim(Tensor a, Tensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape) || a.Rank != 4)
            throw new ArgumentException($"SSIM needs two [1, C, H, W] images of one shape, got [{a.ShapeText}] and [{b.ShapeText}]");
        int c = a.Shape[1], h = a.Shape[2], w = a.Shape[3];
        const int Radius = 5;
        if (h < 2 * Radius + 1 || w < 2 * Radius + 1)
            throw new ArgumentException($"SSIM needs images of at least 11x11 pixels, got {h}x{w}");
        var kernel = new double[2 * Radius + 1];
        double sum = 0;
        for (int i = -Radius; i <= Radius; i++) sum += kernel[i + Radius] = Math.Exp(-i * i / (2 * 1.5 * 1.5));
        for (int i = 0; i < kernel.Length; i++) kernel[i] /= sum;
        const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
        double total = 0;
        for (int ch = 0; ch < c; ch++)
        {
            var x = Plane(a, ch); var y = Plane(b, ch);
            var mx = Blur(x, h, w, kernel); var my = Blur(y, h, w, kernel);
            var xx = Blur(Product(x, x), h, w, kernel); var yy = Blur(Product(y, y), h, w, kernel); var xy = Blur(Product(x, y), h, w, kernel);
            double acc = 0; int count = 0;
            for (int i = Radius; i < h - Radius; i++)
                for (int j = Radius; j < w - Radius; j++)
                {
                    int k = i * w + j;
                    double vx = xx[k] - mx[k] * mx[k], vy = yy[k] - my[k] * my[k], cxy = xy[k] - mx[k] * my[k];
                    acc += (2 * mx[k] * my[k] + C1) * (2 * cxy + C2) / ((mx[k] * mx[k] + my[k] * my[k] + C1) * (vx + vy + C2));
                    count++;
                }
            total += acc / count;
        }
        return total / c;
    }

    private static double[] Plane(Tensor t, int ch)
    {
        int hw = t.Shape[2] * t.Shape[3];
        var p = new double[hw];
        for (int i = 0; i < hw; i++) p[i] = (Math.Clamp(t.Data[ch * hw + i], -1f, 1f) + 1) / 2;
        return p;
    }

    private static double[] Product(double[] a, double[] b)
    {
        var p = new double[a.Length];
        for (int i = 0; i < a.Length; i++) p[i] = a[i] * b[i];
        return p;
    }

    // separable Gaussian blur; border pixels use the clipped window (they are excluded from the mean anyway)
    private static double[] Blur(double[] src, int h, int w, double[] k)
    {
        int r = k.Length / 2;
        var tmp = new double[src.Length];
        var dst = new double[src.Length];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
            {
                double s = 0;
                for (int d = -r; d <= r; d++) { int jj = j + d; if ((uint)jj < (uint)w) s += k[d + r] * src[i * w + jj]; }
                tmp[i * w + j] = s;
            }
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
            {
                double s = 0;
                for (int d = -r; d <= r; d++) { int ii = i + d; if ((uint)ii < (uint)h) s += k[d + r] * tmp[ii * w + j]; }
                dst[i * w + j] = s;
            }
        return dst;
    }
}
