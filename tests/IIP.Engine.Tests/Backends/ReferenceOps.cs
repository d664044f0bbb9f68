namespace IIP.Engine.Tests.Backends;

/// <summary>
/// Plain double-precision reference implementations of the backend ops, written from their definitions (PyTorch
/// semantics) with no blocking or vectorisation. Ops with rounding-error bounds also return the magnitude that
/// bounds them (sum of |terms|), so tests can state tolerances relative to it.
/// </summary>
public static class ReferenceOps
{
    /// <summary>C = alpha op(A) op(B) + beta C0 for the listed entries; magnitude = sum_p |a_ip b_pj|.</summary>
    public static (double[] Value, double[] Magnitude) Gemm(bool transA, bool transB, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c0, int ldc, IReadOnlyList<(int I, int J)> entries)
    {
        var value = new double[entries.Count];
        var magnitude = new double[entries.Count];
        for (int e = 0; e < entries.Count; e++)
        {
            var (i, j) = entries[e];
            double sum = 0, abs = 0;
            for (int p = 0; p < k; p++)
            {
                double av = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                double bv = transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                sum += av * bv;
                abs += Math.Abs(av * bv);
            }
            double prior = beta == 0f ? 0 : (double)beta * c0[(long)i * ldc + j];
            value[e] = alpha * sum + prior;
            magnitude[e] = Math.Abs(alpha) * abs + Math.Abs(prior);
        }
        return (value, magnitude);
    }

