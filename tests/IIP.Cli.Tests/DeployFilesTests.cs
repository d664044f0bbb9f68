using System.Diagnostics;
using System.Text.RegularExpressions;

namespace IIP.Cli.Tests;

/// <summary>The job files under deploy/: what they pass to `iip scan --shard` agrees with how the scheduler runs them.</summary>
public partial class DeployFilesTests
{
    private static string Deploy(string name) => Path.Combine(TestPaths.RepoRoot, "deploy", name);

    [Fact]
    public void TheKubernetesJobIsIndexedAndItsShardCountIsItsCompletions()
    {
        string yaml = File.ReadAllText(Deploy("k8s-scan-job.yaml"));
        Assert.Contains("completionMode: Indexed", yaml);
        int completions = int.Parse(Completions().Match(yaml).Groups[1].Value);
        int shards = int.Parse(AutoShards().Match(yaml).Groups[1].Value);
        Assert.Equal(completions, shards);   // JOB_COMPLETION_INDEX runs 0 .. completions - 1 (ScanShardTests: the index handling)
        Assert.Contains("\"scan\"", yaml);
    }

    [Fact]
    public void TheSlurmScriptIsValidBashAndTakesItsTaskFromTheArray()
    {
        string script = File.ReadAllText(Deploy("slurm-scan.sbatch"));
        Assert.Contains("--shard auto", script);
        Assert.Contains("#SBATCH --requeue", script);
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", Deploy("slurm-scan.sbatch")]) { RedirectStandardError = true })!;
        string errors = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, errors);
    }

    [GeneratedRegex(@"^\s*completions:\s*(\d+)", RegexOptions.Multiline)]
    private static partial Regex Completions();

    [GeneratedRegex(@"""--shard"",\s*""auto/(\d+)""")]
    private static partial Regex AutoShards();
}
