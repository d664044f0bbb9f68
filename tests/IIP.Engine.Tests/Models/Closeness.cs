using System.Globalization;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// Compares an fp32 engine output with a double reference: passes when max |engine - ref| &lt;= tolerance x max |ref|
/// (the golden README's form, relative to the output's scale so values near zero do not dominate). Failures give the
/// case, the shape, the max error, where it occurs and the first pairs.
/// </summary>
internal static class Closeness
{
    /// <returns>The measured max |engine - ref| / max |ref|.</returns>
    public static double AssertClose(string what, Tensor engine, double[] reference, int[] referenceShape, double tolerance)
    {
        Assert.True(engine.Shape.SequenceEqual(referenceShape), $"{what}: engine shape [{engine.ShapeText}], reference [{string.Join(", ", referenceShape)}]");
        var e = engine.Data;
        double scale = reference.Max(Math.Abs);
        double maxError = 0;
        int worst = 0, nonFinite = -1;
        for (int i = 0; i < e.Length; i++)
        {
            if (!float.IsFinite(e[i]) && nonFinite < 0) nonFinite = i;
            double error = Math.Abs(e[i] - reference[i]);
            if (error > maxError) { maxError = error; worst = i; }
        }
        double relative = scale > 0 ? maxError / scale : maxError;
        Assert.True(nonFinite < 0, $"{what}: engine value {e[Math.Max(nonFinite, 0)]} at {Where(nonFinite, referenceShape)}");
        if (relative > tolerance)
        {
            var pairs = string.Join(", ", Enumerable.Range(0, Math.Min(4, e.Length)).Select(i => F($"{e[i]:G9} vs {reference[i]:G9}")));
            Assert.Fail(F($"{what} [{string.Join(", ", referenceShape)}]: max |engine - ref| {maxError:G3} = {relative:G3} x max|ref| {scale:G4} ") +
                        F($"exceeds {tolerance:G3}, at {Where(worst, referenceShape)} ({e[worst]:G9} vs {reference[worst]:G9}); first pairs: {pairs}"));
        }
        return relative;
    }

    /// <summary>Asserts two engine outputs are equal within <paramref name="tolerance"/> x max |expected|; returns that ratio.</summary>
    public static double AssertClose(string what, Tensor actual, Tensor expected, double tolerance) =>
        AssertClose(what, actual, expected.Data.Select(v => (double)v).ToArray(), expected.Shape, tolerance);

    /// <summary>Max |a - b| / max |b| (how far apart two outputs are).</summary>
    public static double RelativeDifference(Tensor a, double[] b)
    {
        double scale = b.Max(Math.Abs), max = 0;
        for (int i = 0; i < b.Length; i++) max = Math.Max(max, Math.Abs(a.Data[i] - b[i]));
        return max / scale;
    }

    /// <summary>A flat index as coordinates in <paramref name="shape"/>, e.g. [0, 3, 5, 11].</summary>
    public static string Where(int index, int[] shape)
    {
        var coordinates = new int[shape.Length];
        for (int axis = shape.Length - 1; axis >= 0; axis--)
        {
            coordinates[axis] = index % shape[axis];
            index /= shape[axis];
        }
        return $"[{string.Join(", ", coordinates)}]";
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
