using System.Text.Json;
using IIP.Detection.Scanning;

namespace IIP.Cli.Tests.Scan;

/// <summary>`iip scan --shard` across tasks, then `iip merge` and `iip eval` over the shards: the unsharded scan's results.</summary>
[Collection("Console")]
public class ShardedScanTests
{
    [Fact]
    public void ThreeShardsMergedGiveTheScoresOfOneUnshardedScan()
    {
        string dir = TestPaths.NewTempDir("sharded-scan");
        string list = Path.Combine(dir, "images.jsonl");
        var all = File.ReadLines(Path.Combine(TestPaths.Testbed, "labels.jsonl")).ToList();
        var labels = all.Where(l => l.Contains("\"memorized/")).Take(6).Concat(all.Where(l => l.Contains("\"heldout/")).Take(6)).ToList();
        File.WriteAllLines(list, labels.Select(l => l.Replace("\"image\": \"", $"\"image\": \"{TestPaths.Testbed}/")));
        string model = Path.Combine(TestPaths.Testbed, "model");
        string[] common = ["scan", "--model", model, "--images", list, "--method", "denoising-loss,pia"];

        var whole = CliRunner.Run([.. common, "--out", Path.Combine(dir, "whole.jsonl")]);
        Assert.True(whole.ExitCode == 0, whole.Stderr);
        int sharded = 0;
        for (int task = 0; task < 3; task++)
        {
            var run = CliRunner.Run([.. common, "--out", Path.Combine(dir, "sharded.jsonl"), "--shard", $"{task}/3"]);
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Contains($"shard {task}/3:", run.Stderr);
            sharded += File.Exists(Path.Combine(dir, $"sharded.shard-{task:D3}-of-003.jsonl")) ? File.ReadLines(Path.Combine(dir, $"sharded.shard-{task:D3}-of-003.jsonl")).Count() : 0;
        }
        Assert.Equal(24, sharded);   // 12 images x 2 methods, each in exactly one shard

        var merge = CliRunner.Run("merge", Path.Combine(dir, "sharded.shard-*.jsonl"), "--out", Path.Combine(dir, "merged.jsonl"));
        Assert.True(merge.ExitCode == 0, merge.Stderr);
        Assert.Contains("12 images, 24 records, 0 conflicts, 0 images in more than one file", merge.Stdout);
        Assert.Matches(@"sharded\.shard-000-of-003\.jsonl: \d+ images, \d+ records, [\d.]+ s of compute = [\d.]+ images/s on cpu", merge.Stdout);
        Assert.True(File.Exists(Path.Combine(dir, "merged.csv")));
        Assert.Equal(Scores(Path.Combine(dir, "whole.jsonl")), Scores(Path.Combine(dir, "merged.jsonl")));   // the CPU is deterministic: exact

        // eval over the shards directly equals eval over the merged file
        string labelsFile = Path.Combine(TestPaths.Testbed, "labels.jsonl");
        var overShards = CliRunner.Run("eval", "--results", Path.Combine(dir, "sharded.shard-*.jsonl"), "--labels", labelsFile, "--out", Path.Combine(dir, "e1"));
        var overMerged = CliRunner.Run("eval", "--results", Path.Combine(dir, "merged.jsonl"), "--labels", labelsFile, "--out", Path.Combine(dir, "e2"));
        Assert.True(overShards.ExitCode == 0, overShards.Stderr);
        Assert.Contains("merged 3 results files: 12 images, 24 records", overShards.Stdout);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "e2", "metrics.csv")), File.ReadAllText(Path.Combine(dir, "e1", "metrics.csv")));

        var again = CliRunner.Run("merge", Path.Combine(dir, "sharded.shard-*.jsonl"), "--out", Path.Combine(dir, "merged.jsonl"));
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("exists", again.Stderr);
    }

    [Fact]
    public void AMissingOrRunningTaskIsAnErrorUnlessPartialAndAnEmptyTaskLeavesAnEmptyFile()
    {
        // 3 images over 6 tasks: at least three tasks have none, and each of those leaves an empty file
        string dir = TestPaths.NewTempDir("sharded-missing");
        string list = Path.Combine(dir, "images.txt");
        File.WriteAllLines(list, new[] { "000000.png", "000001.png", "000002.png" }.Select(n => Path.Combine(TestPaths.Testbed, "heldout", n)));
        string[] common = ["scan", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", list, "--method", "pia", "--out", Path.Combine(dir, "r.jsonl")];
        int empty = 0;
        for (int task = 0; task < 6; task++)
        {
            var run = CliRunner.Run([.. common, "--shard", $"{task}/6"]);
            Assert.True(run.ExitCode == 0, run.Stderr);
            string file = Path.Combine(dir, $"r.shard-{task:D3}-of-006.jsonl");
            Assert.True(File.Exists(file), $"task {task} left no file");
            if (new FileInfo(file).Length == 0) empty++;
        }
        Assert.True(empty >= 3);
        string pattern = Path.Combine(dir, "r.shard-*.jsonl"), labels = Path.Combine(TestPaths.Testbed, "labels.jsonl");
        var whole = CliRunner.Run("merge", pattern, "--out", Path.Combine(dir, "all.jsonl"));
        Assert.True(whole.ExitCode == 0, whole.Stderr);
        Assert.Contains("merged 6 files: 3 images, 3 records", whole.Stdout);
        Assert.Contains("no records (a task with no images", whole.Stdout);

        // task 4's file gone (a task preempted before it wrote anything): merge and eval refuse, naming it
        string four = Path.Combine(dir, "r.shard-004-of-006.jsonl");
        File.Move(four, four + ".aside");
        var merge = CliRunner.Run("merge", pattern, "--out", Path.Combine(dir, "m.jsonl"));
        Assert.Equal(2, merge.ExitCode);
        Assert.Contains($"1 tasks' results files are missing: {four}", merge.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "m.jsonl")));
        var eval = CliRunner.Run("eval", "--results", pattern, "--labels", labels, "--out", Path.Combine(dir, "e"));
        Assert.Equal(2, eval.ExitCode);
        Assert.Contains("--partial", eval.Stderr);
        var partial = CliRunner.Run("merge", pattern, "--out", Path.Combine(dir, "m.jsonl"), "--partial");
        Assert.True(partial.ExitCode == 0, partial.Stderr);
        Assert.Contains("warning: --partial: 1 tasks' results files are missing", partial.Stderr);
        File.Move(four + ".aside", four);

        // a task still writing (its lock held): merge refuses
        using (ResultsLock.Acquire(Path.Combine(dir, "r.shard-000-of-006.jsonl")))
        {
            var running = CliRunner.Run("merge", pattern, "--out", Path.Combine(dir, "m2.jsonl"));
            Assert.Equal(2, running.ExitCode);
            Assert.Contains("is still being written by a scan", running.Stderr);
        }
    }

    [Fact]
    public void AutoWithoutASchedulerIsBadInputSayingWhatItLookedFor()
    {
        string dir = TestPaths.NewTempDir("shard-auto");
        var run = CliRunner.Run("scan", "--model", Path.Combine(TestPaths.Testbed, "model"), "--images", Path.Combine(TestPaths.Testbed, "heldout"),
            "--out", Path.Combine(dir, "r.jsonl"), "--method", "pia", "--shard", "auto");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("SLURM_ARRAY_TASK_ID", run.Stderr);
        Assert.Contains("JOB_COMPLETION_INDEX", run.Stderr);
    }

    private static Dictionary<(string, string), double?> Scores(string results) =>
        File.ReadLines(results).Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(r => (r.GetProperty("image").GetString()!, r.GetProperty("method").GetString()!),
                r => r.GetProperty("score").ValueKind == JsonValueKind.Number ? r.GetProperty("score").GetDouble() : (double?)null);
}

