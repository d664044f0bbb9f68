using System.Globalization;
using System.Text;
using Xunit.Sdk;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// Element-wise comparison against a double-precision reference with a per-element tolerance. A failure names the
/// case, the worst element (index, value, reference, tolerance) and the first few pairs, as llm.c's harness does.
/// </summary>
public static class NumericAssert
{
    /// <summary>Unit roundoff of fp32, 2^-24.</summary>
    public const double U = 5.9604644775390625e-8;

    public static void Close(string @case, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, Func<int, double> tolerance)
    {
        if (actual.Length != expected.Length)
            throw new XunitException($"{@case}: {actual.Length} values, reference has {expected.Length}");
        int worst = -1, failures = 0;
        double worstRatio = 0, maxError = 0;
        int maxErrorAt = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            double tol = tolerance(i);
            if (double.IsNaN(actual[i]) || double.IsInfinity(actual[i]) != double.IsInfinity(expected[i])) err = double.PositiveInfinity;
            if (err > maxError || double.IsNaN(err)) { maxError = err; maxErrorAt = i; }
            if (!(err <= tol))
            {
                failures++;
                double ratio = tol > 0 ? err / tol : double.PositiveInfinity;
                if (worst < 0 || ratio > worstRatio) { worst = i; worstRatio = ratio; }
            }
        }
        if (failures == 0) return;
        var message = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        message.AppendLine(inv, $"{@case}: {failures} of {actual.Length} elements outside tolerance; max |error| {maxError:E3} at {maxErrorAt}");
        message.AppendLine(inv, $"  worst vs tolerance at [{worst}]: got {actual[worst]:R}, reference {expected[worst]:R}, |error| {Math.Abs(actual[worst] - expected[worst]):E3} > tol {tolerance(worst):E3}");
        message.AppendLine("  first pairs (got, reference):");
        for (int i = 0; i < Math.Min(6, actual.Length); i++)
            message.AppendLine(inv, $"    [{i}] {actual[i]:R}, {expected[i]:R}");
        throw new XunitException(message.ToString());
    }

    /// <summary>Bit-exact equality (copies and permutations).</summary>
    public static void Equal(string @case, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        var reference = new double[expected.Length];
        for (int i = 0; i < reference.Length; i++) reference[i] = expected[i];
        Close(@case, actual, reference, _ => 0);
    }
}

/// <summary>Deterministic random test data.</summary>
public static class TestArrays
{
    public static float[] Uniform(int seed, long length, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (long i = 0; i < length; i++) data[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return data;
    }

    public static IIP.Engine.Tensors.Tensor Tensor(int seed, float lo, float hi, params int[] shape)
        => IIP.Engine.Tensors.Tensor.From(Uniform(seed, IIP.Engine.Tensors.Tensor.ElementCount(shape), lo, hi), shape);
}
