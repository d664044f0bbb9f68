using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace IIP.Detection.Scanning;

/// <summary>
/// One part of a scan split across the tasks of a cluster job (`iip scan --shard I/N`): task I of N (0-based) scans the
/// images whose identifier hashes to I, so every image lands in exactly one task whatever order each task lists the
/// input in, and a task's part does not change when it is rerun. Each task writes its own results file
/// (<see cref="ResultsPath"/>) and resumes on its own; `iip merge` puts them together.
/// </summary>
public readonly record struct ScanShard(int Index, int Count)
{
    /// <summary>The whole scan (no sharding).</summary>
    public static ScanShard Whole { get; } = new(0, 1);

    /// <summary>
    /// The task an image belongs to: the first 8 bytes of SHA-256 over its identifier (UTF-8; the listing's `image`),
    /// big-endian, modulo the task count.
    /// </summary>
    public static int TaskOf(string identifier, int count)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(identifier), digest);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(digest) % (ulong)count);
    }

    public bool Contains(string identifier) => Count == 1 || TaskOf(identifier, Count) == Index;

    /// <summary>
    /// The tasks' results files missing from <paramref name="paths"/>: for every NAME.shard-III-of-NNN.EXT among them, the
    /// files of the other tasks 0 .. N-1 of the same NAME, N and folder that are not listed (a task that has not run, or
    /// was preempted before it wrote anything: a task with no images writes an empty file, so a missing file is never one).
    /// </summary>
    public static IReadOnlyList<string> MissingTaskFiles(IEnumerable<string> paths)
    {
        var present = new Dictionary<(string Folder, string Stem, string Extension, int Count), HashSet<int>>();
        foreach (string path in paths)
        {
            var match = ShardFileName.Match(Path.GetFileName(path));
            if (!match.Success) continue;
            var key = (Path.GetDirectoryName(Path.GetFullPath(path))!, match.Groups[1].Value, match.Groups[4].Value,
                       int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
            (present.TryGetValue(key, out var indices) ? indices : present[key] = []).Add(int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
        }
        var missing = new List<string>();
        foreach (var ((folder, stem, extension, count), indices) in present)
            for (int i = 0; i < count; i++)
                if (!indices.Contains(i))
                    missing.Add(new ScanShard(i, count).ResultsPath(Path.Combine(folder, stem + extension)));
        return missing;
    }

    private static readonly System.Text.RegularExpressions.Regex ShardFileName = new(@"^(.*)\.shard-(\d{3,})-of-(\d{3,})(\.[^.]*)?$");

    /// <summary>This task's results file: NAME.shard-III-of-NNN.EXT beside <paramref name="outPath"/> (the path itself when whole).</summary>
    public string ResultsPath(string outPath)
    {
        if (Count == 1) return outPath;
        string suffix = string.Create(CultureInfo.InvariantCulture, $".shard-{Index:D3}-of-{Count:D3}");
        string extension = Path.GetExtension(outPath);
        return Path.Combine(Path.GetDirectoryName(outPath) ?? "", Path.GetFileNameWithoutExtension(outPath) + suffix + extension);
    }

    /// <summary>
    /// "I/N" (0 &lt;= I &lt; N), or "auto" / "auto/N" from the scheduler's environment: a Slurm job array
    /// (SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT tasks, or of N when given) or a Kubernetes
    /// Indexed Job (JOB_COMPLETION_INDEX, of N, which Kubernetes does not pass to the pod).
    /// </summary>
    public static ScanShard Parse(string text, Func<string, string?> environment)
    {
        string[] parts = text.Split('/');
        if (parts.Length > 2 || parts[0].Length == 0)
            throw new ArgumentException($"--shard {text}: expected I/N (task I of N, 0-based), auto or auto/N");
        int? given = parts.Length == 2 ? Positive(parts[1], text) : null;
        if (parts[0] != "auto")
        {
            if (given is not { } n) throw new ArgumentException($"--shard {text}: expected I/N (task I of N, 0-based), auto or auto/N");
            int index = int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : -1;
            return index >= 0 && index < n ? new ScanShard(index, n) : throw new ArgumentException($"--shard {text}: the task index must be 0 to {n - 1}");
        }
        if (Integer(environment, "SLURM_ARRAY_TASK_ID") is { } slurmId)
        {
            int min = Integer(environment, "SLURM_ARRAY_TASK_MIN") ?? 0;
            int? count = given ?? Integer(environment, "SLURM_ARRAY_TASK_COUNT")
                         ?? (Integer(environment, "SLURM_ARRAY_TASK_MAX") is { } max ? max - min + 1 : null);
            if (count is not { } c || c < 1)
                throw new ArgumentException($"--shard {text}: SLURM_ARRAY_TASK_ID is {slurmId} but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX says how many tasks; use --shard auto/N");
            return Checked(slurmId - min, c, text, "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN");
        }
        if (Integer(environment, "JOB_COMPLETION_INDEX") is { } k8sIndex)
            return given is { } n ? Checked(k8sIndex, n, text, "JOB_COMPLETION_INDEX")
                : throw new ArgumentException($"--shard {text}: a Kubernetes Indexed Job (JOB_COMPLETION_INDEX {k8sIndex}) does not say how many tasks there are; use --shard auto/N with N = the job's completions");
        throw new ArgumentException($"--shard {text}: no task index in the environment (SLURM_ARRAY_TASK_ID for a Slurm job array, JOB_COMPLETION_INDEX for a Kubernetes Indexed Job); give I/N");
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    private static ScanShard Checked(int index, int count, string text, string source) =>
        index >= 0 && index < count ? new ScanShard(index, count)
            : throw new ArgumentException($"--shard {text}: task {index} (from {source}) is outside 0 to {count - 1}");

    private static int Positive(string value, string text) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
            : throw new ArgumentException($"--shard {text}: the task count must be a positive integer");

    private static int? Integer(Func<string, string?> environment, string name) =>
        environment(name) is { Length: > 0 } value
            ? int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n
                : throw new ArgumentException($"{name}={value} is not an integer")
            : null;
}
