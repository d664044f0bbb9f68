using IIP.Detection.Evaluation;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

public sealed class ResultsCsvTests
{
    [Fact]
    public void Columns_are_flat_with_one_per_component_and_fields_quoted_per_rfc_4180()
    {
        ScanRecord[] records =
        [
            new()
            {
                Image = "dir/a,b \"c\".png", Sha256 = "ff", Method = "iip", Score = 0.25,
                Components = new Dictionary<string, double> { ["mtcnp"] = 2.5, ["similarity"] = 0.75 },
                Seconds = 1.5, Seed = 3, Options = "h1",
            },
            new()
            {
                Image = "ü/日本.png", Sha256 = "ee", Method = "secmi", Score = null,
                Components = new Dictionary<string, double> { ["loss"] = -1e-20, ["score"] = double.NaN },
                Seconds = 0.125, Error = "bad\nimage",
            },
        ];
        var text = new StringWriter();
        ResultsCsv.Write(records, text);
        string csv = text.ToString();

        string[] expectedLines =
        [
            "image,sha256,method,score,mtcnp,similarity,loss,component_score,seconds,error,seed,options,path,model,device",
            "\"dir/a,b \"\"c\"\".png\",ff,iip,0.25,2.5,0.75,,,1.5,,3,h1,,,",
            "ü/日本.png,ee,secmi,,,,-1E-20,NaN,0.125,\"bad\nimage\",,,,,",
        ];
        Assert.Equal(string.Join("\r\n", expectedLines) + "\r\n", csv);

        // And it parses back to the same fields (the quoting reverses).
        var rows = CsvRows.Parse(csv, "test.csv");
        Assert.Equal(3, rows.Count);
        Assert.Equal("dir/a,b \"c\".png", rows[1].Fields[0]);
        Assert.Equal("bad\nimage", rows[2].Fields[9]);
        Assert.All(rows, r => Assert.Equal(15, r.Fields.Count));
    }

    [Fact]
    public void Writes_a_utf8_file_without_a_byte_order_mark()
    {
        string path = Path.Combine(TestPaths.NewTempDir("csv"), "r.csv");
        ResultsCsv.Write([new ScanRecord { Image = "é.png", Sha256 = "", Method = "m", Score = 1 }], path);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal((byte)'i', bytes[0]);
        Assert.Contains("é.png", File.ReadAllText(path));
    }

    [Fact]
    public void Latest_keeps_the_last_record_of_each_image_method_and_options_in_file_order()
    {
        ScanRecord R(string image, string method, string? options, string? error) =>
            new() { Image = image, Sha256 = "", Method = method, Options = options, Error = error, Score = error is null ? 1 : null };
        ScanRecord[] records =
        [
            R("a.png", "iip", "o1", "corrupt"),   // replaced by the retry at the end
            R("b.png", "iip", "o1", null),
            R("a.png", "pia", "o1", null),        // another method: kept
            R("b.png", "iip", "o2", null),        // other options: kept
            R("a.png", "iip", "o1", null),        // the retry
        ];
        var latest = ResultsCsv.Latest(records);
        Assert.Equal([records[1], records[2], records[3], records[4]], latest);
    }
}
