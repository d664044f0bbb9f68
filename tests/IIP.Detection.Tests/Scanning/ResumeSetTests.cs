using System.Text;
using IIP.Detection.Methods;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

public sealed class ResumeSetTests
{
    private static ScanRecord Record(string image, string method, string? options, string? error = null) => new()
    {
        Image = image,
        Sha256 = "",
        Method = method,
        Score = error is null ? 1.0 : null,
        Error = error,
        Options = options,
    };

    [Fact]
    public void Done_keys_are_image_method_and_options_hash()
    {
        var set = ResumeSet.From([Record("a.png", "iip", "h1"), Record("b.png", "mtcnp", null)]);
        Assert.Equal(2, set.Count);
        Assert.True(set.IsDone("a.png", "iip", "h1"));
        Assert.False(set.IsDone("a.png", "iip", "h2"));     // other options: not done
        Assert.False(set.IsDone("a.png", "mtcnp", "h1"));   // other method: not done
        Assert.False(set.IsDone("./a.png", "iip", "h1"));   // paths compare as given
        Assert.True(set.IsDone("b.png", "mtcnp", null));
        set.Add(Record("c.png", "iip", "h1"));
        Assert.True(set.IsDone("c.png", "iip", "h1"));
    }

    [Fact]
    public void Failed_records_are_done_unless_errors_are_retried()
    {
        ScanRecord[] records = [Record("bad.png", "iip", "h", error: "corrupt image")];
        Assert.True(ResumeSet.From(records).IsDone("bad.png", "iip", "h"));
        Assert.False(ResumeSet.From(records, retryErrors: true).IsDone("bad.png", "iip", "h"));
    }

    [Fact]
    public void Load_reads_a_results_file_and_is_empty_when_there_is_none()
    {
        string dir = TestPaths.NewTempDir("resume");
        string path = Path.Combine(dir, "r.jsonl");
        Assert.Equal(0, ResumeSet.Load(path).Count);
        using (var writer = ResultsWriter.Open(path))
            writer.Append(Record("a.png", "iip", "h"));
        Assert.True(ResumeSet.Load(path).IsDone("a.png", "iip", "h"));
    }

    [Fact]
    public void Options_hash_ignores_order_and_changes_with_any_value()
    {
        string a = OptionsKeys.Hash([new("steps", "20"), new("guidance", "7.5")]);
        string b = OptionsKeys.Hash([new("guidance", "7.5"), new("steps", "20")]);
        string c = OptionsKeys.Hash([new("guidance", "7.5"), new("steps", "21")]);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(16, a.Length);
        Assert.Throws<ArgumentException>(() => OptionsKeys.Hash([new("a=b", "1")]));
    }

    [Fact]
    public void File_hash_is_the_sha256_of_the_bytes()
    {
        string path = Path.Combine(TestPaths.NewTempDir("hash"), "abc.bin");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("abc"));
        // FIPS 180-2 appendix B.1 test vector: SHA-256("abc").
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ScanHashes.Sha256OfFile(path));
    }
}
