using IIP.Engine.Optim;

namespace IIP.Engine.Tests.Optim;

public class AdamWTests
{
    [Fact]
    public void TwoStepsMatchHandComputedValues()
    {
        // Expected values from PyTorch 1.13's AdamW update written out in Python doubles:
        //   lr, wd, b1, b2, eps = 0.1, 0.01, 0.9, 0.999, 1e-8; p, m, v = 1.0, 0.0, 0.0
        //   for t, g in enumerate([0.5, -0.25], 1):
        //       p *= 1 - lr * wd; m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g
        //       p -= lr / (1 - b1 ** t) * m / (math.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
        // -> p1 = 0.899000002, p2 = 0.8714672987058463
        var adam = new AdamW(1, new AdamWOptions { LearningRate = 0.1, WeightDecay = 0.01 });
        var p = new[] { 1f };
        adam.Step(p, [0.5f]);
        Assert.True(Math.Abs(p[0] - 0.899000002) <= 1e-7, $"step 1: {p[0]:g9} vs 0.899000002");  // fp32 ulp at 0.9 is 6e-8
        adam.Step(p, [-0.25f]);
        Assert.True(Math.Abs(p[0] - 0.8714672987058463) <= 2e-7, $"step 2: {p[0]:g9} vs 0.871467299");  // two steps of fp32 rounding
        Assert.Equal(2, adam.StepCount);
    }

    [Fact]
    public void QuadraticTrajectoryMatchesIndependentDoubleImplementation()
    {
        // L(p) = 0.5 sum a_i (p_i - c_i)^2, g = a (p - c); IIP's settings lr 0.05, wd 0.01, 10 steps.
        // The reference is the textbook form p -= lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t),
        // v_hat = v / (1 - b2^t), in double; algebraically equal to PyTorch's order of operations.
        const int N = 64, Steps = 10;
        var rng = new Random(42);
        double[] a = new double[N], c = new double[N], p64 = new double[N], m64 = new double[N], v64 = new double[N];
        var p32 = new float[N];
        for (int i = 0; i < N; i++)
        {
            a[i] = 0.5 + 2 * rng.NextDouble();
            c[i] = 2 * rng.NextDouble() - 1;
            p32[i] = (float)(c[i] + (rng.Next(2) == 0 ? -1 : 1) * (1 + rng.NextDouble()));  // start 1..2 away, so g never nears 0
            p64[i] = p32[i];
        }
        var options = new AdamWOptions { LearningRate = 0.05, WeightDecay = 0.01 };
        var adam = new AdamW(N, options);
        var g32 = new float[N];
        double maxError = 0; int worst = -1, worstStep = -1;
        for (int t = 1; t <= Steps; t++)
        {
            for (int i = 0; i < N; i++) g32[i] = (float)(a[i] * (p32[i] - c[i]));
            adam.Step(p32, g32);
            for (int i = 0; i < N; i++)
            {
                double g = a[i] * (p64[i] - c[i]);
                p64[i] *= 1 - options.LearningRate * options.WeightDecay;
                m64[i] = options.Beta1 * m64[i] + (1 - options.Beta1) * g;
                v64[i] = options.Beta2 * v64[i] + (1 - options.Beta2) * g * g;
                double mHat = m64[i] / (1 - Math.Pow(options.Beta1, t)), vHat = v64[i] / (1 - Math.Pow(options.Beta2, t));
                p64[i] -= options.LearningRate * mHat / (Math.Sqrt(vHat) + options.Epsilon);
                double error = Math.Abs(p32[i] - p64[i]);
                if (error > maxError) (maxError, worst, worstStep) = (error, i, t);
            }
        }
        // fp32 state and parameters: ~1e-7 relative rounding per step on |p| <= 3, over 10 steps; measured 7.6e-7.
        Assert.True(maxError <= 2e-6, $"max |p32 - p64| = {maxError:g3} at parameter {worst}, step {worstStep}: "
            + $"{p32[worst]:g9} vs {p64[worst]:g12}; first pairs {string.Join(", ", Enumerable.Range(0, 3).Select(i => $"{p32[i]:g7}/{p64[i]:g7}"))}");
    }

    [Fact]
    public void ZeroGradientOnlyDecaysTheWeights()
    {
        // With g = 0, m = v = 0 and the Adam term is 0 / (0 + eps) = 0: p_t = p_0 (1 - lr wd)^t.
        // (This is what zeroing the BOS row of the gradient does to that row.)
        var options = new AdamWOptions { LearningRate = 0.05, WeightDecay = 0.1 };
        var adam = new AdamW(3, options);
        float[] p = [1.5f, -0.25f, 3f], start = (float[])p.Clone();
        for (int t = 0; t < 5; t++) adam.Step(p, new float[3]);
        float factor = (float)(1 - 0.05 * 0.1);
        for (int i = 0; i < 3; i++)
        {
            float expected = start[i];
            for (int t = 0; t < 5; t++) expected *= factor;  // the same fp32 multiplies PyTorch's mul_ does
            Assert.Equal(expected, p[i]);
            Assert.Equal(start[i] * Math.Pow(0.995, 5), p[i], 6);  // vs double: 5 fp32 roundings, < 1e-6
        }
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(-3.7f)]
    [InlineData(1e-3f)]
    public void FirstStepMovesByLearningRateTimesSign(float g)
    {
        // Step 1: m_hat = g and sqrt(v_hat) = |g|, so the update is lr g / (|g| + eps) = lr sign(g) up to eps / |g|.
        var adam = new AdamW(1, new AdamWOptions { LearningRate = 0.01, WeightDecay = 0 });
        var p = new[] { 0.5f };
        adam.Step(p, [g]);
        double expected = 0.5 - 0.01 * Math.Sign(g) * (Math.Abs(g) / (Math.Abs(g) + 1e-8));
        Assert.True(Math.Abs(p[0] - expected) <= 1e-7, $"g = {g}: p = {p[0]:g9}, expected {expected:g9}");  // fp32 ulp at 0.5: 6e-8
    }

    [Fact]
    public void EpsilonIsAddedAfterTheBiasCorrection()
    {
        // g = 1e-8 = eps: PyTorch's denom = sqrt(v) / sqrt(1 - b2) + eps = |g| + eps = 2e-8, a half step (lr / 2).
        // Adding eps before the bias correction (sqrt(v) + eps, as TensorFlow) would give a step of about lr / 32.6.
        var adam = new AdamW(1, new AdamWOptions { LearningRate = 0.01, WeightDecay = 0 });
        var p = new[] { 0f };
        adam.Step(p, [1e-8f]);
        Assert.True(Math.Abs(p[0] + 0.005) <= 1e-8, $"p = {p[0]:g9}, expected -0.005");  // fp32 rounding of v = 1e-19 and its sqrt: ~1e-7 relative
    }

    [Fact]
    public void RejectsMismatchedLengthsAndBadOptions()
    {
        var adam = new AdamW(4, new AdamWOptions());
        var ex = Assert.Throws<ArgumentException>(() => adam.Step(new float[4], new float[3]));
        Assert.Contains("4 parameters", ex.Message);
        Assert.Throws<ArgumentException>(() => new AdamW(4, new AdamWOptions { Beta2 = 1.0 }));
        Assert.Throws<ArgumentException>(() => new AdamW(4, new AdamWOptions { LearningRate = -1 }));
    }
}