/// <summary>`iip scan --images shard.tar`: WebDataset samples scored as the same images as files are.</summary>
[Collection("Console")]
public class WebDatasetScanTests
{
    [Fact]
    public void AShardsSamplesScoreAsTheirImageFilesAndABadMemberIsAnErrorRecord()
    {
        string dir = TestPaths.NewTempDir("wds-scan");
        var (tar, pngs) = WebDatasetFixture.WriteShard(dir);
        string model = Path.Combine(TestPaths.Testbed, "model");
        string list = Path.Combine(dir, "files.txt");
        File.WriteAllLines(list, pngs);

        var fromTar = CliRunner.Run("scan", "--model", model, "--images", tar, "--out", Path.Combine(dir, "tar.jsonl"), "--method", "denoising-loss");
        var fromFiles = CliRunner.Run("scan", "--model", model, "--images", list, "--out", Path.Combine(dir, "files.jsonl"), "--method", "denoising-loss");
        Assert.True(fromTar.ExitCode == 0, fromTar.Stderr);
        Assert.True(fromFiles.ExitCode == 0, fromFiles.Stderr);
        Assert.Contains("1 samples have no image member", fromTar.Stderr);

        var tarRecords = File.ReadLines(Path.Combine(dir, "tar.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(r => r.GetProperty("image").GetString()!);
        var fileScores = File.ReadLines(Path.Combine(dir, "files.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).Select(r => r.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(["shard-00000.tar#000", "shard-00000.tar#001", "shard-00000.tar#002"], tarRecords.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(fileScores[0], tarRecords["shard-00000.tar#000"].GetProperty("score").GetDouble());
        Assert.Equal(fileScores[1], tarRecords["shard-00000.tar#002"].GetProperty("score").GetDouble());
        Assert.Contains("001.jpg", tarRecords["shard-00000.tar#001"].GetProperty("error").GetString());
        Assert.Equal($"{tar}#002.png", tarRecords["shard-00000.tar#002"].GetProperty("path").GetString());

        // a rerun skips every sample: the resume key reads the members' hashes
        var again = CliRunner.Run("scan", "--model", model, "--images", tar, "--out", Path.Combine(dir, "tar.jsonl"), "--method", "denoising-loss");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("0 records written, 3 images already done", again.Stdout);
    }
}
