using System.Security.Cryptography;
using System.Text;
using IIP.Detection.Datasets;

namespace IIP.Detection.Tests.Datasets;

/// <summary>
/// Fetching recipe files from a local HTTP server: a verified download, a wrong checksum, a 404, a truncated download and
/// its resume, a server that ignores Range, a file changed on the server between two runs, a range answered from the wrong
/// byte, a file already there, unpinned files (refused, resumed only with a version, checked by size), and local paths.
/// </summary>
public sealed class DatasetDownloadTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly string _dir = TestPaths.NewTempDir("dataset-download");
    private readonly byte[] _bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 4000).Select(i => $"{{\"caption\": \"prompt {i}\"}}\n")));

    private string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private DatasetFile File(string path, string? sha) => new()
    {
        Url = _server.Url(path), Sha256 = sha, Bytes = _bytes.Length, SaveAs = "prompts.jsonl", Format = "jsonl", Text = "caption", Memorized = true,
    };

    private Task<FetchedFile> Fetch(DatasetFile file, bool allowUnpinned = false) =>
        new DatasetDownload(_http).FetchAsync(file, _dir, allowUnpinned);

    [Fact]
    public async Task APinnedFileIsDownloadedVerifiedAndKeptOnTheNextRun()
    {
        _server.Serve("p.jsonl", _bytes);
        var first = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(first.Path));
        Assert.False(first.AlreadyThere);
        Assert.Equal(Sha(_bytes), first.Sha256);
        var again = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.True(again.AlreadyThere);
        Assert.Single(_server.Requests);   // the second run did not download
    }

    [Fact]
    public async Task AWrongChecksumKeepsNothingUnderTheNameAndSaysBothHashes()
    {
        _server.Serve("p.jsonl", _bytes);
        string wrong = new('0', 64);
        var error = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", wrong)));
        Assert.Contains("checksum mismatch", error.Message);
        Assert.Contains(wrong, error.Message);
        Assert.Contains(Sha(_bytes), error.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl")));
        Assert.True(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl.bad")));
        Assert.False(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl.part")));
    }

    [Fact]
    public async Task NotFoundNamesTheAddressAndTheStatus()
    {
        var error = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("missing.jsonl", Sha(_bytes))));
        Assert.Contains("HTTP 404", error.Message);
        Assert.Contains(_server.Url("missing.jsonl"), error.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task ATruncatedDownloadIsKeptAsPartAndTheNextRunResumesWithARangeRequest()
    {
        _server.Serve("p.jsonl", _bytes);
        _server.CutAfter = 10_000;
        var error = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", Sha(_bytes))));
        Assert.Contains("truncated download", error.Message);
        string part = Path.Combine(_dir, "prompts.jsonl.part");
        Assert.Equal(10_000, new FileInfo(part).Length);
        Assert.False(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl")));

        var resumed = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.True(resumed.Resumed);
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(resumed.Path));
        Assert.Equal("bytes=10000-", _server.Requests.Last().Range);
        Assert.False(System.IO.File.Exists(part));
    }

    [Fact]
    public async Task AServerThatIgnoresRangeIsDownloadedAgainFromTheStart()
    {
        _server.Serve("p.jsonl", _bytes);
        _server.CutAfter = 5_000;
        await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", Sha(_bytes))));
        _server.HonourRange = false;
        var fetched = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.False(fetched.Resumed);
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(fetched.Path));   // not 5,000 bytes twice
    }

    [Fact]
    public async Task AFileChangedOnTheServerDuringAResumedDownloadArrivesWholeNotSpliced()
    {
        _server.Serve("p.jsonl", _bytes);
        _server.CutAfter = 10_000;
        await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", null), allowUnpinned: true));
        var changed = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 4000).Select(i => $"{{\"caption\": \"changed {i}\"}}\n")));
        _server.Serve("p.jsonl", changed);
        var fetched = await Fetch(File("p.jsonl", null) with { Bytes = changed.Length }, allowUnpinned: true);
        Assert.Equal(changed, System.IO.File.ReadAllBytes(fetched.Path));   // not the old first 10,000 bytes and the new rest
        Assert.False(fetched.Resumed);
        var resume = _server.Requests.Last();
        Assert.Equal("bytes=10000-", resume.Range);
        Assert.Equal(LocalHttpServer.ETagOf(_bytes), resume.IfRange);   // the version the part was started from
        Assert.False(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl.part.validator")));
    }

    [Fact]
    public async Task AnUnpinnedPartWithoutAVersionAndARangeAnsweredFromTheWrongByteStartAgain()
    {
        _server.Serve("p.jsonl", _bytes);
        _server.SendETag = false;
        _server.CutAfter = 10_000;
        await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", null), allowUnpinned: true));
        var whole = await Fetch(File("p.jsonl", null), allowUnpinned: true);   // nothing can tell whether the part is still the file
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(whole.Path));
        Assert.Null(_server.Requests.Last().Range);
        System.IO.File.Delete(whole.Path);

        _server.CutAfter = 10_000;
        await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", Sha(_bytes))));
        _server.WrongRangeStart = true;                      // a pinned part may resume, but the answer starts at byte 0
        var fetched = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(fetched.Path));
        Assert.Equal(new string?[] { "bytes=10000-", null }, _server.Requests.TakeLast(2).Select(r => r.Range));
    }

    [Fact]
    public async Task AnUnpinnedFileOfAnotherSizeThanTheRecipesIsKeptAside()
    {
        _server.Serve("p.jsonl", _bytes);
        var error = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", null) with { Bytes = _bytes.Length + 1 }, allowUnpinned: true));
        Assert.Contains($"size mismatch: {_bytes.Length} bytes arrived, the recipe says {_bytes.Length + 1}", error.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl")));
        Assert.True(System.IO.File.Exists(Path.Combine(_dir, "prompts.jsonl.bad")));
    }

    [Fact]
    public async Task AnUnpinnedFileIsRefusedUnlessAllowedAndThenItsHashIsReported()
    {
        _server.Serve("p.jsonl", _bytes);
        var error = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("p.jsonl", null)));
        Assert.Contains("--allow-unpinned", error.Message);
        Assert.Empty(_server.Requests);
        var messages = new List<string>();
        var fetched = await new DatasetDownload(_http, new SyncProgress(messages)).FetchAsync(File("p.jsonl", null), _dir, allowUnpinned: true);
        Assert.Equal(Sha(_bytes), fetched.Sha256);
        Assert.Contains(messages, m => m.Contains(Sha(_bytes)) && m.Contains("not pinned"));
    }

    [Fact]
    public async Task AFileThatChangedSinceItWasFetchedIsMovedAsideAndFetchedAgain()
    {
        _server.Serve("p.jsonl", _bytes);
        System.IO.File.WriteAllText(Path.Combine(_dir, "prompts.jsonl"), "tampered");
        var fetched = await Fetch(File("p.jsonl", Sha(_bytes)));
        Assert.False(fetched.AlreadyThere);
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(fetched.Path));
        Assert.Equal("tampered", System.IO.File.ReadAllText(Path.Combine(_dir, "prompts.jsonl.bad")));
    }

    [Fact]
    public async Task LocalPathsAndFileUrisAreCopiedAndChecked()
    {
        string source = Path.Combine(TestPaths.NewTempDir("dataset-source"), "p.jsonl");
        System.IO.File.WriteAllBytes(source, _bytes);
        var byPath = await Fetch(File("unused", Sha(_bytes)) with { Url = source });
        Assert.Equal(_bytes, System.IO.File.ReadAllBytes(byPath.Path));
        System.IO.File.Delete(byPath.Path);
        var byUri = await Fetch(File("unused", Sha(_bytes)) with { Url = new Uri(source).AbsoluteUri });
        Assert.Equal(Sha(_bytes), byUri.Sha256);
        System.IO.File.Delete(byUri.Path);
        var missing = await Assert.ThrowsAsync<DatasetFetchException>(() => Fetch(File("unused", Sha(_bytes)) with { Url = source + ".gone" }));
        Assert.Contains("no such file", missing.Message);
    }

    public void Dispose()
    {
        _server.Dispose();
        _http.Dispose();
    }

    private sealed class SyncProgress(List<string> messages) : IProgress<string>
    {
        public void Report(string value) => messages.Add(value);
    }
}
