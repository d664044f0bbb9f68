using System.Collections.Concurrent;
using System.Formats.Tar;
using System.Text.Json;

namespace IIP.Detection.Scanning;

/// <summary>
/// WebDataset shards (img2dataset's output: `.tar` files of `{key}.jpg` + `{key}.txt` / `{key}.json` members) read in
/// place, never extracted. A sample is the members sharing a key (the member name up to the first dot of its file
/// name); its image is the member with an image extension, its caption the `.txt` text or the `.json` "caption" (or
/// "text") field. Each sample becomes a <see cref="ScanItem"/> whose identifier is `shard.tar#key` and whose path is
/// `/abs/shard.tar#member` (<see cref="IsMemberPath"/>): <see cref="ScanContent"/> reads its bytes by the offset the
/// listing found (System.Formats.Tar, read forward once), so hashing and decoding never scan the archive again.
/// Samples without an image are left out and counted; a damaged archive ends its listing at the damage, with a warning.
/// </summary>
public static class WebDatasetShard
{
    private const string MemberSeparator = ".tar#";

    // member bytes by archive: (offset of the data in the file, length), filled by List
    private static readonly ConcurrentDictionary<string, IReadOnlyDictionary<string, (long Offset, long Length)>> Index = new(StringComparer.Ordinal);

    /// <summary>Whether a scan path names a member of a shard (`/abs/shard.tar#member`).</summary>
    public static bool IsMemberPath(string path) => path.Contains(MemberSeparator, StringComparison.OrdinalIgnoreCase);

    /// <summary>The samples of one shard, in archive order, and the listing's warnings.</summary>
    public static ScanListing List(string tarPath)
    {
        string full = Path.GetFullPath(tarPath);
        string shardName = Path.GetFileName(full);
        var members = new Dictionary<string, (long Offset, long Length)>(StringComparer.Ordinal);
        var samples = new List<(string Key, List<string> Names)>();
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var warnings = new List<string>();
        using (var file = File.OpenRead(full))
        {
            // read forward only, so that after each header the bytes read so far are where its data starts (over a seekable
            // stream the reader skips ahead of the data)
            var stream = new ForwardCount(file);
            try
            {
                using var reader = new TarReader(stream, leaveOpen: true);
                while (reader.GetNextEntry() is { } entry)
                {
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                    members[entry.Name] = (stream.BytesRead, entry.Length);
                    string key = Key(entry.Name);
                    if (!byKey.TryGetValue(key, out var names))
                    {
                        byKey[key] = names = [];
                        samples.Add((key, names));
                    }
                    names.Add(entry.Name);
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                warnings.Add($"{full}: the archive is damaged after {members.Count} members ({e.Message}); the samples before it are scanned");
            }
            // a shard cut short (a copy or download interrupted) ends inside its last member: that member is left out
            foreach (var (name, place) in members.Where(m => m.Value.Offset + m.Value.Length > file.Length).ToList())
            {
                members.Remove(name);
                byKey[Key(name)].Remove(name);
                warnings.Add($"{full}#{name}: the archive ends inside this member ({Math.Max(0, file.Length - place.Offset)} of its {place.Length} bytes); left out");
            }
        }
        Index[full] = members;

        var items = new List<ScanItem>();
        int withoutImage = 0;
        foreach (var (key, names) in samples)
        {
            var images = names.Where(ScanSource.IsImageName).ToList();
            if (images.Count == 0)
            {
                withoutImage++;
                continue;
            }
            if (images.Count > 1) warnings.Add($"{full}: sample '{key}' has {images.Count} images ({string.Join(", ", images)}); the first is scanned");
            string? caption = Caption(full, names, warnings);
            items.Add(new ScanItem($"{shardName}#{key}", $"{full}#{images[0]}", caption, ScanSource.UnsupportedReason(images[0])));
        }
        if (withoutImage > 0) warnings.Add($"{full}: {withoutImage} samples have no image member and are left out");
        return new ScanListing(items, warnings);
    }

    /// <summary>The bytes of the member a <see cref="IsMemberPath"/> path names.</summary>
    public static byte[] ReadMember(string memberPath)
    {
        int at = memberPath.IndexOf(MemberSeparator, StringComparison.OrdinalIgnoreCase);
        string archive = memberPath[..(at + 4)], member = memberPath[(at + MemberSeparator.Length)..];
        var index = Index.GetOrAdd(archive, a => { List(a); return Index[a]; });
        if (!index.TryGetValue(member, out var place))
            throw new FileNotFoundException($"{archive}: no member '{member}'");
        using var stream = File.OpenRead(archive);
        stream.Position = place.Offset;
        var bytes = new byte[place.Length];
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException)
        {
            throw new IOException($"{archive}#{member}: the archive ends before the member's {place.Length} bytes (it was cut short since it was listed)");
        }
        return bytes;
    }

    // a forward-only view of a file that counts the bytes read through it
    private sealed class ForwardCount(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            BytesRead += read;
            return read;
        }
    }

    // the sample key of a member: its name up to the first dot of the file name (WebDataset's convention)
    private static string Key(string name)
    {
        int slash = name.LastIndexOf('/');
        int dot = name.IndexOf('.', slash + 1);
        return dot < 0 ? name : name[..dot];
    }

    // the sample's caption: the .txt member, else the .json member's "caption" or "text"
    private static string? Caption(string archive, List<string> names, List<string> warnings)
    {
        try
        {
            if (names.FirstOrDefault(n => n.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) is { } txt)
                return System.Text.Encoding.UTF8.GetString(ReadMember($"{archive}#{txt}")).Trim();
            if (names.FirstOrDefault(n => n.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) is not { } json) return null;
            try
            {
                using var doc = JsonDocument.Parse(ReadMember($"{archive}#{json}"));
                foreach (string field in new[] { "caption", "text" })
                    if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String)
                        return value.GetString();
            }
            catch (JsonException e)
            {
                warnings.Add($"{archive}#{json}: not JSON ({e.Message}); the sample has no caption");
            }
        }
        catch (IOException e)
        {
            warnings.Add($"{e.Message}; the sample has no caption");
        }
        return null;
    }
}
