using System.Text.Json;

namespace IIP.Runtime.Scanning;

/// <summary>One image of a scan: the path as given (recorded in results), where to read it, and its caption if known.</summary>
public sealed record ScanItem(string Image, string FullPath, string? Caption);

/// <summary>
/// What `iip scan --images` accepts: a folder (every .png/.jpg/.jpeg/.bmp/.gif/.tga/.psd below it, sorted by
/// path), a list file (one image path per line; '#' comments; relative paths resolved from the list's folder),
/// or a JSONL manifest (one object per line with "image" and optional "caption", relative paths resolved from
/// the manifest's folder; the testbed's labels.jsonl is one).
/// </summary>
public static class ScanSource
{
    public static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd"];

    public static IReadOnlyList<ScanItem> Read(string source)
    {
        if (Directory.Exists(source))
            return Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
                .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal)
                .Select(f => new ScanItem(f, Path.GetFullPath(f), null))
                .ToList();
        if (!File.Exists(source))
            throw new FileNotFoundException($"{source}: no such folder, list or manifest");
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(source))!;
        bool manifest = source.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var items = new List<ScanItem>();
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(source))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string image;
            string? caption = null;
            if (manifest)
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    if (!doc.RootElement.TryGetProperty("image", out var img) || img.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"{source}:{lineNumber}: no \"image\" string field");
                    image = img.GetString()!;
                    if (doc.RootElement.TryGetProperty("caption", out var cap) && cap.ValueKind == JsonValueKind.String)
                        caption = cap.GetString();
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"{source}:{lineNumber}: not a JSON object ({e.Message})");
                }
            }
            else
            {
                image = line;
            }
            items.Add(new ScanItem(image, Path.GetFullPath(Path.Combine(baseDir, image)), caption));
        }
        var duplicate = items.GroupBy(i => i.Image).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"{source}: image '{duplicate.Key}' is listed {duplicate.Count()} times");
        return items;
    }
}
