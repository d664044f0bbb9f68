using System.CommandLine;
using IIP.Detection.Datasets;

namespace IIP.Cli.Commands.Datasets;

/// <summary>`iip datasets list | show NAME | fetch NAME --out DIR`: the named, versioned recipes for the field's sets.</summary>
public static class DatasetsCommand
{
    private static readonly Option<string?> CatalogOption = new("--catalog")
    {
        Description = "a folder of *.json dataset recipes to use instead of the ones shipped with iip (the repository's datasets/)", HelpName = "DIR",
    };

    public static Command Create()
    {
        var command = new Command("datasets",
            "The sets the field uses, as named, versioned recipes (source address, sha256, licence, citation, how rows are labelled): " +
            "`list` them, `show` one, `fetch` one onto this machine. Third-party data is never copied into the repository: fetch " +
            "downloads it here, checks it, and writes a labelled manifest that `iip generate --prompts` and `iip scan` read.")
        {
            List(), Show(), Fetch(),
        };
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "Print every recipe: name, kind, rows the paper uses, whether its files are pinned by sha256, and what it is.") { CatalogOption };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var catalog = Load(parse.GetValue(CatalogOption));
            foreach (var r in catalog.Recipes)
            {
                string pinned = r.Generator is not null ? "made locally" : r.Files.All(f => f.Sha256 is not null) ? "pinned" : "NOT pinned";
                Console.WriteLine($"{r.Name,-22} {r.Kind,-8} {(r.PaperCount is { } n ? $"paper uses {n}" : ""),-16} {pinned,-12} {FirstSentence(r.Description)}");
            }
            Console.WriteLine($"{catalog.Recipes.Count} recipes from {catalog.Source}; `iip datasets show NAME` for one, `iip datasets fetch NAME --out DIR` to download");
            return CliErrors.Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var name = new Argument<string>("name") { Description = "the recipe's name (iip datasets list)" };
        var command = new Command("show", "Print one recipe in full: description, licence, citation, and every file's address, sha256, size and labelling.") { name, CatalogOption };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var r = Load(parse.GetValue(CatalogOption)).Find(parse.GetValue(name)!);
            Console.WriteLine($"{r.Name} (version {r.Version}, {r.Kind})");
            Console.WriteLine($"  {r.Description}");
            Console.WriteLine($"  licence: {r.Licence}");
            Console.WriteLine($"  cite: {r.Citation}");
            if (r.PaperCount is { } count) Console.WriteLine($"  rows the IIP paper uses: {count}");
            foreach (var f in r.Files)
            {
                string label = f.SetColumn is { } column
                    ? $"set from column '{column}': {string.Join(", ", f.Sets!.Select(s => $"{s.Key} -> {(s.Value ? "memorized" : "not memorized")}"))}"
                    : $"every row {(f.Memorized!.Value ? "memorized" : "not memorized")}, set '{f.Set}'";
                Console.WriteLine($"  file {f.SaveAs}: {f.Url}");
                Console.WriteLine($"    sha256 {f.Sha256 ?? "not pinned (fetch needs --allow-unpinned and prints it)"}{(f.Bytes is { } b ? $", {b} bytes" : "")}");
                Console.WriteLine($"    {f.Format}, text from '{f.Text}'{(f.UrlColumn is { } u ? $", image address from '{u}'" : "")}; {label}");
            }
            if (r.Generator is { } g)
                Console.WriteLine($"  made on this machine: {g.Count} {g.Kind} prompts, seed {g.Seed}, set '{g.Set}' (needs --tokenizer)");
            return CliErrors.Ok;
        }));
        return command;
    }

    private static Command Fetch()
    {
        var name = new Argument<string>("name") { Description = "the recipe's name (iip datasets list)" };
        var output = new Option<string>("--out") { Description = "folder: the files go to DIR/NAME/, the labelled manifest to DIR/NAME.jsonl, the record of what was fetched to DIR/NAME.fetch.json", Required = true, HelpName = "DIR" };
        var unpinned = new Option<bool>("--allow-unpinned") { Description = "fetch a recipe file that has no pinned sha256 (its sha256 is printed and recorded in NAME.fetch.json)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "a CLIP tokenizer folder (vocab.json), for the recipes made locally from random tokens", HelpName = "DIR" };
        var command = new Command("fetch",
            "Download a recipe's files (resuming a partial download), check each against its sha256, and write the labelled manifest " +
            "DIR/NAME.jsonl (prompt, caption, memorized, set, source, row, and url for image tables). A file that fails its checksum is " +
            "kept as NAME.bad, never under its name; the exit code is then 2. Running it again keeps what is verified.")
        {
            name, output, unpinned, tokenizer, CatalogOption,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var recipe = Load(parse.GetValue(CatalogOption)).Find(parse.GetValue(name)!);
            Run(recipe, parse.GetValue(output)!, parse.GetValue(unpinned), parse.GetValue(tokenizer));
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>Fetches one recipe, printing each file's outcome and the manifest written; the reproduction chain calls this too.</summary>
    public static DatasetFetchResult Run(DatasetRecipe recipe, string outDirectory, bool allowUnpinned, string? tokenizer)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("iip-datasets/1");
        var result = DatasetFetch.RunAsync(recipe, outDirectory, new DatasetDownload(http, new ConsoleProgress()), allowUnpinned, tokenizer)
            .GetAwaiter().GetResult();
        foreach (var f in result.Files)
            Console.WriteLine($"{f.Path}: {(f.AlreadyThere ? "already there, verified" : f.Resumed ? "resumed and verified" : "fetched")} " +
                              $"(sha256 {f.Sha256}{(f.File.Sha256 is null ? ", NOT pinned by the recipe" : "")}, {f.Bytes} bytes)");
        Console.WriteLine($"{result.Manifest}: {result.Rows.Count} labelled rows ({result.Rows.Count(r => r.Memorized)} memorized)" +
                          (result.RowsWithoutText > 0 ? $"; {result.RowsWithoutText} rows without text left out" : "") +
                          (result.RowsInOtherSets > 0 ? $"; {result.RowsInOtherSets} rows of sets the recipe does not label left out" : ""));
        return result;
    }

    private static DatasetCatalog Load(string? folder) => folder is null ? DatasetCatalog.Shipped() : DatasetCatalog.FromFolder(folder);

    private static string FirstSentence(string text)
    {
        int end = text.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? text : text[..(end + 1)];
    }
}
