using IIP.Runtime.Detection;
using IIP.Runtime.Detection.Baselines;
using IIP.Runtime.Pipelines;
using IIP.Runtime.Scanning;
using IIP.Runtime.Tensors;
using IIP.Runtime.Weights;

namespace IIP.Cli.Commands.Scan;

/// <summary>Turns --method names into detection methods over one loaded model.</summary>
public static class MethodFactory
{
    public static string Describe() => string.Join("; ", MethodCatalog.All.Select(m => $"{m.Name}: {m.Description}"));

    public static IReadOnlyList<string> ParseNames(IEnumerable<string> values)
    {
        var names = values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct().ToList();
        var unknown = names.Where(n => MethodCatalog.Find(n) is null).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown method(s) {string.Join(", ", unknown)}; known: {string.Join(", ", MethodCatalog.Names)}");
        return names;
    }

    public static IReadOnlyList<IDetectionMethod> Create(IReadOnlyList<string> names, StableDiffusion model, string modelPath, IipOptions iip,
        BaselineSettings baselines, string cacheDirectory, string? reference, Func<string, Tensor> loadImage, ConsoleProgress progress)
    {
        var methods = new List<IDetectionMethod>();
        var empty = model.Backend.ToHost(model.EncodePrompts([""]));   // e0, shared by IIP and the baselines
        var iipNames = names.Where(IipMethod.All.Contains).ToList();
        if (iipNames.Count > 0)
        {
            progress.Report("fingerprinting the model (the perturbation embedding is cached by content)...");
            var session = new IipSession(model, iip, ModelFingerprint.Compute(modelPath), cacheDirectory, progress, empty);
            var options = iip;
            if (reference is not null)
            {
                options = session.WithReferenceScales(ScanSource.Read(reference), loadImage, progress);
                progress.Report($"reference scales: MTCNP {options.ScaleE:G6}, discrepancy {options.ScaleD:G6}");
            }
            methods.Add(new IipMethod(session.CreateDetector(options), iipNames));
        }
        foreach (var name in names.Where(n => !IipMethod.All.Contains(n)))
        {
            methods.Add(name switch
            {
                OriPromptMethod.Name => new OriPromptMethod(model, baselines.OriPrompt, empty),
                DenoisingLossMethod.Name => new DenoisingLossMethod(model, baselines.DenoisingLoss, empty),
                PiaMethod.Name => new PiaMethod(model, baselines.Pia, empty),
                SecMiMethod.Name => new SecMiMethod(model, baselines.SecMi, empty),
                _ => throw new ArgumentException($"method {name} has no factory"),
            });
        }
        return methods;
    }
}
