using System.Numerics.Tensors;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// Normalization backward. For a set of n values normalized together, xhat = (x - mean) inv,
/// inv = 1 / sqrt(var + eps) (biased variance), and g = dL/dxhat:
///   dL/dx = inv (g - mean(g) - xhat mean(g xhat))
/// (differentiate xhat through mean and var; e.g. Ioffe and Szegedy 2015, section 3). The statistics are
/// recomputed in double as the forward computes them; the elementwise work is fp32 SIMD.
/// </summary>
public sealed partial class CpuBackend
{
    public void GroupNormBackward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor dy, Tensor dx)
    {
        // x, dy, dx [N, C, *spatial]; gamma, beta [C]; a = xhat gamma + beta, y = silu ? silu(a) : a
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(GroupNormBackward), x.Rank >= 2 && groups > 0 && c % groups == 0 && gamma.Length == c && beta.Length == c
            && dy.Length == x.Length && dx.Length == x.Length, x, gamma, dy, dx);
        int spatial = (int)(x.Length / ((long)n * c)), cpg = c / groups, groupSize = cpg * spatial;
        var xd = x.Data; var dyd = dy.Data; var dxd = dx.Data; var gm = gamma.Data; var bt = beta.Data;
        Parallel.For(0, n * groups, ng =>
        {
            int start = ng * groupSize, c0 = ng % groups * cpg;
            var (mean, inv) = Moments(xd.AsSpan(start, groupSize), eps);
            var xhat = new float[groupSize];                                 // [cpg, spatial]
            // silu scratch [spatial]: a, s = sigmoid(a), t = silu'(a)
            Span<float> a = silu ? new float[spatial] : default, s = silu ? new float[spatial] : default;
            Span<float> t = silu ? new float[spatial] : default;
            TensorPrimitives.Subtract(xd.AsSpan(start, groupSize), (float)mean, xhat);
            TensorPrimitives.Multiply(xhat, (float)inv, xhat);
            // g = dL/dxhat = dy gamma silu'(a), kept in dx until the sums are known
            double sumG = 0, sumGX = 0;
            for (int ci = 0; ci < cpg; ci++)
            {
                float gam = gm[c0 + ci], bet = bt[c0 + ci];
                var xh = xhat.AsSpan(ci * spatial, spatial);
                var g = dxd.AsSpan(start + ci * spatial, spatial);
                TensorPrimitives.Multiply(dyd.AsSpan(start + ci * spatial, spatial), gam, g);
                if (silu)
                {
                    // silu'(a) = s (1 + a (1 - s)), s = sigmoid(a)
                    TensorPrimitives.Multiply(xh, gam, a);
                    TensorPrimitives.Add(a, bet, a);
                    TensorPrimitives.Sigmoid(a, s);
                    TensorPrimitives.Subtract(1f, s, t);
                    TensorPrimitives.FusedMultiplyAdd(a, t, 1f, t);
                    TensorPrimitives.Multiply(t, s, t);
                    TensorPrimitives.Multiply(g, t, g);
                }
                sumG += TensorPrimitives.Sum<float>(g);
                sumGX += TensorPrimitives.Dot<float>(g, xh);
            }
            NormalizeGradient(xhat, dxd.AsSpan(start, groupSize), (float)inv, (float)(sumG / groupSize), (float)(sumGX / groupSize));
        });
    }

    public void LayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx)
    {
        // x, dy, dx [R, C]; gamma [C]; y = xhat gamma + beta over the last axis
        int c = x.Dim(-1);
        Require(nameof(LayerNormBackward), gamma.Length == c && dy.Length == x.Length && dx.Length == x.Length, x, gamma, dy, dx);
        int rows = (int)(x.Length / c);
        var xd = x.Data; var dyd = dy.Data; var dxd = dx.Data; var gm = gamma.Data;
        const int RowsPerTask = 16;
        Parallel.For(0, (rows + RowsPerTask - 1) / RowsPerTask, task =>
        {
            var xhat = new float[c];
            for (int r = task * RowsPerTask; r < Math.Min(rows, (task + 1) * RowsPerTask); r++)
            {
                int start = r * c;
                var (mean, inv) = Moments(xd.AsSpan(start, c), eps);
                TensorPrimitives.Subtract(xd.AsSpan(start, c), (float)mean, xhat);
                TensorPrimitives.Multiply(xhat, (float)inv, xhat);
                var g = dxd.AsSpan(start, c);
                TensorPrimitives.Multiply(dyd.AsSpan(start, c), gm, g);     // g = dL/dxhat = dy gamma
                double sumG = TensorPrimitives.Sum<float>(g), sumGX = TensorPrimitives.Dot<float>(g, xhat);
                NormalizeGradient(xhat, g, (float)inv, (float)(sumG / c), (float)(sumGX / c));
            }
        });
    }

    // mean and 1 / sqrt(biased var + eps) of one normalization set, in double as the forward.
    private static (double Mean, double Inv) Moments(ReadOnlySpan<float> x, float eps)
    {
        double sum = 0, sq = 0;
        foreach (float v in x) { sum += v; sq += (double)v * v; }
        double mean = sum / x.Length, variance = Math.Max(0, sq / x.Length - mean * mean);
        return (mean, 1.0 / Math.Sqrt(variance + eps));
    }

    // g (in place, holding dL/dxhat) -> dL/dx = inv (g - mean(g) - xhat mean(g xhat))
    private static void NormalizeGradient(ReadOnlySpan<float> xhat, Span<float> g, float inv, float meanG, float meanGX)
    {
        TensorPrimitives.FusedMultiplyAdd(xhat, -meanGX, g, g);
        TensorPrimitives.Subtract(g, meanG, g);
        TensorPrimitives.Multiply(g, inv, g);
    }
}
