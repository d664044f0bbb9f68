namespace IIP.Cli.Tests;

/// <summary>What one CLI invocation printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs `iip` verbs in-process with Console output captured. Console is process-global, so every test
/// class that uses this belongs to the "Console" collection (no parallel runs).
/// </summary>
public static class CliRunner
{
    private static readonly Lock Gate = new();

    public static CliResult Run(params string[] args)
    {
        lock (Gate)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                int code = Program.Run(args);
                return new CliResult(code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }
}

[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;
