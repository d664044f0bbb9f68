using System.Text.Json;

namespace IIP.Detection.Scanning;

/// <summary>
/// One image of a scan: the path as given (recorded in results), where to read it, its caption if known, and,
/// when its extension names a format the decoder cannot read (WebP, TIFF, HEIF, AVIF, JPEG XL, JPEG 2000), why:
/// such an image is listed, not dropped, so that the scan records an error for it instead of losing it silently.
/// </summary>
public sealed record ScanItem(string Image, string FullPath, string? Caption, string? Unsupported = null);

/// <summary>The images of a scan source, and what the folder walk had to say (symbolic link loops, unreadable folders).</summary>
public sealed record ScanListing(IReadOnlyList<ScanItem> Items, IReadOnlyList<string> Warnings);

/// <summary>
/// What `iip scan --images` accepts: a folder (every .png/.jpg/.jpeg/.bmp/.gif/.tga/.psd below it, and every
/// .webp/.tif/.tiff/.heic/.heif/.avif/.jxl/.jp2 marked <see cref="ScanItem.Unsupported"/>, sorted by path; see
/// <see cref="FolderWalk"/> for symbolic links), a list file (one image path per line; '#' comments; relative
/// paths resolved from the list's folder), or a JSON manifest. A manifest is a .jsonl/.json file holding either
/// one object per line (JSONL; the testbed's labels.jsonl is one) or, when its first character is '[', one JSON
/// array of such objects (what a .json export usually is). Each object has a non-empty "image" string and an
/// optional "caption" string; relative paths are resolved from the manifest's folder. Every malformed line or
/// element is an <see cref="InvalidDataException"/> naming the file and line ("labels.jsonl:3: not a JSON object").
/// Also WebDataset shards (<see cref="WebDatasetShard"/>: a .tar, a brace pattern shard-{00000..00127}.tar, or a folder
/// holding .tar files) and Parquet tables (<see cref="ParquetTable"/>).
/// </summary>
public static class ScanSource
{
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd"];

