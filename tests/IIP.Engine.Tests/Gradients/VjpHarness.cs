using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Gradients;

/// <summary>Tolerances of one <see cref="VjpHarness.Check"/>; the defaults hold for O(1) inputs and gradients.</summary>
internal sealed record VjpTolerances
{
    /// <summary>
    /// Against central differences of the double reference (step 1e-4: truncation ~1e-8 f''', rounding ~1e-12),
    /// what is left is the fp32 rounding of the analytic backward, ~6e-8 per O(1) term it sums. Measured max:
    /// 7.2e-7 (3x3 conv, |n| up to 5.8), 2.6e-7 (SiLU at |x| = 6, where 1 - sigmoid cancels), others &lt; 3e-7.
    /// </summary>
    public double ExactAbsolute { get; init; } = 1e-6;
    public double ExactRelative { get; init; } = 1e-6;

    /// <summary>
    /// Against central differences of the fp32 forward with step 1e-2: the loss carries ~6e-8 |L| rounding,
    /// /2h gives ~3e-6 |L|, plus truncation h^2 f''' / 6. Measured max: 1.2e-4 (GroupNorm with one channel of
    /// six values per group, the most curved case), 7.6e-5 (conv, roundoff of |L| ~ 20), others &lt; 4e-5.
    /// This check ties the backward to the forward op as implemented (padding, head layout, masking).
    /// </summary>
    public double Fp32Absolute { get; init; } = 3e-4;
    public double Fp32Relative { get; init; } = 1e-4;

    /// <summary>
    /// fp32 forward vs the double reference, |y32 - y64| &lt;= ForwardAbsolute (1 + |y64|): fp32 rounding of the
    /// forward's sums. Measured max 2.6e-7 (3x3 conv).
    /// </summary>
    public double ForwardAbsolute { get; init; } = 1e-6;

    /// <summary>Coordinates checked per input (all when the input is smaller).</summary>
    public int Coordinates { get; init; } = 400;
}

/// <summary>
/// Checks one input's vector-Jacobian product dx = J^T r from the CPU backward against central differences of
/// L(x) = &lt;r, f(x)&gt;: once with the double-precision reference forward (tight), once with the fp32 CPU forward
/// (loose, same function as the backend's). Also checks the two forwards agree.
/// </summary>
internal static class VjpHarness
{
    public static void Check(string caseName, Tensor x, Tensor r, Tensor dx, Func<Tensor, Tensor> forward32,
        Func<double[], double[]> forward64, VjpTolerances? tolerances = null)
    {
        var tol = tolerances ?? new VjpTolerances();
        double[] x64 = ToDouble(x), r64 = ToDouble(r);

        var y32 = forward32(x).Data;
        var y64 = forward64(x64);
        Assert.Equal(y64.Length, y32.Length);
        int worst = Enumerable.Range(0, y64.Length).MaxBy(i => Math.Abs(y32[i] - y64[i]) / (1 + Math.Abs(y64[i])));
        double forwardError = Math.Abs(y32[worst] - y64[worst]) / (1 + Math.Abs(y64[worst]));
        Assert.True(forwardError <= tol.ForwardAbsolute,
            $"{caseName}: fp32 forward differs from the double reference by {forwardError:g3} (1 + |y|) at flat {worst}: "
            + $"{y32[worst]:g9} vs {y64[worst]:g9}; the reference is not the backend's function");

        GradientCheck.Compare($"{caseName} (double reference)", x64, x.Shape, v => Dot(r64, forward64(v)), dx.Data,
            new GradientCheckOptions
            {
                Coordinates = tol.Coordinates, Step = 1e-4,
                AbsoluteTolerance = tol.ExactAbsolute, RelativeTolerance = tol.ExactRelative,
            }).AssertPassed();

        GradientCheck.Compare($"{caseName} (fp32 forward)", x, v => GradientCheck.Dot(r, forward32(v)), dx,
            new GradientCheckOptions
            {
                Coordinates = tol.Coordinates, Step = 1e-2,
                AbsoluteTolerance = tol.Fp32Absolute, RelativeTolerance = tol.Fp32Relative,
            }).AssertPassed();
    }

    /// <summary>Uniform values in [-scale, scale], fp32.</summary>
    public static Tensor Uniform(Random rng, float scale, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = (float)((2 * rng.NextDouble() - 1) * scale);
        return t;
    }

    public static double[] ToDouble(Tensor t) => t.Data.Select(v => (double)v).ToArray();

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
