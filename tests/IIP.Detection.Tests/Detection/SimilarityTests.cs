using IIP.Detection.Methods;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.Detection;

public class SimilarityTests
{
    [Fact]
    public void Cosine_matches_its_definition()
    {
        // a = (1, 2, 2), b = (2, 0, 1): a.b = 4, |a| = 3, |b| = sqrt 5
        Assert.Equal(4 / (3 * Math.Sqrt(5)), Similarity.Cosine([1f, 2f, 2f], [2f, 0f, 1f]), 12);
        Assert.Equal(0, Similarity.Cosine([0f, 0f], [1f, 2f]));
    }

    [Fact]
    public void Ssim_is_one_for_identical_images_and_matches_a_direct_computation()
    {
        var noise = new GaussianNoise(3);
        var a = noise.Sample(1, 3, 20, 24);
        var b = noise.Sample(1, 3, 20, 24);
        for (long i = 0; i < a.Length; i++) { a.Data[i] = Math.Clamp(a.Data[i] * 0.4f, -1f, 1f); b.Data[i] = Math.Clamp(0.7f * a.Data[i] + 0.2f * b.Data[i], -1f, 1f); }
        Assert.Equal(1.0, Similarity.Ssim(a, a), 12);
        // Direct evaluation of Wang et al. (2004) eq. 13 at every valid 11x11 window with Gaussian weights (sigma 1.5),
        // pixels mapped to [0, 1], C1 = 0.01^2, C2 = 0.03^2, mean over windows and channels.
        double expected = 0;
        var w = new double[11, 11];
        double wsum = 0;
        for (int i = 0; i < 11; i++) for (int j = 0; j < 11; j++) wsum += w[i, j] = Math.Exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
        for (int c = 0; c < 3; c++)
        {
            double acc = 0; int count = 0;
            for (int y = 5; y < 15; y++)
                for (int x = 5; x < 19; x++)
                {
                    double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                    for (int i = 0; i < 11; i++)
                        for (int j = 0; j < 11; j++)
                        {
                            double k = w[i, j] / wsum;
                            double p = (a.Data[(c * 20 + y + i - 5) * 24 + x + j - 5] + 1) / 2.0, q = (b.Data[(c * 20 + y + i - 5) * 24 + x + j - 5] + 1) / 2.0;
                            mx += k * p; my += k * q; xx += k * p * p; yy += k * q * q; xy += k * p * q;
                        }
                    double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
                    acc += (2 * mx * my + 1e-4) * (2 * cxy + 9e-4) / ((mx * mx + my * my + 1e-4) * (vx + vy + 9e-4));
                    count++;
                }
            expected += acc / count / 3;
        }
        double actual = Similarity.Ssim(a, b);
        Assert.True(Math.Abs(actual - expected) < 1e-9, $"SSIM {actual} vs direct {expected}");   // both in double; only summation order differs
        Assert.InRange(actual, 0.1, 0.99);
    }

    [Fact]
    public void Ssim_rejects_mismatched_or_tiny_images()
    {
        Assert.Throws<ArgumentException>(() => Similarity.Ssim(new Tensor([1, 3, 16, 16]), new Tensor([1, 3, 16, 17])));
        Assert.Throws<ArgumentException>(() => Similarity.Ssim(new Tensor([1, 3, 8, 8]), new Tensor([1, 3, 8, 8])));
    }
}