    /// <summary>Image extensions the decoder cannot read, with the format's name for the error.</summary>
    public static readonly IReadOnlyDictionary<string, string> UnsupportedExtensions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".webp"] = "WebP",
        [".tif"] = "TIFF",
        [".tiff"] = "TIFF",
        [".heic"] = "HEIF",
        [".heif"] = "HEIF",
        [".avif"] = "AVIF",
        [".jxl"] = "JPEG XL",
        [".jp2"] = "JPEG 2000",
    };

    /// <summary>Whether a file name is an image's by its extension: one the decoder reads, or one it names as unsupported.</summary>
    public static bool IsImageName(string name)
    {
        string extension = Path.GetExtension(name).ToLowerInvariant();
        return ImageExtensions.Contains(extension) || UnsupportedExtensions.ContainsKey(extension);
    }

    /// <summary>The items of <paramref name="source"/> (unsupported formats included, marked); walk warnings are dropped: see <see cref="Walk"/>.</summary>
    public static IReadOnlyList<ScanItem> Read(string source) => Walk(source).Items;

    /// <summary>The items of <paramref name="source"/> and the folder walk's warnings, for the caller to print.</summary>
    public static ScanListing Walk(string source)
    {
        if (BracePattern(source) is { } shards)
            return Concatenated(shards.Select(s => File.Exists(s) ? WebDatasetShard.List(s) : throw new FileNotFoundException($"{s} (from {source}): no such shard")));
        if (Directory.Exists(source))
        {
            var tars = Directory.GetFiles(source, "*.tar").Order(StringComparer.Ordinal).ToList();   // a folder of WebDataset shards
            if (tars.Count == 0) return FolderWalk.Run(source);
            var listing = Concatenated(tars.Select(WebDatasetShard.List));
            int loose = Directory.EnumerateFiles(source).Count(IsImageName);
            return loose == 0 ? listing : listing with
            {
                Warnings = [.. listing.Warnings, $"{source} holds {tars.Count} WebDataset shards (.tar) and {loose} image files beside them: the shards' " +
                                                 "samples are scanned, the image files are not (give them in a list or manifest to scan them)"],
            };
        }
        if (source.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) && File.Exists(source))
            return WebDatasetShard.List(source);
        if (source.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) && File.Exists(source))
            return ParquetTable.List(source);
        if (!File.Exists(source))
            throw new FileNotFoundException($"{source}: no such folder, list or manifest");
        bool manifest = source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        string text = File.ReadAllText(source);
        var entries = !manifest ? ListLines(text)
            : text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n').StartsWith('[') ? ManifestArray(source, text) : ManifestLines(source, text);

        string baseDir = Path.GetDirectoryName(Path.GetFullPath(source))!;
        var items = new List<ScanItem>();
        foreach (var (line, image, caption) in entries)
        {
            if (image.Contains('\0'))
                throw new InvalidDataException($"{source}:{line}: the image path holds a NUL character");
            string fullPath = Path.GetFullPath(Path.Combine(baseDir, image));
            items.Add(new ScanItem(image, fullPath, caption, UnsupportedReason(image)));
        }
        var duplicate = items.GroupBy(i => i.Image).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"{source}: image '{duplicate.Key}' is listed {duplicate.Count()} times");
        return new ScanListing(items, []);
    }

    // the listings of several shards as one
    private static ScanListing Concatenated(IEnumerable<ScanListing> listings)
    {
        var all = listings.ToList();
        return new ScanListing(all.SelectMany(l => l.Items).ToList(), all.SelectMany(l => l.Warnings).ToList());
    }

    /// <summary>
    /// The files of a brace pattern such as shard-{00000..00127}.tar (one numeric range, zero-padded to the width of its
    /// first bound, as WebDataset writes them), or null when <paramref name="source"/> has none.
    /// </summary>
    public static IReadOnlyList<string>? BracePattern(string source)
    {
        int open = source.IndexOf('{'), close = source.IndexOf('}');
        if (open < 0 || close < open) return null;
        string[] bounds = source[(open + 1)..close].Split("..");
        if (bounds.Length != 2 || !long.TryParse(bounds[0], out long first) || !long.TryParse(bounds[1], out long last) || last < first)
            throw new ArgumentException($"{source}: a brace pattern must be {{FIRST..LAST}} with FIRST <= LAST, e.g. shard-{{00000..00127}}.tar");
        int width = bounds[0].Length;
        return Enumerable.Range(0, (int)(last - first + 1))
            .Select(i => source[..open] + (first + i).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width, '0') + source[(close + 1)..]).ToList();
    }

    /// <summary>Why the decoder cannot read <paramref name="path"/>, judged by its extension, or null when it can (or might).</summary>
    public static string? UnsupportedReason(string path) =>
        UnsupportedExtensions.TryGetValue(Path.GetExtension(path).ToLowerInvariant(), out var format)
            ? $"unsupported image format {format}: convert to PNG or JPEG"
            : null;

    private static List<(int Line, string Image, string? Caption)> ListLines(string text)
    {
        var entries = new List<(int, string, string?)>();
        var lines = Lines(text);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length > 0 && !line.StartsWith('#'))
                entries.Add((i + 1, line, null));
        }
        return entries;
    }

    private static List<(int Line, string Image, string? Caption)> ManifestLines(string source, string text)
    {
        var entries = new List<(int, string, string?)>();
        var lines = Lines(text);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{source}:{i + 1}: not valid JSON ({e.Message})");
            }
            using (document)
                entries.Add(ManifestEntry(source, i + 1, document.RootElement));
        }
        return entries;
    }

    /// <summary>A whole-file JSON array of objects; each element's line is where its '{' stands.</summary>
    private static List<(int Line, string Image, string? Caption)> ManifestArray(string source, string text)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text.TrimStart('\uFEFF'));
        var entries = new List<(int, string, string?)>();
        var reader = new Utf8JsonReader(utf8);
        try
        {
            reader.Read();                                    // the '[' (the caller saw it)
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int line = LineOf(utf8, reader.TokenStartIndex);
                using var element = JsonDocument.ParseValue(ref reader);
                entries.Add(ManifestEntry(source, line, element.RootElement));
            }
            if (reader.TokenType != JsonTokenType.EndArray)
                throw new InvalidDataException($"{source}:{LineOf(utf8, utf8.Length)}: the JSON array is not closed");
            if (reader.Read())
                throw new InvalidDataException($"{source}:{LineOf(utf8, reader.TokenStartIndex)}: text after the JSON array");
        }
        catch (JsonException e)
        {
            int line = e.LineNumber is long zeroBased ? (int)zeroBased + 1 : LineOf(utf8, reader.TokenStartIndex);
            throw new InvalidDataException($"{source}:{line}: not valid JSON ({e.Message})");
        }
        return entries;
    }

    private static (int Line, string Image, string? Caption) ManifestEntry(string source, int line, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            string kind = root.ValueKind switch
            {
                JsonValueKind.Array => "an array",
                JsonValueKind.String => "a string",
                JsonValueKind.Number => "a number",
                JsonValueKind.True or JsonValueKind.False => "a boolean",
                _ => "null",
            };
            throw new InvalidDataException($"{source}:{line}: not a JSON object but {kind}; each entry is an object with an \"image\" field");
        }
        try
        {
            if (!root.TryGetProperty("image", out var img) || img.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{source}:{line}: no \"image\" string field");
            string image = img.GetString()!;
            if (image.Trim().Length == 0)
                throw new InvalidDataException($"{source}:{line}: the \"image\" field is empty");
            string? caption = root.TryGetProperty("caption", out var cap) && cap.ValueKind == JsonValueKind.String ? cap.GetString() : null;
            return (line, image, caption);
        }
        catch (InvalidOperationException e)
        {
            // A \u escape that is half a surrogate pair: System.Text.Json parses it and throws when the string is read.
            throw new InvalidDataException($"{source}:{line}: a string holds an invalid \\u escape ({e.Message})");
        }
    }

    /// <summary>Lines as File.ReadLines splits them (CR, LF or CRLF), without a leading byte order mark.</summary>
    private static string[] Lines(string text) => text.TrimStart('\uFEFF').Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');

    private static int LineOf(byte[] utf8, long offset)
    {
        int line = 1;
        for (long i = 0; i < Math.Min(offset, utf8.Length); i++)
            if (utf8[i] == (byte)'\n') line++;
        return line;
    }
}

