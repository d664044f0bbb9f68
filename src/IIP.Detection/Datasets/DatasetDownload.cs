using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace IIP.Detection.Datasets;

/// <summary>The outcome of fetching one file: where it is, its sha256, and whether it was already there.</summary>
public sealed record FetchedFile(DatasetFile File, string Path, string Sha256, long Bytes, bool AlreadyThere, bool Resumed);

/// <summary>A download that failed: the message names the address or the file and what to do.</summary>
public sealed class DatasetFetchException(string message) : IOException(message);

/// <summary>
/// Downloads one recipe file into a folder and checks it: http(s) with resume (a partial download is kept as
/// NAME.part and continued with a Range request on the next run), file:// and local paths copied; the sha256 and the
/// size compared with the recipe's; a file that fails its checksum is moved aside to NAME.bad, never kept under its
/// name. A recipe file with no pinned sha256 is refused unless <c>allowUnpinned</c>, and then its observed sha256 is
/// reported so the recipe can be pinned.
/// </summary>
public sealed class DatasetDownload(HttpClient http, IProgress<string>? log = null)
{
    public async Task<FetchedFile> FetchAsync(DatasetFile file, string folder, bool allowUnpinned, CancellationToken cancel = default)
    {
        if (file.Sha256 is null && !allowUnpinned)
            throw new DatasetFetchException($"{file.Url}: this recipe file has no pinned sha256, so what arrives cannot be checked; " +
                                            "pass --allow-unpinned to fetch it anyway (its sha256 is printed and recorded, to pin the recipe with)");
        Directory.CreateDirectory(folder);
        string target = Path.Combine(folder, file.SaveAs), part = target + ".part";

        if (File.Exists(target))
        {
            string sha = Sha256Of(target);
            if (file.Sha256 is null || sha == file.Sha256)
                return new FetchedFile(file, target, sha, new FileInfo(target).Length, AlreadyThere: true, Resumed: false);
            string aside = MoveAside(target);
            log?.Report($"{target}: sha256 {sha} is not the recipe's {file.Sha256}; moved to {aside}, fetching again");
        }

        bool resumed;
        if (IsHttp(file.Url))
            resumed = await DownloadAsync(file, part, cancel);
        else
        {
            string source = LocalPath(file.Url);
            if (!File.Exists(source)) throw new DatasetFetchException($"{file.Url}: no such file (relative paths are taken from {Environment.CurrentDirectory})");
            File.Copy(source, part, overwrite: true);
            resumed = false;
        }

        long bytes = new FileInfo(part).Length;
        string got = Sha256Of(part);
        File.Delete(part + ".validator");
        if (file.Sha256 is not null && got != file.Sha256)
        {
            string aside = MoveAside(part, target + ".bad");
            throw new DatasetFetchException($"{file.Url}: checksum mismatch: sha256 {got}, the recipe pins {file.Sha256} " +
                                            $"({bytes} bytes{(file.Bytes is { } b ? $", the recipe says {b}" : "")}); the download is kept at {aside} for inspection, nothing was written under {target}");
        }
        if (file.Sha256 is null && file.Bytes is { } size && bytes != size)
        {
            string aside = MoveAside(part, target + ".bad");
            throw new DatasetFetchException($"{file.Url}: size mismatch: {bytes} bytes arrived, the recipe says {size}; the download is kept at {aside} " +
                                            $"for inspection (sha256 {got}), nothing was written under {target}");
        }
        File.Move(part, target, overwrite: true);
        if (file.Sha256 is null) log?.Report($"{target}: not pinned by the recipe; its sha256 is {got} ({bytes} bytes)");
        return new FetchedFile(file, target, got, bytes, AlreadyThere: false, resumed);
    }

