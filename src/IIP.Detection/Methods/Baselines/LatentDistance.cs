namespace IIP.Detection.Methods.Baselines;

/// <summary>Distances between two latents of the same length, accumulated in double.</summary>
internal static class LatentDistance
{
    /// <summary>mean_i (a_i - b_i)^2.</summary>
    public static double MeanSquared(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => SumSquared(a, b) / a.Length;

    /// <summary>sum_i (a_i - b_i)^2.</summary>
    public static double SumSquared(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Check(a, b);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>||a - b||_p = (sum_i |a_i - b_i|^p)^(1/p), p &gt; 0.</summary>
    public static double LpNorm(ReadOnlySpan<float> a, ReadOnlySpan<float> b, double p)
    {
        Check(a, b);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += Math.Pow(Math.Abs((double)a[i] - b[i]), p);
        return Math.Pow(sum, 1.0 / p);
    }

    private static void Check(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length || a.Length == 0)
            throw new ArgumentException($"latent distance needs two non-empty latents of the same length, got {a.Length} and {b.Length}");
    }
}
