using System.CommandLine;
using IIP.Engine.Weights;

namespace IIP.WeightConvert;

/// <summary>Runs a verb's body, turning checkpoint and file errors into one "error:" line and exit code 1.</summary>
internal static class CommandRunner
{
    public static int Run(ParseResult parse, Action<TextWriter> body)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            body(output);
            return 0;
        }
        catch (Exception e) when (e is WeightException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
