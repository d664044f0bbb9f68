using System.Globalization;
using IIP.Detection.Scanning;

namespace IIP.Detection.Evaluation;

/// <summary>A problem that stops an evaluation (no labels matched, a class empty, an unknown method); the message says which.</summary>
public sealed class EvaluationException(string message) : Exception(message);

/// <summary>Settings of an evaluation; the defaults are the ones docs/IIP.md reports.</summary>
public sealed record EvaluationOptions
{
    /// <summary>Methods (or series names, see <see cref="EvaluationReport"/>) to evaluate, in this order; null = all, in file order.</summary>
    public IReadOnlyList<string>? Methods { get; init; }

    /// <summary>
    /// Label subsets to keep (the labels file's "set" field, e.g. memorized,heldout); null = every labelled image.
    /// Records whose label is in another set, or has none, are left out and counted.
    /// </summary>
    public IReadOnlyList<string>? Sets { get; init; }

    /// <summary>FPR bound of the TPR@FPR metric.</summary>
    public double MaxFpr { get; init; } = 0.01;

    public int BootstrapResamples { get; init; } = AucBootstrap.DefaultResamples;

    public int BootstrapSeed { get; init; } = AucBootstrap.DefaultSeed;

    /// <summary>Folder relative record paths are resolved against when joining labels; null = the current folder.</summary>
    public string? RecordBaseDirectory { get; init; }
}

/// <summary>The metrics of one method (series) on the labelled records that have a finite score.</summary>
public sealed record MethodEvaluation(
    string Method,
    int Positives,
    int Negatives,
    double Auc,
    ConfidenceInterval AucInterval,
    double TprAtMaxFpr,
    double BestAccuracy,
    RocCurve Roc,
    double[] MemorizedScores,
    double[] NonMemorizedScores,
    int ErrorRecords,
    int NonFiniteScores,
    int SupersededRecords,
    int OutsideSets,
    LabelJoin Join);

/// <summary>A method with no labelled, scored record to evaluate (for example every record failed), and why.</summary>
public sealed record SkippedMethod(string Method, string Reason);

/// <summary>
/// Evaluates every method of a results file against a labels file. A series is a method name, or
/// "method[options-hash]" when the file holds scored records of that method under several options hashes (so two
/// configurations are never mixed). Within a series the last record of an image wins (a rerun's record
/// replaces an earlier one). Excluded and counted: records with an error, records without a finite score,
/// records whose image has no label, records outside the selected label sets. A method left with no record
/// at all is skipped and listed in <see cref="Skipped"/>; one left with a single class is an error.
/// </summary>
public sealed class EvaluationReport
{
    private EvaluationReport(ResultsFile results, LabelSet labels, EvaluationOptions options,
        IReadOnlyList<MethodEvaluation> methods, IReadOnlyList<SkippedMethod> skipped)
    {
        Results = results;
        Labels = labels;
        Options = options;
        Methods = methods;
        Skipped = skipped;
    }

    public ResultsFile Results { get; }

    public LabelSet Labels { get; }

    public EvaluationOptions Options { get; }

    public IReadOnlyList<MethodEvaluation> Methods { get; }

    public IReadOnlyList<SkippedMethod> Skipped { get; }

    /// <summary>
    /// For a method with too few negatives for any threshold with 0 &lt; FPR &lt;= <see cref="EvaluationOptions.MaxFpr"/>
    /// (n- * MaxFpr &lt; 1), the note that its TPR@FPR is the TPR at FPR = 0; null when it has enough.
    /// </summary>
    public string? FewNegativesNote(MethodEvaluation method) =>
        method.Negatives * Options.MaxFpr >= 1 ? null : string.Create(CultureInfo.InvariantCulture,
            $"with {method.Negatives} negatives no threshold has 0 < FPR <= {Options.MaxFpr * 100:0.##}%, so TPR@{Options.MaxFpr * 100:0.##}%FPR is the TPR at FPR = 0");