/// <summary>
/// The folder walk of <see cref="ScanSource"/>: every image file below the root, in ordinal order of path. Symbolic
/// links to folders are followed, also out of the tree, but no folder is walked twice: folders are known by their
/// real path (every link resolved, as realpath(3) does), so a link back to the folder it is in or to an ancestor (a
/// loop), or a second path to a folder already walked, is reported in the warnings and not walked again. The real
/// folders of the tree are walked before any link is followed, so a link into the tree never takes a folder's files
/// away from their own paths. A file reached twice (a link to a file that is also in the tree, a folder reached by
/// two paths) is listed once: under a path without links if it has one, else under the first path in ordinal order.
/// </summary>
internal static class FolderWalk
{
    /// <summary>Links followed while resolving one path before giving up, as Linux's MAXSYMLINKS.</summary>
    private const int MaxLinks = 40;

    public static ScanListing Run(string root)
    {
        var warnings = new List<string>();
        var walked = new Dictionary<string, string>(StringComparer.Ordinal);               // real path -> the path it was walked as
        var files = new Dictionary<string, List<(string Path, bool ViaLink)>>(StringComparer.Ordinal);
        var realFolders = new Queue<(string Path, string Real)>();
        var linkedFolders = new Queue<(string Path, string ParentReal)>();                 // claimed when walked, after every real folder

        string rootReal = RealPath(root);
        walked[rootReal] = root;
        realFolders.Enqueue((root, rootReal));
        while (realFolders.Count > 0 || linkedFolders.Count > 0)
        {
            string folder, folderReal;
            bool viaLink = realFolders.Count == 0;
            if (!viaLink)
                (folder, folderReal) = realFolders.Dequeue();
            else
            {
                var (link, parentReal) = linkedFolders.Dequeue();
                if (!TryRealPath(link, out folderReal, out string? problem))
                {
                    warnings.Add($"{link}: {problem}; not walked");
                    continue;
                }
                if (walked.TryGetValue(folderReal, out var first))
                {
                    warnings.Add(IsAncestorOrSelf(folderReal, parentReal)
                        ? $"{link}: symbolic link loop: it leads back to {first}, which is not walked again"
                        : $"{link}: leads to {folderReal}, already walked as {first}; not walked again");
                    continue;
                }
                walked[folderReal] = link;
                folder = link;
            }

            string[] entries;
            try
            {
                entries = Directory.GetFileSystemEntries(folder);
            }
            catch (Exception e) when (folder != root && e is IOException or UnauthorizedAccessException)
            {
                warnings.Add($"{folder}: cannot read the folder ({e.Message}); skipped");
                continue;
            }
            Array.Sort(entries, StringComparer.Ordinal);
            foreach (var entry in entries)
            {
                bool isLink = IsLink(entry);
                if (Directory.Exists(entry))
                {
                    if (isLink || viaLink)
                        linkedFolders.Enqueue((entry, folderReal));
                    else
                    {
                        string real = Path.Join(folderReal, Path.GetFileName(entry));   // a real folder below a real folder
                        if (walked.TryAdd(real, entry))
                            realFolders.Enqueue((entry, real));
                    }
                    continue;
                }
                if (!ScanSource.IsImageName(entry))
                    continue;
                // A broken link stays listed (the scan records that the file is missing); a link loop has no real path.
                string fileReal = Path.Join(folderReal, Path.GetFileName(entry));
                if (isLink && !TryRealPath(entry, out fileReal, out string? linkProblem))
                {
                    warnings.Add($"{entry}: {linkProblem}; listed as it is (reading it will fail)");
                    fileReal = Path.GetFullPath(entry);
                }
                if (!files.TryGetValue(fileReal, out var paths))
                    files[fileReal] = paths = [];
                paths.Add((entry, viaLink || isLink));
            }
        }

        var items = files.Values
            .Select(paths => paths.OrderBy(p => p.ViaLink).ThenBy(p => p.Path, StringComparer.Ordinal).First().Path)
            .Order(StringComparer.Ordinal)
            .Select(f => new ScanItem(f, Path.GetFullPath(f), null, ScanSource.UnsupportedReason(f)))
            .ToList();
        return new ScanListing(items, warnings);
    }

