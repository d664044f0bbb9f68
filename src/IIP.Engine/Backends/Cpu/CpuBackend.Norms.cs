using System.Runtime.Intrinsics;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y)
    {
        // x [N, C, *spatial]; statistics over (C / groups) channels x spatial, biased variance, in double.
        Require(nameof(GroupNorm), x.Rank >= 2 && groups > 0 && x.Shape[1] % groups == 0, x, gamma, y);
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(GroupNorm), gamma.Length == c && beta.Length == c && x.Length == y.Length, x, gamma, y);
        int spatial = (int)(x.Length / Math.Max(1L, (long)n * c)), cpg = c / groups, groupSize = cpg * spatial;
        var xd = x.Data; var yd = y.Data; var g = gamma.Data; var bt = beta.Data;
        ForChunks(n * groups, groupSize, ng =>
        {
            fixed (float* px = xd, py = yd)
            {
                float* src = px + (long)ng * groupSize, dst = py + (long)ng * groupSize;
                var (mean, inv) = Moments(src, groupSize, eps);
                int c0 = ng % groups * cpg;
                for (int ci = 0; ci < cpg; ci++)
                {
                    // y = (x - mean) (inv gamma) + beta, then SiLU y sigmoid(y) when asked. Subtracting the mean
                    // first keeps x - mean exact when x is near it (no cancellation between x scale and mean scale).
                    Normalize(src + (long)ci * spatial, dst + (long)ci * spatial, spatial,
                        (float)mean, (float)(inv * g[c0 + ci]), bt[c0 + ci], silu);
                }
            }
        });
    }

    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        // x [R, C]; statistics over C, biased variance, in double.
        int c = x.Dim(-1);
        Require(nameof(LayerNorm), c > 0 && gamma.Length == c && beta.Length == c && x.Length == y.Length, x, gamma, y);
        int rows = (int)(x.Length / c);
        const int RowsPerChunk = 16;
        var xd = x.Data; var yd = y.Data; var g = gamma.Data; var bt = beta.Data;
        ForChunks((rows + RowsPerChunk - 1) / RowsPerChunk, RowsPerChunk * c, chunk =>
        {
            fixed (float* px = xd, py = yd, pg = g, pb = bt)
            {
                for (int r = chunk * RowsPerChunk; r < Math.Min(rows, (chunk + 1) * RowsPerChunk); r++)
                {
                    float* s = px + (long)r * c, d = py + (long)r * c;
                    var (mean, inv) = Moments(s, c, eps);
                    // y = (x - mean) inv gamma + beta
                    float mu = (float)mean, iv = (float)inv;
                    int i = 0;
                    if (Vector256.IsHardwareAccelerated)
                    {
                        var vmu = Vector256.Create(mu); var viv = Vector256.Create(iv);
                        for (; i + 8 <= c; i += 8)
                        {
                            var t = (Vector256.Load(s + i) - vmu) * viv;
                            Vector256.Store(Vector256.FusedMultiplyAdd(t, Vector256.Load(pg + i), Vector256.Load(pb + i)), d + i);
                        }
                    }
                    for (; i < c; i++) d[i] = MathF.FusedMultiplyAdd((s[i] - mu) * iv, pg[i], pb[i]);
                }
            }
        });
    }

    /// <summary>Mean and 1 / sqrt(biased variance + eps) of count floats, accumulated in double.</summary>
    private static (double Mean, double Inv) Moments(float* p, long count, float eps)
    {
        double sum = 0, squares = 0;
        long i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> s0 = default, s1 = default, q0 = default, q1 = default;
            for (; i + 8 <= count; i += 8)
            {
                var v = Vector256.Load(p + i);
                var lo = Vector256.WidenLower(v);
                var hi = Vector256.WidenUpper(v);
                s0 += lo; s1 += hi;
                q0 = Vector256.FusedMultiplyAdd(lo, lo, q0);
                q1 = Vector256.FusedMultiplyAdd(hi, hi, q1);
            }
            sum = Vector256.Sum(s0 + s1);
            squares = Vector256.Sum(q0 + q1);
        }
        for (; i < count; i++) { sum += p[i]; squares += (double)p[i] * p[i]; }
        double mean = sum / count, variance = Math.Max(0, squares / count - mean * mean);
        return (mean, 1.0 / Math.Sqrt(variance + eps));
    }

    // dst = (src - mean) scale + shift, then optionally silu(t) = t / (1 + exp(-t)).
    private static void Normalize(float* src, float* dst, int count, float mean, float scale, float shift, bool silu)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vm = Vector256.Create(mean); var vs = Vector256.Create(scale); var vt = Vector256.Create(shift);
            for (; i + 8 <= count; i += 8)
            {
                var t = Vector256.FusedMultiplyAdd(Vector256.Load(src + i) - vm, vs, vt);
                if (silu) t /= Vector256<float>.One + VectorMath.Exp(-t);
                Vector256.Store(t, dst + i);
            }
        }
        for (; i < count; i++)
        {
            float t = MathF.FusedMultiplyAdd(src[i] - mean, scale, shift);
            dst[i] = silu ? t / (1f + MathF.Exp(-t)) : t;
        }
    }
}