    public static EvaluationReport Build(ResultsFile results, LabelSet labels, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        var series = SplitIntoSeries(results.Records);
        if (series.Count == 0)
            throw new EvaluationException($"{results.FilePath}: no scan records");
        var selected = Select(series, options.Methods, results.FilePath);
        CheckSets(labels, options.Sets);

        var prepared = selected.Select(s => Prepare(s.Name, s.Records, labels, options)).ToList();
        if (prepared.All(p => p.Join.Matched.Count == 0 && p.Join.Unmatched.Count == 0) && prepared.Sum(p => p.NonFinite) > 0)
            throw new EvaluationException(
                $"{results.FilePath}: every score is non-finite ({prepared.Sum(p => p.NonFinite)} records with NaN or infinity, " +
                $"{prepared.Sum(p => p.Errors)} with an error): nothing to evaluate; the model or the methods' options produce no usable number");
        if (prepared.All(p => p.Join.Matched.Count == 0))
        {
            var examples = prepared.SelectMany(p => p.Join.Unmatched).Select(r => r.Image).Distinct().Take(3);
            var labelExamples = labels.Entries.Take(3).Select(e => e.Image);
            throw new EvaluationException(
                $"no scan record with a score matched a label in {labels.FilePath} (by exact path, by path relative to the labels file's folder, or by unique file name). " +
                $"Results images look like: {string.Join(", ", examples)}; labels look like: {string.Join(", ", labelExamples)}");
        }
        var skipped = new List<SkippedMethod>();
        foreach (var p in prepared)
        {
            int positives = p.Selected.Count(m => m.Memorized);
            int negatives = p.Selected.Count - positives;
            if (positives + negatives == 0 && p.NonFinite > 0 && p.Join.Matched.Count == 0)
                skipped.Add(new SkippedMethod(p.Name, $"every score is non-finite (NaN or infinity: {p.NonFinite} records); the model or the method's options produce no usable number"));
            else if (positives + negatives == 0)
                skipped.Add(new SkippedMethod(p.Name,
                    $"no labelled record with a score ({p.Errors} with an error, {p.NonFinite} without a finite score, {p.Join.Unmatched.Count} without a label, {p.OutsideSets} outside the selected sets)"));
            else if (positives == 0 || negatives == 0)
                throw new EvaluationException(
                    $"method '{p.Name}': {positives} memorized and {negatives} non-memorized labelled images with a score; " +
                    "AUC and TPR@FPR need both classes (check the labels file, or leave the method out with --methods)");
        }
        var evaluated = prepared.Where(p => !skipped.Any(s => s.Method == p.Name)).Select(p => Evaluate(p, options)).ToList();
        if (evaluated.Count == 0)
            throw new EvaluationException($"no method has labelled records with a score in the selected sets: {string.Join("; ", skipped.Select(s => $"{s.Method}: {s.Reason}"))}");
        return new EvaluationReport(results, labels, options, evaluated, skipped);
    }

    /// <summary>One series' records after dropping superseded, failed and non-finite ones, joined with labels.</summary>
    private sealed record PreparedSeries(string Name, LabelJoin Join, IReadOnlyList<LabeledRecord> Selected,
        int Errors, int NonFinite, int Superseded, int OutsideSets);

    private static PreparedSeries Prepare(string name, List<ScanRecord> records, LabelSet labels, EvaluationOptions options)
    {
        // Last record per image wins (an image is known by its absolute path where the record has one).
        var latest = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < records.Count; i++)
            latest[records[i].Path ?? records[i].Image] = i;
        var kept = Enumerable.Range(0, records.Count).Where(i => latest[records[i].Path ?? records[i].Image] == i).Select(i => records[i]).ToList();

