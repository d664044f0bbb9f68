namespace IIP.TestSupport.References;

/// <summary>
/// Plain-loop double-precision forwards of the backend ops, written from their definitions (PyTorch semantics),
/// so central differences of &lt;r, f(x)&gt; are accurate to ~1e-9 and the fp32 backward can be held to a tight
/// tolerance. Each is also compared with the fp32 CPU forward, so it is the function the backend computes.
/// </summary>
internal static class DoubleReference
{
    // x [M, K], w [N, K] -> y [M, N]
    public static double[] Linear(double[] x, double[] w, int m, int k, int n)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
                y[i * n + j] = s;
            }
        return y;
    }

    // x [N, C, H, W], w [O, C, KH, KW] -> y [N, O, Ho, Wo]; y[o, oy, ox] = sum x[c, oy s - top + ky, ox s - left + kx] w[o, c, ky, kx]
    public static double[] Conv2d(double[] x, double[] w, int n, int c, int h, int wd, int o, int kh, int kw,
        int stride, int top, int left, int bottom, int right)
    {
        int ho = (h + top + bottom - kh) / stride + 1, wo = (wd + left + right - kw) / stride + 1;
        var y = new double[n * o * ho * wo];
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        double s = 0;
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * stride - top + ky, ix = ox * stride - left + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    s += x[((b * c + ci) * h + iy) * wd + ix] * w[((oc * c + ci) * kh + ky) * kw + kx];
                                }
                        y[((b * o + oc) * ho + oy) * wo + ox] = s;
                    }
        return y;
    }

    // x [N, C, S] -> y; per (n, group) normalize with biased variance, affine per channel, then optional SiLU
    public static double[] GroupNorm(double[] x, double[] gamma, double[] beta, int n, int c, int spatial, int groups,
        double eps, bool silu)
    {
        var y = new double[x.Length];
        int size = c / groups * spatial;
        for (int ng = 0; ng < n * groups; ng++)
        {
            int start = ng * size;
            double mean = 0, variance = 0;
            for (int i = 0; i < size; i++) mean += x[start + i];
            mean /= size;
            for (int i = 0; i < size; i++) variance += (x[start + i] - mean) * (x[start + i] - mean);
            variance /= size;
            for (int i = 0; i < size; i++)
            {
                int ch = ng % groups * (c / groups) + i / spatial;
                double a = (x[start + i] - mean) / Math.Sqrt(variance + eps) * gamma[ch] + beta[ch];
                y[start + i] = silu ? Silu(a) : a;
            }
        }
        return y;
    }

    // x [R, C] -> y, normalized over C
    public static double[] LayerNorm(double[] x, double[] gamma, double[] beta, int c, double eps)
    {
        var y = new double[x.Length];
        for (int start = 0; start < x.Length; start += c)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < c; i++) mean += x[start + i];
            mean /= c;
            for (int i = 0; i < c; i++) variance += (x[start + i] - mean) * (x[start + i] - mean);
            variance /= c;
            for (int i = 0; i < c; i++) y[start + i] = (x[start + i] - mean) / Math.Sqrt(variance + eps) * gamma[i] + beta[i];
        }
        return y;
    }

    // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv] -> y [B, Tq, Cv]; per head softmax(q k^T / sqrt(d)) v, causal masks keys j > i
    public static double[] Attention(double[] q, double[] k, double[] v, int bsz, int tq, int tk, int c, int cv, int heads, bool causal)
    {
        int d = c / heads, dv = cv / heads;
        var y = new double[bsz * tq * cv];
        var p = new double[tk];
        for (int b = 0; b < bsz; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tq; i++)
                {
                    int valid = causal ? i + 1 : tk;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < valid; j++)
                    {
                        double s = 0;
                        for (int e = 0; e < d; e++) s += q[(b * tq + i) * c + h * d + e] * k[(b * tk + j) * c + h * d + e];
                        p[j] = s / Math.Sqrt(d);
                        max = Math.Max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < valid; j++) { p[j] = Math.Exp(p[j] - max); sum += p[j]; }
                    for (int e = 0; e < dv; e++)
                    {
                        double s = 0;
                        for (int j = 0; j < valid; j++) s += p[j] / sum * v[(b * tk + j) * cv + h * dv + e];
                        y[(b * tq + i) * cv + h * dv + e] = s;
                    }
                }
        return y;
    }

    public static double Silu(double x) => x / (1 + Math.Exp(-x));

    // x [R, 2D] -> y [R, D] = hidden * gelu(gate), exact GELU 0.5 g (1 + erf(g / sqrt 2))
    public static double[] Geglu(double[] x, int d)
    {
        var y = new double[x.Length / 2];
        for (int r = 0; r < y.Length / d; r++)
            for (int i = 0; i < d; i++)
            {
                double gate = x[r * 2 * d + d + i];
                y[r * d + i] = x[r * 2 * d + i] * 0.5 * gate * (1 + Erf(gate / Math.Sqrt(2)));
            }
        return y;
    }

    /// <summary>erf by its Maclaurin series 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)); ~1e-12 absolute for |x| &lt;= 4.</summary>
    public static double Erf(double x)
    {
        if (Math.Abs(x) > 4) throw new ArgumentOutOfRangeException(nameof(x), x, "series erf is used only for |x| <= 4");
        double term = x, sum = x;  // term = (-1)^n x^(2n+1) / n!
        for (int n = 1; n < 200; n++)
        {
            term *= -x * x / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    // x [N, C, H, W] -> y [N, C, 2H, 2W]
    public static double[] UpsampleNearest2x(double[] x, int nc, int h, int w)
    {
        var y = new double[x.Length * 4];
        for (int p = 0; p < nc; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++)
                    y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
        return y;
    }

    // a [N, Ca, S], b [N, Cb, S] -> y [N, Ca + Cb, S], S = H W
    public static double[] ConcatChannels(double[] a, double[] b, int n)
    {
        int sa = a.Length / n, sb = b.Length / n;
        var y = new double[a.Length + b.Length];
        for (int i = 0; i < n; i++)
        {
            Array.Copy(a, i * sa, y, i * (sa + sb), sa);
            Array.Copy(b, i * sb, y, i * (sa + sb) + sa, sb);
        }
        return y;
    }
}
