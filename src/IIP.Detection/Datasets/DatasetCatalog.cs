using System.Reflection;

namespace IIP.Detection.Datasets;

/// <summary>
/// The recipes `iip datasets` knows: the ones in the repository's datasets/ folder, compiled into the tool (so it works
/// from any folder), or the *.json recipes of a folder the user names (--catalog DIR).
/// </summary>
public sealed class DatasetCatalog
{
    private const string ResourcePrefix = "datasets/";

    private DatasetCatalog(IReadOnlyList<DatasetRecipe> recipes, string source)
    {
        var twice = recipes.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new FormatException($"{source}: two recipes are named '{twice.Key}'");
        Recipes = recipes.OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
        Source = source;
    }

    public IReadOnlyList<DatasetRecipe> Recipes { get; }
    /// <summary>Where the recipes came from, for messages.</summary>
    public string Source { get; }

    public static DatasetCatalog Shipped()
    {
        var assembly = typeof(DatasetCatalog).Assembly;
        var recipes = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
            .Select(n => DatasetRecipe.Parse(ReadResource(assembly, n), n))
            .ToList();
        return new DatasetCatalog(recipes, "the recipes shipped with iip (datasets/ in the repository)");
    }

    public static DatasetCatalog FromFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such catalog folder");
        var recipes = Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal)
            .Select(path => DatasetRecipe.Parse(File.ReadAllText(path), path))
            .ToList();
        if (recipes.Count == 0) throw new FileNotFoundException($"{folder}: no *.json dataset recipes");
        return new DatasetCatalog(recipes, folder);
    }

    public DatasetRecipe Find(string name) =>
        Recipes.FirstOrDefault(r => r.Name == name)
        ?? throw new ArgumentException($"no dataset named '{name}' in {Source}; known: {string.Join(", ", Recipes.Select(r => r.Name))}");

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
