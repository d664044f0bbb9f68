using System.CommandLine;
using IIP.Detection.Scanning;

namespace IIP.Cli.Commands.Merge;

/// <summary>
/// The check `iip merge` and `iip eval` make before they put the files of a sharded scan together: every task's file is
/// there (<see cref="ScanShard.MissingTaskFiles"/>), or the user said `--partial`.
/// </summary>
public static class ShardFiles
{
    public static readonly Option<bool> PartialOption = new("--partial")
    {
        Description = "put the shard files together even when some tasks' files (NAME.shard-III-of-NNN.jsonl) are missing; " +
                      "without it a missing task is an error, so results never silently cover part of the images",
    };

    /// <summary>Throws naming the missing files, or with <paramref name="partial"/> warns on stderr.</summary>
    public static void Check(IReadOnlyList<string> paths, bool partial)
    {
        var missing = ScanShard.MissingTaskFiles(paths);
        if (missing.Count == 0) return;
        string list = string.Join(", ", missing.Take(10)) + (missing.Count > 10 ? $" and {missing.Count - 10} more" : "");
        if (!partial)
            throw new ArgumentException($"{missing.Count} tasks' results files are missing: {list}. Run those tasks (the same `iip scan --shard I/N` " +
                                        "command resumes one), or pass --partial to use the files that are there");
        Console.Error.WriteLine($"warning: --partial: {missing.Count} tasks' results files are missing ({list}); their images are not in these results");
    }
}
