using IIP.Engine.Backends.Cpu;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// The softmax's flush of negligible terms (<see cref="VectorMath.FlushExponent2"/>, <see cref="VectorMath.FlushExponent"/>).
/// <see cref="ColumnSoftmax"/>'s 2^x step on every path it has (width 32: AVX-512 where the CPU has it; width 16:
/// 8-lane vectors; width 3: scalar): values against double 2^x, negligible terms flushed to exactly 0, nothing
/// sub-normal.
/// </summary>
public sealed unsafe class ColumnSoftmaxTests
{
    /// <summary>The smallest normal fp32 number, 2^-126; anything nonzero below it is sub-normal.</summary>
    public const float SmallestNormal = 1.17549435e-38f;

    /// <summary>exp(x) below 2^-64 counts as negligible: x &lt; -64 ln 2.</summary>
    private static readonly double Negligible = -64 * Math.Log(2);

    /// <summary>2^x below 2^-64 counts as negligible: x &lt; -64.</summary>
    private const double Negligible2 = -64;

    [Theory]
    [InlineData(32)]
    [InlineData(16)]
    [InlineData(3)]
    public void Exp2AndSumFlushesNegligibleTermsToZeroAndMakesNoSubnormals(int width)
    {
        // Column j's maximum is 2 j; row t holds max - d(t, j), d spanning 0 to 120 in steps of 0.5 (past -64 and
        // toward the end of the fp32 normal range, -126, where 2^x turns sub-normal) and -inf (a masked key).
        const int rows = 241;
        var s = new float[rows * width];
        var max = new float[width];
        var expected = new double[rows * width];
        var expectedSum = new double[width];
        for (int j = 0; j < width; j++)
        {
            max[j] = 2f * j;
            for (int t = 0; t < rows; t++)
            {
                float d = t == rows - 1 ? float.PositiveInfinity : 0.5f * t + 0.013f * j;
                s[t * width + j] = max[j] - d;
                double x = (double)s[t * width + j] - max[j];
                expected[t * width + j] = x < Negligible2 ? 0 : Math.Pow(2, x);
                expectedSum[j] += expected[t * width + j];
            }
        }
        var sum = new float[width];
        fixed (float* ps = s, pm = max, psum = sum)
            ColumnSoftmax.Exp2AndSum(ps, rows, width, pm, psum);

        for (int i = 0; i < s.Length; i++)
        {
            Assert.True(s[i] == 0f || s[i] >= SmallestNormal, $"width {width}: element {i} is sub-normal: {s[i]:R}");
            if (expected[i] == 0)
                Assert.True(s[i] == 0f, $"width {width}: element {i} ({s[i]:R}) is below 2^-64 of its column maximum: not 0");
        }
        // The polynomial is within 1.9e-8 of 2^f, its fp32 evaluation adds rounding: 8.2e-8 relative (1.4 u, u = 2^-24)
        // at most over 4 million points of [-64, 0] on both vector paths; float.Exp2 (scalar path) 6.0e-8. 2 u
        // (1.2e-7 relative) bounds them.
        NumericAssert.Close($"2^x, width {width}", s, expected, i => 1.2e-7 * expected[i]);
        // Column sums of at most 129 positive terms: 1e-6 relative covers their rounding.
        NumericAssert.Close($"column sums, width {width}", sum, expectedSum, j => 1e-6 * expectedSum[j]);
    }

    [Fact]
    public void FlushNegligibleArgumentsSendsOnlyThoseBelowTheFloorToMinusInfinity()
    {
        // 37 values (four 8-lane blocks and a scalar tail) from 0 down to -90 in steps of 2.5, NaN-free.
        var x = Enumerable.Range(0, 37).Select(i => -2.5f * i).ToArray();
        var flushed = (float[])x.Clone();
        VectorMath.FlushNegligibleArguments(flushed);
        for (int i = 0; i < x.Length; i++)
        {
            float want = x[i] < Negligible ? float.NegativeInfinity : x[i];
            Assert.True(flushed[i] == want, $"x = {x[i]}: got {flushed[i]}, want {want}");
        }
    }
}
