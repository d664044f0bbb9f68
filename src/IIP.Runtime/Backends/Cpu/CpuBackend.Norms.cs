using System.Numerics.Tensors;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y)
    {
        // x [N, C, *spatial]; statistics over (C / groups) channels x spatial, biased variance, in double.
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(GroupNorm), c % groups == 0 && gamma.Length == c && beta.Length == c && x.Length == y.Length, x, gamma, y);
        int spatial = (int)(x.Length / ((long)n * c)), cpg = c / groups, groupSize = cpg * spatial;
        var xd = x.Data; var yd = y.Data; var g = gamma.Data; var bt = beta.Data;
        Parallel.For(0, n * groups, ng =>
        {
            int start = ng * groupSize;
            var src = xd.AsSpan(start, groupSize);
            double sum = 0, sq = 0;
            foreach (float v in src) { sum += v; sq += (double)v * v; }
            double mean = sum / groupSize, variance = Math.Max(0, sq / groupSize - mean * mean);
            float inv = (float)(1.0 / Math.Sqrt(variance + eps)), mu = (float)mean;
            int c0 = ng % groups * cpg;
            Span<float> sig = stackalloc float[Math.Min(spatial, 1024)];
            for (int ci = 0; ci < cpg; ci++)
            {
                float scale = inv * g[c0 + ci], shift = bt[c0 + ci] - mu * scale;
                var s = xd.AsSpan(start + ci * spatial, spatial);
                var d = yd.AsSpan(start + ci * spatial, spatial);
                TensorPrimitives.Multiply(s, scale, d);
                TensorPrimitives.Add(d, shift, d);
                if (silu)
                {
                    for (int off = 0; off < spatial; off += sig.Length)
                    {
                        int len = Math.Min(sig.Length, spatial - off);
                        var chunk = d.Slice(off, len);
                        TensorPrimitives.Sigmoid(chunk, sig[..len]);
                        TensorPrimitives.Multiply(chunk, sig[..len], chunk);
                    }
                }
            }
        });
    }

    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        // x [R, C]; statistics over C, biased variance, in double.
        int c = x.Dim(-1);
        Require(nameof(LayerNorm), gamma.Length == c && beta.Length == c && x.Length == y.Length, x, gamma, y);
        int rows = (int)(x.Length / c);
        var xd = x.Data; var yd = y.Data; var g = gamma.Data; var bt = beta.Data;
        Parallel.For(0, rows, r =>
        {
            var s = xd.AsSpan(r * c, c);
            var d = yd.AsSpan(r * c, c);
            double sum = 0, sq = 0;
            foreach (float v in s) { sum += v; sq += (double)v * v; }
            double mean = sum / c, variance = Math.Max(0, sq / c - mean * mean);
            float inv = (float)(1.0 / Math.Sqrt(variance + eps)), mu = (float)mean;
            for (int i = 0; i < c; i++) d[i] = (s[i] - mu) * inv * g[i] + bt[i];
        });
    }
}
