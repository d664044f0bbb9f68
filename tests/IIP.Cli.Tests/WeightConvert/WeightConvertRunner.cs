using System.CommandLine;

namespace IIP.Cli.Tests.WeightConvert;

/// <summary>Runs weight-convert in-process with its output and error streams captured (no global Console use).</summary>
internal static class WeightConvertRunner
{
    public static CliResult Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = IIP.WeightConvert.Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(code, output.ToString(), error.ToString());
    }
}