    private static bool IsLink(string path) => LinkTarget(path) is not null;

    /// <summary>What the link at <paramref name="path"/> holds, or null when it is no link (or cannot be read: missing, no permission).</summary>
    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool TryRealPath(string path, out string real, out string? problem)
    {
        try
        {
            real = RealPath(path);
            problem = null;
            return true;
        }
        catch (IOException e)
        {
            real = "";
            problem = e.Message;
            return false;
        }
    }

    private static bool IsAncestorOrSelf(string ancestor, string path) =>
        path == ancestor || path.StartsWith(ancestor.EndsWith(Path.DirectorySeparatorChar) ? ancestor : ancestor + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>
    /// The absolute path of <paramref name="path"/> with every symbolic link resolved, component by component, and
    /// '.' and '..' applied to the resolved folders (realpath(3) semantics; components that do not exist are kept as
    /// written). Throws <see cref="IOException"/> past <see cref="MaxLinks"/> links (a link loop).
    /// </summary>
    internal static string RealPath(string path)
    {
        int links = 0;
        return Resolve(Path.IsPathRooted(path) ? path : Path.Join(Directory.GetCurrentDirectory(), path), ref links);

        static string Resolve(string absolute, ref int links)
        {
            string root = Path.GetPathRoot(absolute)!;
            string current = root;
            foreach (var part in absolute[root.Length..].Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == ".")
                    continue;
                if (part == "..")
                {
                    current = Path.GetDirectoryName(current) ?? root;
                    continue;
                }
                string next = Path.Join(current, part);
                string? target = LinkTarget(next);
                if (target is null)
                {
                    current = next;
                    continue;
                }
                if (++links > MaxLinks)
                    throw new IOException($"too many levels of symbolic links (more than {MaxLinks}) resolving {absolute}");
                current = Resolve(Path.IsPathRooted(target) ? target : Path.Join(current, target), ref links);
            }
            return current;
        }
    }
}