    /// <summary>PyTorch Conv2d (cross-correlation, zero padding). x [N, C, H, W], w [O, C, KH, KW] -> [N, O, Ho, Wo].</summary>
    public static (double[] Value, double[] Magnitude) Conv2d(IIP.Engine.Tensors.Tensor x, IIP.Engine.Tensors.Tensor w, IIP.Engine.Tensors.Tensor? b, int stride,
        IIP.Engine.Backends.Padding2d pad)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        float[] xd = x.Data, wdata = w.Data;
        var value = new double[(long)n * o * ho * wo];
        var magnitude = new double[value.Length];
        long idx = 0;
        for (int i = 0; i < n; i++)
            for (int oc = 0; oc < o; oc++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++, idx++)
                    {
                        double sum = b is null ? 0 : b.Data[oc], abs = Math.Abs(sum);
                        for (int ci = 0; ci < c; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * stride - pad.Top + ky, ix = ox * stride - pad.Left + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    double term = (double)wdata[((oc * c + ci) * kh + ky) * kw + kx] * xd[((i * c + ci) * (long)h + iy) * wd + ix];
                                    sum += term;
                                    abs += Math.Abs(term);
                                }
                        value[idx] = sum;
                        magnitude[idx] = abs;
                    }
        return (value, magnitude);
    }

    /// <summary>
    /// Scaled dot-product attention per head for the listed query rows (all batches). q [B, Tq, C], k [B, Tk, C],
    /// v [B, Tk, Cv] -> rows of [B, Tq, Cv]; magnitude = sum_t p_t |v_t| per output.
    /// </summary>
    public static (double[] Value, double[] Magnitude) Attention(IIP.Engine.Tensors.Tensor q, IIP.Engine.Tensors.Tensor k, IIP.Engine.Tensors.Tensor v, int heads,
        bool causal, IReadOnlyList<int> queryRows)
    {
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        int d = c / heads, dv = cv / heads;
        float[] qd = q.Data, kd = k.Data, vd = v.Data;
        var value = new double[(long)bsz * queryRows.Count * cv];
        var magnitude = new double[value.Length];
        var p = new double[tk];
        for (int b = 0; b < bsz; b++)
            for (int qi = 0; qi < queryRows.Count; qi++)
            {
                int i = queryRows[qi];
                for (int h = 0; h < heads; h++)
                {
                    double max = double.NegativeInfinity;
                    for (int t = 0; t < tk; t++)
                    {
                        if (causal && t > i) { p[t] = double.NegativeInfinity; continue; }
                        double s = 0;
                        for (int e = 0; e < d; e++)
                            s += (double)qd[((long)b * tq + i) * c + h * d + e] * kd[((long)b * tk + t) * c + h * d + e];
                        p[t] = s / Math.Sqrt(d);
                        max = Math.Max(max, p[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < tk; t++) { p[t] = Math.Exp(p[t] - max); sum += p[t]; }
                    for (int e = 0; e < dv; e++)
                    {
                        double y = 0, abs = 0;
                        for (int t = 0; t < tk; t++)
                        {
                            double vt = vd[((long)b * tk + t) * cv + h * dv + e];
                            y += p[t] * vt;
                            abs += p[t] * Math.Abs(vt);
                        }
                        long at = ((long)b * queryRows.Count + qi) * cv + h * dv + e;
                        value[at] = y / sum;
                        magnitude[at] = abs / sum;
                    }
                }
            }
        return (value, magnitude);
    }

    /// <summary>GroupNorm (biased variance) then optional SiLU; magnitude = |x - 0| |scale| + |mean scale| + |beta|.</summary>
    public static (double[] Value, double[] Magnitude) GroupNorm(IIP.Engine.Tensors.Tensor x, IIP.Engine.Tensors.Tensor gamma, IIP.Engine.Tensors.Tensor beta,
        int groups, double eps, bool silu)
    {
        int n = x.Shape[0], c = x.Shape[1];
        int spatial = (int)(x.Length / ((long)n * c)), cpg = c / groups;
        var value = new double[x.Length];
        var magnitude = new double[x.Length];
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++)
            {
                long start = ((long)i * c + g * cpg) * spatial, count = (long)cpg * spatial;
                double mean = 0;
                for (long e = 0; e < count; e++) mean += x.Data[start + e];
                mean /= count;
                double variance = 0;
                for (long e = 0; e < count; e++) variance += (x.Data[start + e] - mean) * (x.Data[start + e] - mean);
                variance /= count;
                double inv = 1 / Math.Sqrt(variance + eps);
                for (long e = 0; e < count; e++)
                {
                    int ch = g * cpg + (int)(e / spatial);
                    double scale = inv * gamma.Data[ch], xv = x.Data[start + e];
                    double y = (xv - mean) * scale + beta.Data[ch];
                    value[start + e] = silu ? y / (1 + Math.Exp(-y)) : y;
                    magnitude[start + e] = Math.Abs(xv * scale) + Math.Abs(mean * scale) + Math.Abs(beta.Data[ch]);
                }
            }
        return (value, magnitude);
    }

    /// <summary>LayerNorm over the last axis (biased variance); magnitude as <see cref="GroupNorm"/>.</summary>
    public static (double[] Value, double[] Magnitude) LayerNorm(IIP.Engine.Tensors.Tensor x, IIP.Engine.Tensors.Tensor gamma, IIP.Engine.Tensors.Tensor beta, double eps)
    {
        int c = x.Dim(-1);
        long rows = x.Length / c;
        var value = new double[x.Length];
        var magnitude = new double[x.Length];
        for (long r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int e = 0; e < c; e++) mean += x.Data[r * c + e];
            mean /= c;
            for (int e = 0; e < c; e++) variance += (x.Data[r * c + e] - mean) * (x.Data[r * c + e] - mean);
            variance /= c;
            double inv = 1 / Math.Sqrt(variance + eps);
            for (int e = 0; e < c; e++)
            {
                double scale = inv * gamma.Data[e], xv = x.Data[r * c + e];
                value[r * c + e] = (xv - mean) * scale + beta.Data[e];
                magnitude[r * c + e] = Math.Abs(xv * scale) + Math.Abs(mean * scale) + Math.Abs(beta.Data[e]);
            }
        }
        return (value, magnitude);
    }

    /// <summary>erf by its Maclaurin series (|x| &lt; 3) or continued fraction of erfc, to double precision.</summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        double result;
        if (z < 3)
        {
            // erf z = 2 / sqrt(pi) sum_n (-1)^n z^(2n+1) / (n! (2n+1))
            double term = z, sum = z;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-18 * Math.Abs(sum); n++)
            {
                term *= -z * z / n;
                sum += term / (2 * n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc z = exp(-z^2) / sqrt(pi) * 1 / (z + 1/2 / (z + 1 / (z + 3/2 / (z + ...)))), evaluated bottom-up
            double f = z;
            for (int n = 60; n >= 1; n--) f = z + n / 2.0 / f;
            result = 1 - Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
        }
        return x < 0 ? -result : result;
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
}
