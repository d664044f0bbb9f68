namespace IIP.Detection.Golden;

/// <summary>Pass, Fail (outside the tolerance), NotRun (the case does not apply: no reference, no tokenizer, a model not loaded), Error (computing it threw).</summary>
public enum GoldenStatus { Pass, Fail, NotRun, Error }

/// <summary>
/// How a golden case is judged (data/golden/README.md, "How close is close enough"):
/// AbsoluteOfMax: max |a - r| &lt;= Rel * max |r| + Abs (single forward passes);
/// Relative: max |a - r| / max |r| &lt;= Rel (scheduler, DDIM step, loops, AdamW trajectory);
/// RelativeL2: ||a - r||_2 / ||r||_2 &lt;= Rel (gradients); Exact: every element equal (token ids).
/// </summary>
public enum GoldenMetric { AbsoluteOfMax, Relative, RelativeL2, Exact }

public sealed record GoldenTolerance(GoldenMetric Metric, double Rel, double Abs = 0)
{
    public static GoldenTolerance Forward { get; } = new(GoldenMetric.AbsoluteOfMax, 1e-4, 1e-5);
    public static GoldenTolerance Scheduler { get; } = new(GoldenMetric.Relative, 1e-6);
    public static GoldenTolerance Loop { get; } = new(GoldenMetric.Relative, 1e-3);
    public static GoldenTolerance Gradient { get; } = new(GoldenMetric.RelativeL2, 1e-3);
    public static GoldenTolerance Exact { get; } = new(GoldenMetric.Exact, 0);

    public string Describe() => Metric switch
    {
        GoldenMetric.AbsoluteOfMax => $"max|err| <= {Rel:0.#e0}*max|ref| + {Abs:0.#e0}",
        GoldenMetric.Relative => $"max|err|/max|ref| <= {Rel:0.#e0}",
        GoldenMetric.RelativeL2 => $"||err||/||ref|| <= {Rel:0.#e0}",
        _ => "exact",
    };
}

/// <summary>The outcome of one golden case.</summary>
public sealed record GoldenResult(string Case, GoldenStatus Status, double MaxAbs, double Relative, GoldenTolerance? Tolerance,
    string Detail = "")
{
    public static GoldenResult NotRun(string name, string reason) => new(name, GoldenStatus.NotRun, double.NaN, double.NaN, null, reason);

    /// <summary>Compares <paramref name="actual"/> with <paramref name="reference"/> (same length) under a tolerance.</summary>
    public static GoldenResult Compare(string name, ReadOnlySpan<float> actual, ReadOnlySpan<float> reference, GoldenTolerance tol)
    {
        if (actual.Length != reference.Length)
            return new GoldenResult(name, GoldenStatus.Fail, double.NaN, double.NaN, tol, $"length {actual.Length} != reference {reference.Length}");
        double maxAbs = 0, maxRef = 0, errSq = 0, refSq = 0;
        int where = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double e = Math.Abs((double)actual[i] - reference[i]);
            if (double.IsNaN(e)) { maxAbs = double.NaN; where = i; break; }
            if (e > maxAbs) { maxAbs = e; where = i; }
            maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
            errSq += e * e;
            refSq += (double)reference[i] * reference[i];
        }
        double relative = tol.Metric == GoldenMetric.RelativeL2
            ? Math.Sqrt(errSq) / Math.Max(Math.Sqrt(refSq), double.Epsilon)
            : maxAbs / Math.Max(maxRef, double.Epsilon);
        bool pass = tol.Metric switch
        {
            GoldenMetric.AbsoluteOfMax => maxAbs <= tol.Rel * maxRef + tol.Abs,
            GoldenMetric.Exact => maxAbs == 0,
            _ => relative <= tol.Rel,
        };
        string detail = where >= 0 && maxAbs > 0 ? $"worst at [{where}]: {actual[where]:G9} vs {reference[where]:G9}" : "";
        return new GoldenResult(name, pass ? GoldenStatus.Pass : GoldenStatus.Fail, maxAbs, relative, tol, detail);
    }

    /// <summary>A case whose computation threw: reported with the exception, and counted as a failure.</summary>
    public static GoldenResult Errored(string name, Exception e) => new(name, GoldenStatus.Error, double.NaN, double.NaN, null, $"{e.GetType().Name}: {e.Message}");

    public string Format() => Status switch
    {
        GoldenStatus.NotRun => $"NOT RUN  {Case,-24} {Detail}",
        GoldenStatus.Error => $"ERROR    {Case,-24} {Detail}",
        _ => $"{(Status == GoldenStatus.Pass ? "PASS" : "FAIL"),-8} {Case,-24} max_abs {MaxAbs,10:0.000e0}  rel {Relative,10:0.000e0}  tol {Tolerance!.Describe()}"
          + (Status == GoldenStatus.Fail && Detail.Length > 0 ? $"  ({Detail})" : ""),
    };
}
