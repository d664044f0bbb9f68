using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

/// <summary>ScanShard: which task an image belongs to, and the task's identity from the flag or the scheduler.</summary>
public class ScanShardTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    [Fact]
    public void EveryImageFallsToExactlyOneTaskWhateverTheListingOrder()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"shard-{i % 7:D5}.tar#{i:D6}").ToList();
        var shards = Enumerable.Range(0, 4).Select(i => new ScanShard(i, 4)).ToList();
        var owners = ids.Select(id => shards.Where(s => s.Contains(id)).Select(s => s.Index).ToList()).ToList();
        Assert.All(owners, o => Assert.Single(o));
        // balanced within what a hash gives: 500 expected per task, binomial sd ~19
        Assert.All(Enumerable.Range(0, 4), t => Assert.InRange(owners.Count(o => o[0] == t), 420, 580));
        // the task of an image depends on its identifier only
        var reversed = ids.AsEnumerable().Reverse().Where(id => shards[2].Contains(id)).Order(StringComparer.Ordinal);
        Assert.Equal(ids.Where(id => shards[2].Contains(id)).Order(StringComparer.Ordinal), reversed);
        Assert.True(ScanShard.Whole.Contains(ids[0]));
    }

    [Fact]
    public void TheResultsFileNamesTheTask()
    {
        Assert.Equal(Path.Combine("out", "results.shard-002-of-008.jsonl"), new ScanShard(2, 8).ResultsPath(Path.Combine("out", "results.jsonl")));
        Assert.Equal("results.jsonl", ScanShard.Whole.ResultsPath("results.jsonl"));
    }

    [Theory]
    [InlineData("3/8", 3, 8)]
    [InlineData("0/1", 0, 1)]
    public void GivenExplicitly(string text, int index, int count) => Assert.Equal(new ScanShard(index, count), ScanShard.Parse(text, Env()));

    [Fact]
    public void FromASlurmJobArray()
    {
        // sbatch --array=0-7: ids 0..7, count 8
        Assert.Equal(new ScanShard(5, 8), ScanShard.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "5"), ("SLURM_ARRAY_TASK_COUNT", "8"), ("SLURM_ARRAY_TASK_MIN", "0"))));
        // sbatch --array=1-4 without a count variable: index id - min, count max - min + 1
        Assert.Equal(new ScanShard(0, 4), ScanShard.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_MAX", "4"))));
        Assert.Equal(new ScanShard(2, 16), ScanShard.Parse("auto/16", Env(("SLURM_ARRAY_TASK_ID", "2"))));
    }

    [Fact]
    public void FromAKubernetesIndexedJobWithTheCountGiven()
    {
        Assert.Equal(new ScanShard(3, 4), ScanShard.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "3"))));
        var e = Assert.Throws<ArgumentException>(() => ScanShard.Parse("auto", Env(("JOB_COMPLETION_INDEX", "3"))));
        Assert.Contains("use --shard auto/N", e.Message);
    }

    [Theory]
    [InlineData("8/8", "", "0 to 7")]
    [InlineData("-1/8", "", "must be 0 to 7")]
    [InlineData("2/0", "", "positive integer")]
    [InlineData("3", "", "expected I/N")]
    [InlineData("auto", "", "no task index in the environment")]
    [InlineData("auto/4", "7", "outside 0 to 3")]
    public void BadValuesAreErrorsThatSayWhy(string text, string k8sIndex, string expected)
    {
        var env = k8sIndex.Length > 0 ? Env(("JOB_COMPLETION_INDEX", k8sIndex)) : Env();
        var e = Assert.Throws<ArgumentException>(() => ScanShard.Parse(text, env));
        Assert.Contains(expected, e.Message);
    }
}
