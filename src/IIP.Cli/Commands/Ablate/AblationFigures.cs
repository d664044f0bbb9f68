using System.Globalization;
using System.Text;
using IIP.Detection.Ablation;
using IIP.Detection.Evaluation;
using IIP.Detection.Files;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;

namespace IIP.Cli.Commands.Ablate;

/// <summary>
/// The ablation's two line figures: AUC against t_I for the combined score and each component (the paper's Fig. 7), and
/// the AUC of TCNP at each grid timestep of the deepest regeneration (where along the trajectory memorized images differ),
/// with the latter's values in auc-by-timestep.csv.
/// </summary>
public static class AblationFigures
{
    public static IReadOnlyList<string> Write(EvaluationReport report, IReadOnlyList<ScanRecord> components, int[] grid, IipOptions options,
        LabelSet labels, EvaluationOptions evaluation, string outDir)
    {
        var files = new List<string>();
        var auc = report.Methods.ToDictionary(m => m.Method, m => m.Auc);
        string defaultTag = IipAblation.TagOfSteps(options.InversionSteps);
        var steps = IipAblation.ByConfiguration(components).Keys.Select(IipAblation.SweptSteps).OfType<int>().Order().ToArray();
        if (steps.Length > 1)
        {
            (string, double[], double[]) Line(string name, Func<int, string> method) =>
                (name, steps.Select(s => (double)s).ToArray(), steps.Select(s => auc.GetValueOrDefault(method(s), double.NaN)).ToArray());
            var lines = new[]
            {
                Line("iip", s => $"iip {IipAblation.TagOfSteps(s)}"),
                Line("mtcnp-only", s => IipAblation.TagOfSteps(s) == defaultTag ? "mtcnp-only" : $"mtcnp-only {IipAblation.TagOfSteps(s)}"),
                Line("similarity-only", s => IipAblation.TagOfSteps(s) == defaultTag ? "similarity-only" : $"similarity-only {IipAblation.TagOfSteps(s)}"),
            };
            string path = Path.Combine(outDir, "auc-by-inversion-steps.png");
            EvaluationPlots.WriteAucLines($"AUC against t_I (t_P = {options.MtcnpSteps} {OptionText.Kebab(options.MtcnpWindow)} steps, fewer where t_I allows fewer)", "t_I: inversion steps (the regeneration starts at grid step t_I)", lines, path);
            files.Add(Path.GetFullPath(path));
        }
        if (steps.Length > 0)
            files.AddRange(WritePerTimestep(components, grid, steps[^1], labels, evaluation, outDir));
        return files;
    }

    // AUC of TCNP_t for each step of the regeneration from the deepest t_I (t = grid[50 - t_I], ..., 1)
    private static IEnumerable<string> WritePerTimestep(IReadOnlyList<ScanRecord> components, int[] grid, int deepest, LabelSet labels,
        EvaluationOptions evaluation, string outDir)
    {
        var records = IipAblation.ByConfiguration(components)[IipAblation.TagOfSteps(deepest)];
        var timesteps = grid[(grid.Length - deepest)..];   // descending, one per regeneration step
        var perStep = records.SelectMany(r => timesteps.Select((t, i) => r with { Method = $"tcnp t={t}", Score = r.Tcnp![i], Options = null })).ToList();
        var report = EvaluationReport.Build(new ResultsFile("(per-step TCNP of the ablation)", perStep, 0), labels, evaluation);
        var byStep = timesteps.Select(t => (T: t, Evaluation: report.Methods.First(m => m.Method == $"tcnp t={t}"))).ToArray();
        string png = Path.Combine(outDir, "auc-by-timestep.png");
        EvaluationPlots.WriteAucLines($"AUC of TCNP at each timestep (regeneration from t_I = {deepest})", "timestep t of the regeneration step",
            [("TCNP_t", byStep.Select(s => (double)s.T).ToArray(), byStep.Select(s => s.Evaluation.Auc).ToArray())], png);
        string csv = Path.Combine(outDir, "auc-by-timestep.csv");
        var text = new StringBuilder("timestep,auc,auc_ci_low,auc_ci_high,tpr_at_fpr\r\n");
        foreach (var (t, e) in byStep)
            text.Append(string.Join(',', new[] { t.ToString(CultureInfo.InvariantCulture), R(e.Auc), R(e.AucInterval.Low), R(e.AucInterval.High), R(e.TprAtMaxFpr) })).Append("\r\n");
        AtomicFile.WriteAllText(csv, text.ToString());
        return [Path.GetFullPath(png), Path.GetFullPath(csv)];

        static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }
}
