using System.Diagnostics;
using System.Text.Json;
using IIP.Detection.Files;
using IIP.Detection.Scanning;

namespace IIP.Cli.Tests.Scan;

/// <summary>
/// A scan never reuses a stale score, never corrupts or clobbers a file and stops cleanly when interrupted: the
/// classes of issue 14, each with inputs that failed before.
/// </summary>
[Collection("Console")]
public class ScanSafetyTests
{
    // one UNet call per image: the checks are about files, not scores
    private static readonly string[] Fast = ["--method", "denoising-loss", "--loss-timesteps", "100"];

    private static string Model => Path.Combine(TestPaths.Testbed, "model");

    private static string Manifest(string dir, params string[] images)
    {
        string path = Path.Combine(dir, "images.jsonl");
        File.WriteAllLines(path, images.Select(i => JsonSerializer.Serialize(new { image = Path.Combine(TestPaths.Testbed, i) })));
        return path;
    }

    private static CliResult Scan(string model, string images, string output, params string[] extra) =>
        CliRunner.Run(["scan", "--model", model, "--images", images, "--out", output, .. Fast, .. extra]);

    [Fact]
    public void Another_model_is_refused_naming_both_and_fresh_moves_the_old_file_aside()
    {
        string dir = TestPaths.NewTempDir("scan-model");
        string images = Manifest(dir, "memorized/000000.png"), output = Path.Combine(dir, "results.jsonl");
        Assert.Equal(0, Scan(Model, images, output).ExitCode);
        byte[] before = File.ReadAllBytes(output);

        string other = Path.Combine(TestPaths.TestbedV2, "model");
        var refused = Scan(other, images, output);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("holds the scores of the model with fingerprint", refused.Stderr);
        Assert.Contains(other, refused.Stderr);
        Assert.Contains("--fresh", refused.Stderr);
        Assert.Equal(before, File.ReadAllBytes(output));   // untouched

        var fresh = Scan(other, images, output, "--fresh");
        Assert.True(fresh.ExitCode == 0, fresh.Stderr);
        string moved = Assert.Single(Directory.GetFiles(dir, "results.jsonl.*.bak"));
        Assert.Equal(before, File.ReadAllBytes(moved));
        Assert.Single(Directory.GetFiles(dir, "results.csv.*.bak"));
        var record = ResultsReader.Read(output).Records.Single();
        Assert.NotEqual(ResultsReader.Read(moved).Records.Single().Model, record.Model);
        Assert.NotEqual(ResultsReader.Read(moved).Records.Single().Score, record.Score);   // scored again with the other model
    }

    [Fact]
    public void A_second_writer_fails_at_once_and_the_file_stays_whole()
    {
        string dir = TestPaths.NewTempDir("scan-lock");
        string images = Manifest(dir, "memorized/000000.png"), output = Path.Combine(dir, "results.jsonl");
        using (ResultsLock.Acquire(output))   // another scan holds the file
        {
            var second = Scan(Model, images, output);
            Assert.Equal(2, second.ExitCode);
            Assert.Contains("is being written by another iip process", second.Stderr);
            Assert.Contains($"pid {Environment.ProcessId}", second.Stderr);
        }
        Assert.Equal(0, Scan(Model, images, output).ExitCode);   // free again once the first is done

        string linked = Path.Combine(TestPaths.NewTempDir("scan-lock-link"), "runs");
        Directory.CreateSymbolicLink(linked, dir);                 // the same folder by another name (~/runs and /gpfs/u/runs)
        using (ResultsLock.Acquire(Path.Combine(linked, "results.jsonl")))
        {
            var throughTheOtherName = Scan(Model, images, output);
            Assert.Equal(2, throughTheOtherName.ExitCode);
            Assert.Contains("is being written by another iip process", throughTheOtherName.Stderr);
        }
    }

