using System.Diagnostics;
using System.Text.RegularExpressions;
using IIP.Detection.Scanning;
using k8s;
using k8s.Models;

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
    public void TheKubernetesJobIsAValidBatchV1JobWhoseIndexesSplitTheScan()
    {
        // Strict deserialization into the Kubernetes API types (KubernetesClient's models, generated from the API's OpenAPI
        // schema): an unknown or misspelled field, or a value of the wrong type, fails here as `kubectl apply` would fail.
        string yaml = File.ReadAllText(Deploy("k8s-scan-job.yaml"));
        var job = KubernetesYaml.Deserialize<V1Job>(yaml, strict: true);
        Assert.Equal(("batch/v1", "Job"), (job.ApiVersion, job.Kind));
        Assert.Equal("Indexed", job.Spec.CompletionMode);
        var pod = job.Spec.Template.Spec;
        Assert.Equal("Never", pod.RestartPolicy);   // a failed pod is retried per index (backoffLimitPerIndex), resuming its own file
        var container = Assert.Single(pod.Containers);
        Assert.False(string.IsNullOrEmpty(container.Name));
        Assert.False(string.IsNullOrEmpty(container.Image));
        Assert.Equal("1", container.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.All(container.VolumeMounts, m => Assert.Contains(pod.Volumes, v => v.Name == m.Name));   // every mount has its volume

        // its index handling, through the code the CLI runs: each pod's JOB_COMPLETION_INDEX is one task of --shard auto/N
        var args = container.Args.ToList();
        string shardText = args[args.IndexOf("--shard") + 1];
        int completions = job.Spec.Completions!.Value;
        var shards = Enumerable.Range(0, completions)
            .Select(index => ScanShard.Parse(shardText, name => name == "JOB_COMPLETION_INDEX" ? index.ToString() : null)).ToList();
        Assert.Equal(Enumerable.Range(0, completions), shards.Select(s => s.Index));
        Assert.All(shards, s => Assert.Equal(completions, s.Count));
        var images = Enumerable.Range(0, 400).Select(i => $"shard-{i / 100:D5}.tar#{i:D6}").ToList();
        Assert.All(images, image => Assert.Equal(1, shards.Count(s => s.Contains(image))));   // every image in exactly one pod
        Assert.All(shards, s => Assert.Contains(images, s.Contains));                       // and no pod idle

        // the check can fail: a misspelled field is refused
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.Deserialize<V1Job>(yaml.Replace("completionMode: Indexed", "completionMod: Indexed"), strict: true));
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
