using Parquet;
using Parquet.Schema;

namespace IIP.Detection.Scanning;

/// <summary>
/// A Parquet table as scan input (Parquet.Net): one row per image, with either a column of image paths (`image` or
/// `path`; relative to the table's folder) or img2dataset's `key` column naming samples of the WebDataset shard beside the
/// table (`00000.parquet` with `00000.tar`); captions from `caption` (or `text`) where the table has one. Rows whose
/// image is missing or empty are left out and counted; img2dataset's rows with a `status` other than "success" too.
/// </summary>
public static class ParquetTable
{
    private static readonly string[] PathColumns = ["image", "path"], CaptionColumns = ["caption", "text"];

    public static ScanListing List(string parquetPath)
    {
        string full = Path.GetFullPath(parquetPath);
        var columns = ReadStringColumns(full);
        string? pathColumn = PathColumns.FirstOrDefault(columns.ContainsKey);
        string? captionColumn = CaptionColumns.FirstOrDefault(columns.ContainsKey);
        var captions = captionColumn is null ? null : columns[captionColumn];
        var status = columns.GetValueOrDefault("status");
        var warnings = new List<string>();
        var items = new List<ScanItem>();
        int skipped = 0;
        // a row names an image when its value is there and img2dataset (where it says) downloaded it
        bool Usable(string?[] values, int row) => !string.IsNullOrWhiteSpace(values[row]) && (status is null || status[row] == "success");
        if (pathColumn is not null)
        {
            string folder = Path.GetDirectoryName(full)!;
            var paths = columns[pathColumn];
            for (int row = 0; row < paths.Length; row++)
            {
                if (!Usable(paths, row)) { skipped++; continue; }
                string image = paths[row]!;
                items.Add(new ScanItem(image, Path.GetFullPath(Path.Combine(folder, image)), captions?[row], ScanSource.UnsupportedReason(image)));
            }
        }
        else if (columns.TryGetValue("key", out var keys))
        {
            string shard = Path.ChangeExtension(full, ".tar");
            if (!File.Exists(shard))
                throw new InvalidDataException($"{full}: a `key` column names samples of a WebDataset shard, but {shard} is not there");
            var samples = WebDatasetShard.List(shard);
            warnings.AddRange(samples.Warnings);
            var byKey = samples.Items.ToDictionary(i => i.Image[(i.Image.IndexOf('#') + 1)..]);
            for (int row = 0; row < keys.Length; row++)
            {
                if (!Usable(keys, row)) { skipped++; continue; }
                if (!byKey.TryGetValue(keys[row]!, out var sample))
                {
                    warnings.Add($"{full}: row {row + 1}: key '{keys[row]}' has no image in {shard}");
                    continue;
                }
                items.Add(captions?[row] is { } caption ? sample with { Caption = caption } : sample);
            }
        }
        else
            throw new InvalidDataException($"{full}: no image column: expected one of {string.Join(", ", PathColumns)} (paths) or key (samples of the shard beside it); " +
                                           $"the table has {string.Join(", ", columns.Keys)}");
        if (skipped > 0) warnings.Add($"{full}: {skipped} rows without an image (or not downloaded) are left out");
        return new ScanListing(items, warnings);
    }

    /// <summary>The table's string columns by name, all row groups in order (also the dataset recipes' reader).</summary>
    public static Dictionary<string, string?[]> ReadStringColumns(string path)
    {
        try
        {
            return ReadAsync(path).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet table ({e.Message})", e);
        }
    }

    private static async Task<Dictionary<string, string?[]>> ReadAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        var fields = reader.Schema.GetDataFields().Where(f => f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>)).ToList();   // text columns (Parquet.Net 6 reports UTF-8 as ReadOnlyMemory<char>)
        var columns = fields.ToDictionary(f => f.Name, _ => new List<string?>());
        for (int group = 0; group < reader.RowGroupCount; group++)
        {
            using var rowGroup = reader.OpenRowGroupReader(group);
            foreach (DataField field in fields)
            {
                var values = new string?[rowGroup.RowCount];
                await rowGroup.ReadAsync(field, values.AsMemory(), null);
                columns[field.Name].AddRange(values);
            }
        }
        return columns.ToDictionary(c => c.Key, c => c.Value.ToArray());
    }
}
