using System.Text;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Gradients;

/// <summary>How <see cref="GradientCheck"/> samples and judges coordinates.</summary>
public sealed record GradientCheckOptions
{
    /// <summary>Coordinates checked, drawn without replacement; all of them when the input has no more.</summary>
    public int Coordinates { get; init; } = 64;

    /// <summary>Central-difference step h (absolute): L'(x) ~ (L(x + h) - L(x - h)) / 2h, truncation error O(h^2).</summary>
    public double Step { get; init; } = 1e-2;

    /// <summary>Coordinate i passes when |analytic - numeric| &lt;= AbsoluteTolerance + RelativeTolerance |numeric|.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-3;

    public double RelativeTolerance { get; init; } = 1e-3;

    public int Seed { get; init; } = 12345;
}

/// <summary>
/// Finite-difference check of an analytic gradient: for a scalar loss L of one input tensor, compares
/// dL/dx at a random subset of coordinates with central differences (L(x + h e_i) - L(x - h e_i)) / 2h.
/// For a module's backward, take L = &lt;r, f(x)&gt; with a fixed random r (<see cref="Dot"/>) and the
/// analytic gradient = the module's backward applied to dy = r.
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// fp32 input: x is perturbed in place and restored. The divisor is the difference of the two perturbed
    /// values as stored in fp32, so the rounding of x +- h does not bias the quotient.
    /// </summary>
    public static GradientCheckResult Compare(string caseName, Tensor x, Func<Tensor, double> loss, Tensor analytic,
        GradientCheckOptions? options = null)
    {
        options ??= new GradientCheckOptions();
        if (analytic.Length != x.Length)
            throw new ArgumentException($"{caseName}: gradient [{analytic.ShapeText}] does not match input [{x.ShapeText}]");
        var data = x.Data;
        var indices = Sample(x.Length, options);
        var numeric = new double[indices.Length];
        for (int j = 0; j < indices.Length; j++)
        {
            long i = indices[j];
            float saved = data[i];
            float plus = (float)(saved + options.Step), minus = (float)(saved - options.Step);
            data[i] = plus;
            double lossPlus = loss(x);
            data[i] = minus;
            double lossMinus = loss(x);
            data[i] = saved;
            numeric[j] = (lossPlus - lossMinus) / ((double)plus - minus);
        }
        return new GradientCheckResult(caseName, x.Shape, indices, indices.Select(i => (double)analytic.Data[i]).ToArray(),
            numeric, options);
    }

    /// <summary>fp64 input, for losses computed by a double-precision reference; x is perturbed in place and restored.</summary>
    public static GradientCheckResult Compare(string caseName, double[] x, int[] shape, Func<double[], double> loss,
        float[] analytic, GradientCheckOptions? options = null)
    {
        options ??= new GradientCheckOptions();
        if (analytic.Length != x.Length || Tensor.ElementCount(shape) != x.Length)
            throw new ArgumentException($"{caseName}: gradient has {analytic.Length} elements, input {x.Length}, shape [{string.Join(", ", shape)}]");
        var indices = Sample(x.Length, options);
        var numeric = new double[indices.Length];
        for (int j = 0; j < indices.Length; j++)
        {
            long i = indices[j];
            double saved = x[i];
            x[i] = saved + options.Step;
            double lossPlus = loss(x);
            x[i] = saved - options.Step;
            double lossMinus = loss(x);
            x[i] = saved;
            numeric[j] = (lossPlus - lossMinus) / (2 * options.Step);
        }
        return new GradientCheckResult(caseName, shape, indices, indices.Select(i => (double)analytic[i]).ToArray(), numeric, options);
    }

    /// <summary>&lt;r, y&gt; accumulated in double.</summary>
    public static double Dot(Tensor r, Tensor y)
    {
        if (r.Length != y.Length) throw new ArgumentException($"Dot: [{r.ShapeText}] vs [{y.ShapeText}]");
        double sum = 0;
        var a = r.Data; var b = y.Data;
        for (long i = 0; i < a.LongLength; i++) sum += (double)a[i] * b[i];
        return sum;
    }

    private static long[] Sample(long length, GradientCheckOptions options)
    {
        if (options.Coordinates >= length) return Enumerable.Range(0, (int)length).Select(i => (long)i).ToArray();
        var rng = new Random(options.Seed);
        var chosen = new SortedSet<long>();
        while (chosen.Count < options.Coordinates) chosen.Add(rng.NextInt64(length));
        return chosen.ToArray();
    }
}

/// <summary>Per-coordinate comparison of a <see cref="GradientCheck"/>, with a failure report.</summary>
public sealed class GradientCheckResult(string caseName, int[] shape, long[] indices, double[] analytic, double[] numeric,
    GradientCheckOptions options)
{
    public string Case { get; } = caseName;
    public long[] Indices { get; } = indices;
    public double[] Analytic { get; } = analytic;
    public double[] Numeric { get; } = numeric;

    public double MaxAbsoluteError => Indices.Length == 0 ? 0 : Enumerable.Range(0, Indices.Length).Max(Error);

    /// <summary>max |numeric|: the scale the errors compare against.</summary>
    public double MaxNumeric => Numeric.Length == 0 ? 0 : Numeric.Max(Math.Abs);

    /// <summary>Position (into Indices) of the coordinate with the largest error / allowed error.</summary>
    public int WorstPosition => Indices.Length == 0 ? -1
        : Enumerable.Range(0, Indices.Length).MaxBy(j => Error(j) / Math.Max(Bound(j), double.Epsilon));

    public bool Passed => Enumerable.Range(0, Indices.Length).All(j => Error(j) <= Bound(j));

    public void AssertPassed()
    {
        if (!Passed) Assert.Fail(Report());
    }

    public string Report()
    {
        var text = new StringBuilder();
        int worst = WorstPosition;
        int failures = Enumerable.Range(0, Indices.Length).Count(j => Error(j) > Bound(j));
        text.AppendLine($"{Case}: {failures} of {Indices.Length} coordinates outside |a - n| <= {options.AbsoluteTolerance:g3} + "
            + $"{options.RelativeTolerance:g3} |n| (step {options.Step:g3}); max |a - n| = {MaxAbsoluteError:g4}, max |n| = {MaxNumeric:g4}");
        if (worst >= 0)
            text.AppendLine($"  worst at {Where(Indices[worst])}: analytic {Analytic[worst]:g9}, numeric {Numeric[worst]:g9}");
        text.AppendLine("  first pairs (index: analytic, numeric):");
        for (int j = 0; j < Math.Min(6, Indices.Length); j++)
            text.AppendLine($"    {Where(Indices[j])}: {Analytic[j]:g9}, {Numeric[j]:g9}");
        return text.ToString();
    }

    public override string ToString() => Report();

    private double Error(int j) => Math.Abs(Analytic[j] - Numeric[j]);

    private double Bound(int j) => options.AbsoluteTolerance + options.RelativeTolerance * Math.Abs(Numeric[j]);

    // flat index -> [i0, i1, ..] in the input's shape
    private string Where(long flat)
    {
        var coords = new long[shape.Length];
        for (int a = shape.Length - 1; a >= 0; a--) { coords[a] = flat % shape[a]; flat /= shape[a]; }
        return "[" + string.Join(", ", coords) + "]";
    }
}