    [Fact]
    public void A_corrupt_line_is_an_error_naming_the_file_and_line()
    {
        string dir = TestPaths.NewTempDir("scan-corrupt");
        string images = Manifest(dir, "memorized/000000.png", "heldout/000000.png"), output = Path.Combine(dir, "results.jsonl");
        Assert.Equal(0, Scan(Model, images, output).ExitCode);
        var lines = File.ReadAllLines(output).ToList();
        lines.Insert(1, "{\"image\": \"x.png\", \"method\": ");   // a torn line in the middle, then more records
        File.WriteAllLines(output, lines);
        var result = Scan(Model, images, output);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{output} line 2", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);   // a message, not a stack trace
    }

    [Fact]
    public void An_out_that_is_a_csv_a_folder_or_another_file_is_refused_before_anything_is_written()
    {
        string dir = TestPaths.NewTempDir("scan-out");
        string images = Manifest(dir, "memorized/000000.png");
        var csv = Scan(Model, images, Path.Combine(dir, "results.csv"));
        Assert.Equal(2, csv.ExitCode);
        Assert.Contains("names a CSV file", csv.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "results.csv")));

        var folder = Scan(Model, images, dir);
        Assert.Equal(2, folder.ExitCode);
        Assert.Contains("is a folder", folder.Stderr);

        string notes = Path.Combine(dir, "notes.txt");
        File.WriteAllText(notes, "my notes, not scan results\n");
        var other = Scan(Model, images, notes);
        Assert.Equal(2, other.ExitCode);
        Assert.Contains("is not an iip results file", other.Stderr);
        Assert.Equal("my notes, not scan results\n", File.ReadAllText(notes));

        string table = Path.Combine(dir, "table.csv");
        File.WriteAllText(table, "a,b\n1,2\n");
        var clobber = Scan(Model, images, Path.Combine(dir, "r.jsonl"), "--csv", table);
        Assert.Equal(2, clobber.ExitCode);
        Assert.Contains("is not a CSV of scan results", clobber.Stderr);
        Assert.Equal("a,b\n1,2\n", File.ReadAllText(table));
        Assert.False(File.Exists(Path.Combine(dir, "r.jsonl")));
    }

    [Fact]
    public void A_scan_killed_while_it_wrote_its_first_record_resumes()
    {
        string dir = TestPaths.NewTempDir("scan-first-record");
        string images = Manifest(dir, "memorized/000000.png"), output = Path.Combine(dir, "results.jsonl");
        File.WriteAllText(output, "{\"image\":\"memorized/000000.png\",\"pa");   // the first write cut short: no newline
        var resumed = Scan(Model, images, output);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Single(ResultsReader.Read(output).Records);
        Assert.Equal(0, ResultsReader.Read(output).IgnoredTailBytes);
        string notes = Path.Combine(dir, "notes.jsonl");
        File.WriteAllText(notes, "{\"image\":\"a.png\", \"note\": \"mine\"}\n");   // a complete first line that is not a record is still refused
        var refused = Scan(Model, images, notes);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("is not an iip results file", refused.Stderr);
    }

    [Fact]
    public void A_caption_edited_or_given_later_is_scored_again_by_a_caption_conditioned_method()
    {
        string dir = TestPaths.NewTempDir("scan-caption");
        string image = Path.Combine(TestPaths.Testbed, "memorized", "000000.png"), output = Path.Combine(dir, "results.jsonl");
        string Captioned(string caption)
        {
            string path = Path.Combine(dir, "captioned.jsonl");
            File.WriteAllText(path, JsonSerializer.Serialize(new { image, caption }) + "\n");
            return path;
        }
        string[] scan = ["scan", "--model", Model, "--out", output, "--method", "pia-sd,denoising-loss", "--loss-timesteps", "100"];
        string list = Path.Combine(dir, "list.txt");
        File.WriteAllText(list, image + "\n");
        var bare = CliRunner.Run([.. scan, "--images", list]);                        // no caption: pia-sd records why
        Assert.True(bare.ExitCode == 0, bare.Stderr);
        Assert.Contains("needs the image's caption", File.ReadAllText(output));
        var given = CliRunner.Run([.. scan, "--images", Captioned("a red ring")]);     // the caption given: pia-sd only, scored now
        Assert.Contains("1 records written, 0 images already done", given.Stdout);
        var same = CliRunner.Run([.. scan, "--images", Captioned("a red ring")]);
        Assert.Contains("0 records written, 1 images already done", same.Stdout);
        var edited = CliRunner.Run([.. scan, "--images", Captioned("a blue square")]);  // edited: scored again under it
        Assert.Contains("1 records written, 0 images already done", edited.Stdout);
        var records = ResultsReader.Read(output).Records.Where(r => r.Method == "pia-sd").ToList();
        Assert.Equal([null, ScanRecord.CaptionSha256Of("a red ring"), ScanRecord.CaptionSha256Of("a blue square")], records.Select(r => r.CaptionSha256));
        Assert.NotEqual(records[1].Score, records[2].Score);
        Assert.All(ResultsReader.Read(output).Records.Where(r => r.Method == "denoising-loss"), r => Assert.Null(r.CaptionSha256));
    }

    [Fact]
    public void The_csv_copy_is_replaced_whole_or_not_at_all()
    {
        string dir = TestPaths.NewTempDir("scan-csv");
        string images = Manifest(dir, "memorized/000000.png"), output = Path.Combine(dir, "results.jsonl");
        Assert.Equal(0, Scan(Model, images, output).ExitCode);
        string csv = Path.Combine(dir, "results.csv");
        string before = File.ReadAllText(csv);
        Directory.CreateDirectory(AtomicFile.TemporaryPath(csv));   // the temporary file cannot be written (as on a full disk)
        var failed = Scan(Model, Manifest(dir, "memorized/000000.png", "heldout/000000.png"), output);
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Equal(before, File.ReadAllText(csv));   // the previous CSV is whole
        Assert.Equal(2, ResultsReader.Read(output).Records.Count);   // and the new record is kept in the results
        Directory.Delete(AtomicFile.TemporaryPath(csv));
        Assert.Equal(0, Scan(Model, images, output).ExitCode);
        Assert.Equal(3, File.ReadAllLines(csv).Length);
    }

    [Fact]
    public async Task Sigterm_stops_after_the_image_in_progress_keeping_every_record_and_the_same_command_resumes()
    {
        string dir = TestPaths.NewTempDir("scan-sigterm");
        var images = Enumerable.Range(0, 40).Select(i => $"heldout/{i:D6}.png").ToArray();
        string manifest = Manifest(dir, images), output = Path.Combine(dir, "results.jsonl");
        string[] args = ["scan", "--model", Model, "--images", manifest, "--out", output, .. Fast];
        string cli = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args.Prepend(cli)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(output) && File.ReadAllLines(output).Length >= 2) && clock.Elapsed < TimeSpan.FromSeconds(120) && !process.HasExited)
            Thread.Sleep(50);
        Assert.False(process.HasExited, "the scan ended before it could be interrupted: " + (process.HasExited ? await stderr : ""));
        await Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExitAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await process.WaitForExitAsync(timeout.Token);
        string errors = await stderr;
        Assert.True(process.ExitCode == 130, errors);
        Assert.Contains("interrupted (SIGTERM)", errors);
        int kept = ResultsReader.Read(output).Records.Count;
        Assert.InRange(kept, 2, images.Length - 1);
        Assert.Equal(kept + 1, File.ReadAllLines(Path.ChangeExtension(output, ".csv")).Length);   // the CSV was written on the way out

        var resumed = CliRunner.Run(args);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"{kept} images already done", resumed.Stdout);
        Assert.Equal(images.Length, ResultsReader.Read(output).Records.Count);
    }
}