        int errors = kept.Count(r => r.Error is not null);
        var scored = kept.Where(r => r.Error is null).ToList();
        int nonFinite = scored.RemoveAll(r => r.Score is not double s || !double.IsFinite(s));
        var join = LabelJoin.Create(labels, scored, options.RecordBaseDirectory);
        var selected = options.Sets is null
            ? join.Matched
            : join.Matched.Where(m => m.Label.Set is string set && options.Sets.Contains(set, StringComparer.Ordinal)).ToList();
        return new PreparedSeries(name, join, selected, errors, nonFinite, records.Count - kept.Count, join.Matched.Count - selected.Count);
    }

    private static MethodEvaluation Evaluate(PreparedSeries series, EvaluationOptions options)
    {
        var matched = series.Selected;
        var scores = matched.Select(m => m.Record.Score!.Value).ToArray();
        var memorized = matched.Select(m => m.Memorized).ToArray();
        var roc = RocCurve.Compute(scores, memorized);
        var interval = AucBootstrap.Interval(scores, memorized, options.BootstrapResamples, options.BootstrapSeed);
        return new MethodEvaluation(series.Name, roc.Positives, roc.Negatives, Metrics.Auc(roc), interval,
            Metrics.TprAtFpr(roc, options.MaxFpr), Metrics.BestAccuracy(roc), roc,
            matched.Where(m => m.Memorized).Select(m => m.Record.Score!.Value).ToArray(),
            matched.Where(m => !m.Memorized).Select(m => m.Record.Score!.Value).ToArray(),
            series.Errors, series.NonFinite, series.Superseded, series.OutsideSets, series.Join);
    }

    private static void CheckSets(LabelSet labels, IReadOnlyList<string>? sets)
    {
        if (sets is null)
            return;
        var known = labels.Entries.Select(e => e.Set).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        foreach (string set in sets)
            if (!known.Contains(set, StringComparer.Ordinal))
                throw new EvaluationException(known.Count == 0
                    ? $"{labels.FilePath} gives no \"set\" for its images, so --sets cannot select '{set}'"
                    : $"set '{set}' is not in {labels.FilePath}; it has: {string.Join(", ", known)}");
    }

    /// <summary>Groups records by method, splitting a method by options hash when its scored records have several; file order.</summary>
    private static List<(string Name, List<ScanRecord> Records)> SplitIntoSeries(IReadOnlyList<ScanRecord> records)
    {
        // Only scored records decide whether a method splits, so a failed record without options does not.
        var hashesByMethod = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            if (!hashesByMethod.TryGetValue(r.Method, out var hashes))
                hashesByMethod[r.Method] = hashes = new HashSet<string>(StringComparer.Ordinal);
            if (r.Error is null)
                hashes.Add(r.Options ?? "");
        }
        var series = new List<(string, List<ScanRecord>)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            string name = hashesByMethod[r.Method].Count > 1 ? $"{r.Method}[{(r.Options is { Length: > 0 } o ? o : "no-options")}]" : r.Method;
            if (!index.TryGetValue(name, out int i))
            {
                index[name] = i = series.Count;
                series.Add((name, []));
            }
            series[i].Item2.Add(r);
        }
        return series;
    }

    /// <summary>Applies a method filter: each requested name selects a series, or every series of a method.</summary>
    private static List<(string Name, List<ScanRecord> Records)> Select(
        List<(string Name, List<ScanRecord> Records)> series, IReadOnlyList<string>? requested, string resultsPath)
    {
        if (requested is null || requested.Count == 0)
            return series;
        var selected = new List<(string, List<ScanRecord>)>();
        foreach (string want in requested)
        {
            var hits = series.Where(s => s.Name == want || s.Records[0].Method == want).ToList();
            if (hits.Count == 0)
                throw new EvaluationException(
                    $"method '{want}' is not in {resultsPath}; it has: {string.Join(", ", series.Select(s => s.Name))}");
            foreach (var hit in hits)
                if (!selected.Any(s => s.Item1 == hit.Name))
                    selected.Add(hit);
        }
        return selected;
    }
}
