using System.Globalization;
using System.Text;
using IIP.Detection.Files;

namespace IIP.Detection.Scanning;

/// <summary>
/// Flat CSV export of scan records for pandas and spreadsheets (RFC 4180: comma separated, CRLF line ends,
/// a field quoted when it holds a comma, quote, CR or LF, quotes doubled inside). Columns:
/// image, sha256, method, score, one column per component name (union over all records, first-seen order),
/// seconds, error, seed, options, path, model. Per-step TCNP is not exported (variable length; it stays in the JSONL).
/// Empty field = missing; numbers use the invariant culture, round-trip precision, NaN/Infinity/-Infinity spelled out.
/// A component whose name equals a fixed column is written as "component_&lt;name&gt;".
/// pandas.read_csv reads it as is; pass float_precision="round_trip" to get the doubles back bit-exactly
/// (checked with pandas 1.5.3: its default parser can be one ulp off, e.g. 0.30000000000000004 -> 0.3).
/// </summary>
public static class ResultsCsv
{
    private static readonly string[] LeadingColumns = ["image", "sha256", "method", "score"];
    private static readonly string[] TrailingColumns = ["seconds", "error", "seed", "options", "path", "model", "device"];

    /// <summary>
    /// The last record of each (image, method, options) in file order: what a results file says now, after reruns that
    /// appended a new record for an image (<c>scan --retry-errors</c>, an image replaced in place), as <c>iip eval</c> reads
    /// it. An image is known by its absolute path where the record has one (<see cref="ScanRecord.Path"/>).
    /// </summary>
    public static List<ScanRecord> Latest(IReadOnlyList<ScanRecord> records)
    {
        var last = new Dictionary<(string, string, string), int>();
        for (int i = 0; i < records.Count; i++)
            last[(records[i].Path ?? records[i].Image, records[i].Method, records[i].Options ?? "")] = i;
        return records.Where((r, i) => last[(r.Path ?? r.Image, r.Method, r.Options ?? "")] == i).ToList();
    }

    /// <summary>
    /// Writes the CSV to a temporary file beside <paramref name="path"/> and renames it over the old one: a full disk or a
    /// crash leaves the previous CSV whole (and removes the temporary file where it can).
    /// </summary>
    public static void Write(IEnumerable<ScanRecord> records, string path)
    {
        AtomicFile.Write(path, temporary =>
        {
            using var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            Write(records, writer);
        });
    }

    /// <summary>The header line every CSV this class writes starts with ("image,sha256,method,score").</summary>
    public static string HeaderStart => string.Join(',', LeadingColumns);

    public static void Write(IEnumerable<ScanRecord> records, TextWriter writer)
    {
        var list = records as IReadOnlyList<ScanRecord> ?? records.ToList();
        var componentNames = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var record in list)
            foreach (var name in record.Components.Keys)
                if (seen.Add(name))
                    componentNames.Add(name);

        var fixedColumns = new HashSet<string>(LeadingColumns.Concat(TrailingColumns), StringComparer.Ordinal);
        var header = LeadingColumns
            .Concat(componentNames.Select(n => fixedColumns.Contains(n) ? "component_" + n : n))
            .Concat(TrailingColumns);
        WriteRow(writer, header);

        foreach (var r in list)
        {
            var fields = new List<string> { r.Image, r.Sha256, r.Method, Number(r.Score) };
            foreach (var name in componentNames)
                fields.Add(r.Components.TryGetValue(name, out double value) ? Number(value) : "");
            fields.Add(Number(r.Seconds));
            fields.Add(r.Error ?? "");
            fields.Add(r.Seed?.ToString(CultureInfo.InvariantCulture) ?? "");
            fields.Add(r.Options ?? "");
            fields.Add(r.Path ?? "");
            fields.Add(r.Model ?? "");
            fields.Add(r.Device ?? "");
            WriteRow(writer, fields);
        }
    }

    /// <summary>RFC 4180 quoting of one field.</summary>
    public static string Quote(string field)
    {
        if (field.AsSpan().IndexOfAny(",\"\r\n") < 0)
            return field;
        return "\"" + field.Replace("\"", "\"\"") + "\"";
    }

    private static void WriteRow(TextWriter writer, IEnumerable<string> fields)
    {
        writer.Write(string.Join(',', fields.Select(Quote)));
        writer.Write("\r\n");
    }

    private static string Number(double? value) => value switch
    {
        null => "",
        double v when double.IsNaN(v) => "NaN",
        double v when double.IsPositiveInfinity(v) => "Infinity",
        double v when double.IsNegativeInfinity(v) => "-Infinity",
        double v => v.ToString("R", CultureInfo.InvariantCulture),
    };
}