    // GET into `part`, continuing a partial file with a Range request; true when it resumed. A resume is taken only when it
    // is safe to append: the server names the file's version (a strong ETag or Last-Modified, saved beside the part as
    // PART.validator and sent back as If-Range, so a file changed since is sent whole) and answers from the byte asked for.
    // Anything else starts the part again from its first byte.
    private async Task<bool> DownloadAsync(DatasetFile file, string part, CancellationToken cancel)
    {
        string validatorPath = part + ".validator";
        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        string? validator = have > 0 && File.Exists(validatorPath) ? File.ReadAllText(validatorPath) : null;
        if (have > 0 && validator is null && file.Sha256 is null)
        {
            log?.Report($"{part}: the server named no version of the file when it was started, and nothing pins it; starting again");
            have = 0;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, file.Url);
        if (have > 0)
        {
            request.Headers.Range = new RangeHeaderValue(have, null);
            if (validator is not null) request.Headers.IfRange = ParseValidator(validator);
        }
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
        }
        catch (HttpRequestException e)
        {
            throw new DatasetFetchException($"{file.Url}: could not connect: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new DatasetFetchException($"{file.Url}: no answer before the timeout" + (have > 0 ? $" (the {have} bytes already fetched are kept in {part})" : ""));
        }
        using (response)
        {
            if (have > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // "bytes */LENGTH": the part is whole when it holds LENGTH bytes; otherwise the file changed, fetch it again
                if (response.Content.Headers.ContentRange?.Length == have) return true;
                log?.Report($"{file.Url}: the server cannot continue from byte {have} (the file is {response.Content.Headers.ContentRange?.Length?.ToString() ?? "of unknown size"}); starting again");
                File.Delete(part);
                return await DownloadAsync(file, part, cancel);
            }
            if (!response.IsSuccessStatusCode)
                throw new DatasetFetchException($"{file.Url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}" +
                                                (have > 0 ? $" (the {have} bytes already fetched are kept in {part})" : ""));
            bool resuming = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (resuming && response.Content.Headers.ContentRange?.From != have)
            {
                log?.Report($"{file.Url}: asked for the bytes from {have}, the server sent them from {response.Content.Headers.ContentRange?.From?.ToString() ?? "an unnamed byte"}; starting again");
                File.Delete(part);
                return await DownloadAsync(file, part, cancel);
            }
            if (have > 0 && !resuming) log?.Report($"{file.Url}: the server sent the whole file (it does not resume, or the file changed since); starting {part} again");
            if (!resuming)
            {
                // the version of what is about to be written, for a later resume (none when the server names none)
                string? named = Validator(response);
                if (named is null) File.Delete(validatorPath);
                else File.WriteAllText(validatorPath, named);
            }
            long start = resuming ? have : 0;
            long? expected = response.Content.Headers.ContentRange?.Length
                             ?? (response.Content.Headers.ContentLength is { } length ? start + length : file.Bytes);
            long received = start;
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancel);
                await using var output = new FileStream(part, resuming ? FileMode.Append : FileMode.Create, FileAccess.Write);
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await body.ReadAsync(buffer, cancel)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancel);
                    received += read;
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException || (e is TaskCanceledException && !cancel.IsCancellationRequested))
            {
                throw Truncated(file, part, received, expected, e is TaskCanceledException ? "the timeout ran out" : e.Message);
            }
            if (expected is { } total && received < total)
                throw Truncated(file, part, received, total, "the connection closed early");
            return resuming;
        }
    }

    // a strong ETag ("W/" ones may not be used with If-Range) or else Last-Modified, as text; null when the server sends neither
    private static string? Validator(HttpResponseMessage response)
    {
        if (response.Headers.ETag is { IsWeak: false } tag) return "etag " + tag.Tag;
        if (response.Content.Headers.LastModified is { } modified) return "date " + modified.ToString("R", CultureInfo.InvariantCulture);
        return null;
    }

    private static RangeConditionHeaderValue ParseValidator(string text) =>
        text.StartsWith("etag ", StringComparison.Ordinal)
            ? new RangeConditionHeaderValue(new EntityTagHeaderValue(text["etag ".Length..]))
            : new RangeConditionHeaderValue(DateTimeOffset.Parse(text["date ".Length..], CultureInfo.InvariantCulture));

    private static DatasetFetchException Truncated(DatasetFile file, string part, long received, long? expected, string why) =>
        new($"{file.Url}: truncated download ({why}): {received} of {(expected is { } e ? e.ToString() : "an unknown number of")} bytes; " +
            $"they are kept in {part}, and running the same command again resumes from there");

    public static bool IsHttp(string url) =>
        url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static string LocalPath(string url) =>
        url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(url).LocalPath : Path.GetFullPath(url);

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string MoveAside(string path, string? to = null)
    {
        string aside = to ?? path + ".bad";
        File.Move(path, aside, overwrite: true);
        return aside;
    }
}
