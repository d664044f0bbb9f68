using System.Text.RegularExpressions;
using IIP.Detection.Methods;
using IIP.Engine.Tensors;

namespace IIP.Detection.Tests.House;

/// <summary>
/// The house rule (ARCHITECTURE.md): Native &lt;- Engine &lt;- Detection &lt;- Cli. The engine knows nothing of detection, the
/// application reaches the driver only through the engine,
/// and the namespaces of the sources import each other without cycles.
/// </summary>
public partial class DependencyRuleTests
{
    [Fact]
    public void TheEngineReferencesNeitherTheApplicationNorTheCli()
    {
        var references = typeof(Tensor).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("IIP.Native", references);
        Assert.DoesNotContain("IIP.Detection", references);
        Assert.DoesNotContain("IIP.Cli", references);
        var application = typeof(IDetectionMethod).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.Contains("IIP.Engine", application);
        Assert.DoesNotContain("IIP.Native", application);   // devices reach the application through the engine (DeviceFailure, ProfilerRange)
        Assert.DoesNotContain("IIP.Cli", application);
    }

    [Fact]
    public void EachAssemblyKeepsToItsNamespaces()
    {
        // the project's own types (the compiler adds a few of its own, outside IIP)
        Assert.All(typeof(Tensor).Assembly.GetTypes().Where(t => t.Namespace?.StartsWith("IIP", StringComparison.Ordinal) == true),
            t => Assert.StartsWith("IIP.Engine", t.Namespace));
        Assert.All(typeof(IDetectionMethod).Assembly.GetTypes().Where(t => t.Namespace?.StartsWith("IIP", StringComparison.Ordinal) == true),
            t => Assert.StartsWith("IIP.Detection", t.Namespace));
    }

    [Fact]
    public void NamespacesImportEachOtherWithoutCycles()
    {
        // the model configs live in IIP.Engine.Configs, below both the loaders (Weights) and the models, so neither
        // Weights nor Scheduling imports Models
        var cycles = Cycles(ImportGraph(Path.Combine(TestPaths.RepoRoot, "src"))).Select(c => string.Join(" ", c.Order(StringComparer.Ordinal))).ToList();
        Assert.Empty(cycles);
    }

    [Fact]
    public void TheCycleFinderFindsACycleThroughThreeNamespaces()
    {
        // the check above passes only if the finder can fail: A -> B -> C -> A plus a tail C -> D
        var graph = new Dictionary<string, HashSet<string>> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A", "D"], ["D"] = [] };
        var cycle = Assert.Single(Cycles(graph));
        Assert.Equal(["A", "B", "C"], cycle.Order(StringComparer.Ordinal));
    }

    // namespace -> the IIP namespaces its files import (`using IIP.X;`), from the sources
    private static Dictionary<string, HashSet<string>> ImportGraph(string root)
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (string file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
            string text = File.ReadAllText(file);
            if (NamespaceLine().Match(text) is not { Success: true } ns) continue;
            var imports = graph.TryGetValue(ns.Groups[1].Value, out var set) ? set : graph[ns.Groups[1].Value] = [];
            foreach (Match u in UsingLine().Matches(text))
                if (u.Groups[1].Value != ns.Groups[1].Value) imports.Add(u.Groups[1].Value);
        }
        return graph;
    }

    // the strongly connected components of more than one namespace (Tarjan)
    private static List<List<string>> Cycles(Dictionary<string, HashSet<string>> graph)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (string w in graph.GetValueOrDefault(v) ?? [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            if (component.Count > 1) result.Add(component);
        }
        foreach (string v in graph.Keys.Order(StringComparer.Ordinal))
            if (!index.ContainsKey(v)) Visit(v);
        return result;
    }

    [GeneratedRegex(@"^namespace (IIP\.[\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    [GeneratedRegex(@"^using (IIP\.[\w.]+);", RegexOptions.Multiline)]
    private static partial Regex UsingLine();
}
