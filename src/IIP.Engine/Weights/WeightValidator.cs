using System.Text;

namespace IIP.Engine.Weights;

/// <summary>
/// Compares a part's weight source with the parameters its config implies and reports missing, unknown,
/// mis-shaped and non-float tensors separately, by name.
/// </summary>
public static class WeightValidator
{
    /// <summary>Stored tensors that are buffers, not parameters, and are ignored (not "unknown").</summary>
    public static bool IsIgnoredBuffer(ModelPart part, string name) =>
        part == ModelPart.TextEncoder && name == "text_model.embeddings.position_ids";

    /// <summary>All mismatches of <paramref name="source"/> against <paramref name="expected"/>; empty when it fits.</summary>
    public static List<WeightProblem> Compare(ModelPart part, IWeightSource source, IReadOnlyList<ParameterShape> expected)
    {
        var problems = new List<WeightProblem>();
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        var present = new HashSet<string>(source.Names, StringComparer.Ordinal);
        foreach (var parameter in expected)
        {
            expectedNames.Add(parameter.Name);
            if (!present.Contains(parameter.Name))
            {
                problems.Add(new(part, WeightProblemKind.Missing, parameter.Name, $"[{Shape(parameter.Shape)}]"));
                continue;
            }
            var info = source.Info(parameter.Name);
            if (!WeightDTypes.IsFloat(info.DType))
                problems.Add(new(part, WeightProblemKind.NotFloat, parameter.Name, $"stored as {info.DType}"));
            else if (!info.Shape.AsSpan().SequenceEqual(parameter.Shape))
                problems.Add(new(part, WeightProblemKind.Misshaped, parameter.Name, $"[{Shape(info.Shape)}], expected [{Shape(parameter.Shape)}]"));
        }
        foreach (var name in source.Names.Order(StringComparer.Ordinal))
            if (!expectedNames.Contains(name) && !IsIgnoredBuffer(part, name))
                problems.Add(new(part, WeightProblemKind.Unknown, name, $"[{Shape(source.Info(name).Shape)}]"));
        return problems;
    }

    /// <summary>
    /// Throws one <see cref="WeightException"/> for all <paramref name="problems"/>, grouped by part and kind
    /// (up to <paramref name="listed"/> names per group in the message; all of them in Problems).
    /// </summary>
    public static void ThrowIfAny(string checkpoint, IReadOnlyList<WeightProblem> problems, Func<ModelPart, string> origin, int listed = 12)
    {
        if (problems.Count == 0) return;
        var message = new StringBuilder($"{checkpoint}: the weights do not match the SD model its config describes ({problems.Count} problems)");
        foreach (var partGroup in problems.GroupBy(p => p.Part))
        {
            message.Append($"\n  {partGroup.Key.FolderName()} ({origin(partGroup.Key)}):");
            foreach (var kindGroup in partGroup.GroupBy(p => p.Kind).OrderBy(g => g.Key))
            {
                var items = kindGroup.ToList();
                message.Append($"\n    {KindLabel(kindGroup.Key)} ({items.Count}): ");
                message.AppendJoin("; ", items.Take(listed).Select(p => $"{p.Name} {p.Detail}"));
                if (items.Count > listed) message.Append($"; ... and {items.Count - listed} more");
            }
        }
        throw new WeightException(message.ToString(), problems);
    }

    private static string KindLabel(WeightProblemKind kind) => kind switch
    {
        WeightProblemKind.Missing => "missing",
        WeightProblemKind.Unknown => "unknown",
        WeightProblemKind.Misshaped => "mis-shaped",
        WeightProblemKind.NotFloat => "not float",
        _ => kind.ToString(),
    };

    private static string Shape(int[] shape) => string.Join(", ", shape);
}
