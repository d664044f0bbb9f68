using System.Globalization;
using System.Text;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tensors;
using IIP.Native;

namespace IIP.TestSupport.Conformance;

/// <summary>
/// Allowed error of one output: |actual - expected| &lt;= Relative |expected| + AbsoluteOfRms rms(expected), with the
/// reason (which roundings the bound covers). fp16 storage rounds every stored value by up to 2^-11 relative
/// (4.9e-4); the inputs are rounded to fp16 before both backends see them, so input rounding is not counted.
/// </summary>
internal sealed record Tolerance(double Relative, double AbsoluteOfRms, string Reason);

/// <summary>One output compared: the worst element (by error over its bound) and the first few pairs.</summary>
internal sealed record Comparison(string Output, long Count, double MaxAbsError, double MaxRelativeToRms, long Where,
    double Expected, double Actual, double Bound, int NonFinite, string FirstPairs)
{
    public bool Passed => NonFinite == 0 && Math.Abs(Actual - Expected) <= Bound;

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Output}: max |err| {MaxAbsError:g3} ({MaxRelativeToRms:g3} of rms); worst at flat {Where}: expected {Expected:g6}, got {Actual:g6}, "
        + $"bound {Bound:g3}{(NonFinite > 0 ? $"; {NonFinite} non-finite values" : "")}; first pairs {FirstPairs}");
}

/// <summary>The outcome of one conformance case: its comparisons and, when timed, the mean GPU time of the op.</summary>
internal sealed record CaseResult(string Case, string Kernel, Tolerance Tolerance, IReadOnlyList<Comparison> Comparisons,
    double Milliseconds, double Flops)
{
    public bool Passed => Comparisons.All(c => c.Passed);

    public string Report()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{Case} [{Kernel}] {(Passed ? "passed" : "FAILED")}; tolerance {Tolerance.Relative:g3} |ref| + "
            + $"{Tolerance.AbsoluteOfRms:g3} rms(ref): {Tolerance.Reason}");
        foreach (var c in Comparisons) sb.AppendLine("  " + c.Describe());
        return sb.ToString();
    }
}

/// <summary>Settings of a conformance run: timing repetitions (0: correctness only, as in the unit tests).</summary>
internal sealed record ConformanceOptions(int TimingRepetitions = 0);

/// <summary>Inputs, comparison and timing shared by the conformance cases.</summary>
internal static class ConformanceHarness
{
    /// <summary>Seeded N(0, scale^2) values rounded to fp16, so the CPU reference sees exactly what the GPU stores.</summary>
    public static Tensor Normal(int seed, float scale, params int[] shape)
    {
        var t = new GaussianNoise(seed).Sample(shape);
        var d = t.Data;
        for (long i = 0; i < d.LongLength; i++) d[i] = (float)(Half)(d[i] * scale);
        return t;
    }

    /// <summary>offset + N(0, scale^2), fp16-rounded (GroupNorm/LayerNorm gammas near 1).</summary>
    public static Tensor Around(int seed, float offset, float scale, params int[] shape)
    {
        var t = Normal(seed, scale, shape);
        var d = t.Data;
        for (long i = 0; i < d.LongLength; i++) d[i] = (float)(Half)(d[i] + offset);
        return t;
    }

    public static Comparison Compare(string output, Tensor expected, Tensor actual, Tolerance tol)
    {
        if (!expected.Shape.AsSpan().SequenceEqual(actual.Shape))
            throw new InvalidOperationException($"{output}: shape [{actual.ShapeText}] differs from the reference's [{expected.ShapeText}]");
        float[] e = expected.Data, a = actual.Data;
        double sq = 0;
        foreach (float v in e) sq += (double)v * v;
        double rms = e.Length == 0 ? 0 : Math.Sqrt(sq / e.Length);
        double absolute = tol.AbsoluteOfRms * Math.Max(rms, 1e-6);
        long worst = 0;
        double worstRatio = -1, maxAbs = 0;
        int nonFinite = 0;
        for (long i = 0; i < e.LongLength; i++)
        {
            if (!float.IsFinite(a[i]))
            {
                if (nonFinite++ == 0) { worst = i; worstRatio = double.PositiveInfinity; }
                continue;
            }
            double err = Math.Abs((double)a[i] - e[i]), allowed = tol.Relative * Math.Abs(e[i]) + absolute;
            double ratio = err == 0 ? 0 : err / allowed;  // an exact tolerance (bound 0) makes any error infinitely bad
            maxAbs = Math.Max(maxAbs, err);
            if (ratio > worstRatio) { worstRatio = ratio; worst = i; }
        }
        var pairs = string.Join(", ", Enumerable.Range(0, (int)Math.Min(4, e.LongLength))
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"({e[i]:g5}, {a[i]:g5})")));
        double bound = e.Length == 0 ? 0 : tol.Relative * Math.Abs(e[worst]) + absolute;
        return new Comparison(output, e.LongLength, maxAbs, rms > 0 ? maxAbs / rms : maxAbs, worst,
            e.Length == 0 ? 0 : e[worst], e.Length == 0 ? 0 : a[worst], bound, nonFinite, pairs);
    }

    /// <summary>Runs <paramref name="op"/> once (its result is what gets compared) and, when asked, times repetitions.</summary>
    public static double RunAndTime(CudaBackend gpu, ConformanceOptions options, Action op)
    {
        op();
        gpu.Synchronize();
        if (options.TimingRepetitions <= 0) return double.NaN;
        using var start = new CudaEvent(gpu.Device, timing: true);
        using var end = new CudaEvent(gpu.Device, timing: true);
        op();  // warm-up after the first run's JIT/caches
        start.Record(gpu.Stream);
        for (int i = 0; i < options.TimingRepetitions; i++) op();
        end.Record(gpu.Stream);
        end.Synchronize();
        return CudaEvent.ElapsedMilliseconds(start, end) / options.TimingRepetitions;
    }
}
