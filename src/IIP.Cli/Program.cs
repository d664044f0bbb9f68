using System.CommandLine;
using IIP.Engine;

namespace IIP.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Builds the root command; tests invoke verbs through this.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("iip: find the training images a Stable Diffusion v1 model has memorized, from the image alone (IIP, ICLR 2025). " + CliErrors.Summary);
        foreach (var command in Verbs)
            root.Subcommands.Add(command());
        return root;
    }

    /// <summary>
    /// The engine's settings for this invocation, read once from the environment (EngineOptions names the variables)
    /// and passed to every backend and model a verb makes.
    /// </summary>
    public static EngineOptions Engine { get; private set; } = EngineOptions.Default;

    public static int Run(string[] args)
    {
        try
        {
            Engine = EngineOptions.FromEnvironment();
            Engine.ApplyProcessWide();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return CliErrors.BadInput;
        }
        return BuildRoot().Parse(args).Invoke();
    }

    /// <summary>One entry per verb; each lives in Commands/&lt;Verb&gt;/.</summary>
    private static readonly Func<Command>[] Verbs =
    [
        IIP.Cli.Commands.Golden.GoldenCommand.Create,
        IIP.Cli.Commands.Eval.EvalCommand.Create,
        IIP.Cli.Commands.Scan.ScanCommand.Create,
        IIP.Cli.Commands.Merge.MergeCommand.Create,
        IIP.Cli.Commands.Ablate.AblateCommand.Create,
        IIP.Cli.Commands.Explain.ExplainCommand.Create,
        IIP.Cli.Commands.Info.InfoCommand.Create,
        IIP.Cli.Commands.Tokenize.TokenizeCommand.Create,
        IIP.Cli.Commands.Bench.BenchCommand.Create,
        IIP.Cli.Commands.Generate.GenerateCommand.Create,
        IIP.Cli.Commands.Augment.AugmentCommand.Create,
        IIP.Cli.Commands.Datasets.DatasetsCommand.Create,
        IIP.Cli.Commands.Reproduce.ReproduceCommand.Create,
    ];
}
