using System.CommandLine;
using System.Globalization;
using IIP.Detection.Scanning;

namespace IIP.Cli.Commands.Merge;

/// <summary>
/// `iip merge`: the results files of a sharded scan (`iip scan --shard`) as one results file and its CSV: the latest
/// record of each image, method and options; conflicting records, images in several files and every file's images per
/// second are printed. Files of different models are refused. Exit codes as every verb (<see cref="CliErrors"/>).
/// </summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var results = new Argument<string[]>("results")
        {
            Description = "results files (JSONL written by `iip scan`), or patterns such as out/results.shard-*.jsonl",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--out") { Description = "the merged results file (JSONL); its CSV is written beside it", Required = true };
        var command = new Command("merge", "Combine the results files of a sharded scan into one results file and CSV, and report each task's throughput.")
        {
            results, output, ShardFiles.PartialOption,
        };
        command.SetAction(parse => CliErrors.Guard(() => Run(parse.GetValue(results)!, parse.GetValue(output)!, parse.GetValue(ShardFiles.PartialOption))));
        return command;
    }

    public static int Run(IReadOnlyList<string> inputs, string outPath, bool partial = false)
    {
        var paths = inputs.SelectMany(ResultsMerge.Expand).Distinct().ToList();
        ShardFiles.Check(paths, partial);
        foreach (string path in paths)
            if (ResultsLock.IsHeld(path, out string? holder))
                throw new IOException($"{path} is still being written by a scan ({holder ?? "its lock is held"}); merge it when the scan has finished");
        string full = Path.GetFullPath(outPath);
        if (paths.Any(p => Path.GetFullPath(p) == full))
            throw new ArgumentException($"--out {outPath} is one of the files to merge; choose another file");
        if (File.Exists(outPath))
            throw new ArgumentException($"--out {outPath} exists; merge into a new file (or delete it first)");
        string csvPath = Path.ChangeExtension(outPath, ".csv");
        ResultsFileGuard.CheckPaths(outPath, csvPath);

        var inputsRead = paths.Select(ResultsReader.Read).ToList();
        var merge = ResultsMerge.Merge(inputsRead);
        using (var writer = ResultsWriter.Open(outPath))
            foreach (var record in merge.Records) writer.Append(record);
        ResultsCsv.Write(merge.Records, csvPath);

        var output = Console.Out;
        foreach (var file in inputsRead.Where(f => f.IgnoredTailBytes > 0))
            output.WriteLine($"note: {file.FilePath} ends with an incomplete line ({file.IgnoredTailBytes} bytes, an interrupted scan): ignored; resuming that task rescores the image");
        foreach (var file in merge.Files)
            output.WriteLine(file.Records == 0 ? $"{file.FilePath}: no records (a task with no images, or one that has not scored any yet)" : string.Create(CultureInfo.InvariantCulture,
                $"{file.FilePath}: {file.Images} images, {file.Records} records, {file.Seconds:F1} s of compute = {file.ImagesPerSecond:F2} images/s on {file.Device ?? "an unrecorded device"}"));
        foreach (string conflict in merge.Conflicts.Take(20)) output.WriteLine($"conflict: {conflict}");
        if (merge.Conflicts.Count > 20) output.WriteLine($"... and {merge.Conflicts.Count - 20} more conflicts");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"merged {paths.Count} files: {merge.Images} images, {merge.Records.Count} records, {merge.Conflicts.Count} conflicts, " +
            $"{merge.ImagesInSeveralFiles} images in more than one file; {merge.ImagesPerSecondPerTask:F2} images/s per task, " +
            $"{merge.ImagesPerSecondPerTask * merge.Files.Count:F2} images/s for the {merge.Files.Count} tasks running at once"));
        output.WriteLine($"results: {outPath} ({merge.Records.Count} records), {csvPath}");
        return CliErrors.Ok;
    }
}
