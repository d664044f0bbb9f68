using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// Normalization backward. For a set of n values normalized together, xhat = (x - mean) inv,
/// inv = 1 / sqrt(var + eps) (biased variance), and g = dL/dxhat:
///   dL/dx = inv (g - mean(g) - xhat mean(g xhat))
/// (differentiate xhat through mean and var; e.g. Ioffe and Szegedy 2015, section 3). Statistics in double,
/// as the forward computes them.
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
            // g = dL/dxhat = dy gamma silu'(a), kept in dx until the sums are known
            double sumG = 0, sumGX = 0;
            for (int ci = 0; ci < cpg; ci++)
            {
                double gam = gm[c0 + ci], bet = bt[c0 + ci];
                for (int s = 0, i = start + ci * spatial; s < spatial; s++, i++)
                {
                    double xhat = (xd[i] - mean) * inv, g = dyd[i] * gam;
                    if (silu) g *= SiluDerivative(xhat * gam + bet);
                    dxd[i] = (float)g;
                    sumG += g;
                    sumGX += g * xhat;
                }
            }
            NormalizeGradient(xd.AsSpan(start, groupSize), dxd.AsSpan(start, groupSize), mean, inv, sumG / groupSize, sumGX / groupSize);
        });
    }

    public void LayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx)
    {
        // x, dy, dx [R, C]; gamma [C]; y = xhat gamma + beta over the last axis
        int c = x.Dim(-1);
        Require(nameof(LayerNormBackward), gamma.Length == c && dy.Length == x.Length && dx.Length == x.Length, x, gamma, dy, dx);
        int rows = (int)(x.Length / c);
        var xd = x.Data; var dyd = dy.Data; var dxd = dx.Data; var gm = gamma.Data;
        Parallel.For(0, rows, r =>
        {
            int start = r * c;
            var (mean, inv) = Moments(xd.AsSpan(start, c), eps);
            double sumG = 0, sumGX = 0;
            for (int j = 0; j < c; j++)
            {
                double xhat = (xd[start + j] - mean) * inv, g = (double)dyd[start + j] * gm[j];
                dxd[start + j] = (float)g;
                sumG += g;
                sumGX += g * xhat;
            }
            NormalizeGradient(xd.AsSpan(start, c), dxd.AsSpan(start, c), mean, inv, sumG / c, sumGX / c);
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
    private static void NormalizeGradient(ReadOnlySpan<float> x, Span<float> g, double mean, double inv, double meanG, double meanGX)
    {
        for (int i = 0; i < g.Length; i++)
        {
            double xhat = (x[i] - mean) * inv;
            g[i] = (float)(inv * (g[i] - meanG - xhat * meanGX));
        }
    }

    // silu'(a) = s (1 + a (1 - s)), s = sigmoid(a)
    private static double SiluDerivative(double a)
    {
        double s = 1.0 / (1.0 + Math.Exp(-a));
        return s * (1.0 + a * (1.0 - s));
    }
}
