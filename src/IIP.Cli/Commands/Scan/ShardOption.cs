using IIP.Detection.Scanning;

namespace IIP.Cli.Commands.Scan;

/// <summary>`--shard`: <see cref="ScanShard.Parse"/> with the process environment, where a cluster scheduler puts the task index.</summary>
public static class ShardOption
{
    public static ScanShard Parse(string text) => ScanShard.Parse(text, Environment.GetEnvironmentVariable);
}
