using System.Text.Json;
using IIP.Engine.Text;

namespace IIP.Engine.Tests.Text;

public sealed class ClipTokenizerTests
{
    private const int Bos = 49406;
    private const int Eos = 49407;

    private static readonly Lazy<ClipTokenizer> Shared = new(() => ClipTokenizer.FromDirectory(TokenizerDir));

    private static string TokenizerDir => Path.Combine(TestPaths.TinySdDiffusers, "tokenizer");

    private static ClipTokenizer Tokenizer => Shared.Value;

    /// <summary>The `tokenizer` cases of golden.json: text and the 77 ids the reference CLIP tokenizer gives.</summary>
    public static TheoryData<string, int[]> GoldenCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.GoldenJson));
        var data = new TheoryData<string, int[]>();
        foreach (JsonElement c in doc.RootElement.GetProperty("tokenizer").EnumerateArray())
            data.Add(c.GetProperty("text").GetString()!, c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        return data;
    }

    [Fact]
    public void GoldenFileHasTheExpectedCases()
    {
        // Guards the theory below against an empty or truncated golden list silently passing.
        Assert.True(GoldenCases().Count >= 9, $"golden.json has {GoldenCases().Count} tokenizer cases");
    }

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void EncodeMatchesGolden(string text, int[] expected)
    {
        int[] actual = Tokenizer.Encode(text);
        AssertIds(text, expected, actual);
    }

    /// <summary>
    /// 300 random mixed texts (contractions, digits, punctuation runs, CJK, Cyrillic, emoji, URLs, special
    /// tokens after punctuation) with ids from clip_bpe_reference.py, an independent plain-Python CLIP BPE.
    /// </summary>
    [Fact]
    public void EncodeMatchesIndependentReferenceOnRandomTexts()
    {
        string path = Path.Combine(TestPaths.RepoRoot, "tests", "IIP.Engine.Tests", "Text", "clip-bpe-cases.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var failures = new List<string>();
        int count = 0;
        foreach (JsonElement c in doc.RootElement.EnumerateArray())
        {
            count++;
            string text = c.GetProperty("text").GetString()!;
            int[] expected = c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] actual = Tokenizer.EncodeUnpadded(text).ToArray();
            if (!expected.SequenceEqual(actual))
                failures.Add($"\"{text}\"\n  expected {string.Join(' ', expected)}\n  actual   {string.Join(' ', actual)}");
        }
        Assert.Equal(300, count);
        Assert.True(failures.Count == 0, $"{failures.Count} of {count} texts differ; first ones:\n{string.Join('\n', failures.Take(3))}");
    }

    [Fact]
    public void EncodeBatchKeepsOrder()
    {
        var cases = GoldenCases().Select(row => ((string)row[0], (int[])row[1])).ToArray();
        IReadOnlyList<int[]> batch = Tokenizer.EncodeBatch(cases.Select(c => c.Item1));
        Assert.Equal(cases.Length, batch.Count);
        for (int i = 0; i < cases.Length; i++)
            AssertIds(cases[i].Item1, cases[i].Item2, batch[i]);
    }

    [Fact]
    public void SpecialIdsComeFromTheVocabulary()
    {
        Assert.Equal(Bos, Tokenizer.StartOfTextId);
        Assert.Equal(Eos, Tokenizer.EndOfTextId);
        Assert.Equal(Eos, Tokenizer.PadId);
    }

    [Fact]
    public void EmptyAndWhitespaceOnlyGiveBosThenEosPadding()
    {
        foreach (string text in new[] { "", "   ", "\t\n " })
        {
            int[] ids = Tokenizer.Encode(text);
            Assert.Equal(77, ids.Length);
            Assert.Equal(Bos, ids[0]);
            Assert.All(ids.Skip(1), id => Assert.Equal(Eos, id));
        }
    }

    [Fact]
    public void LongTextIsTruncatedTo75PiecesThenEos()
    {
        string text = string.Join(" ", Enumerable.Repeat("cat", 200));
        IReadOnlyList<int> pieces = Tokenizer.EncodeUnpadded(text);
        Assert.Equal(200, pieces.Count);
        int[] ids = Tokenizer.Encode(text);
        Assert.Equal(77, ids.Length);
        Assert.Equal(Bos, ids[0]);
        Assert.All(ids.Skip(1).Take(75), id => Assert.Equal(2368, id)); // "cat</w>" (golden "a photo of a cat")
        Assert.Equal(Eos, ids[76]);
    }

    [Fact]
    public void SeventyFivePiecesFitExactly()
    {
        string text = string.Join(" ", Enumerable.Repeat("cat", 75));
        int[] ids = Tokenizer.Encode(text);
        Assert.All(ids.Skip(1).Take(75), id => Assert.Equal(2368, id));
        Assert.Equal(Eos, ids[76]);
    }

    [Fact]
    public void EachDigitIsItsOwnToken()
    {
        // CLIP's pattern matches [\p{N}] one character at a time; "0</w>".."9</w>" are ids 271..280.
        Assert.Equal(new[] { 272, 273, 274, 275, 276, 277, 278, 279, 280, 271 }, Tokenizer.EncodeUnpadded("1234567890"));
        Assert.Equal(Tokenizer.EncodeUnpadded("1 2 3"), Tokenizer.EncodeUnpadded("123"));
    }

    [Fact]
    public void PunctuationRunsAreOneWordAndCaseAndSpacingDoNotMatter()
    {
        Assert.Equal(Tokenizer.EncodeUnpadded("a photo of a cat!!"), Tokenizer.EncodeUnpadded("  A PHOTO\tof\n a  Cat!! "));
        IReadOnlyList<int> bang = Tokenizer.EncodeUnpadded("!!");
        Assert.Equal(new[] { 748 }, bang); // "!!</w>" (golden "A Photo OF   a CAT!!")
        Assert.NotEqual(Tokenizer.EncodeUnpadded("! !"), bang);
    }

    [Fact]
    public void UnicodeIsEncodedThroughUtf8Bytes()
    {
        // Characters outside the merges still encode (byte-level: every UTF-8 byte has a token), never to an unknown id.
        foreach (string text in new[] { "猫の写真", "🐱🚀", "Ωμέγα", "\u0000x" })
        {
            IReadOnlyList<int> ids = Tokenizer.EncodeUnpadded(text);
            Assert.NotEmpty(ids);
            Assert.All(ids, id => Assert.InRange(id, 0, Bos - 1));
        }
    }

    [Fact]
    public void FtfyAndHtmlCleanupApply()
    {
        Assert.Equal(Tokenizer.EncodeUnpadded("it's"), Tokenizer.EncodeUnpadded("it\u2019s"));     // curly quote
        Assert.Equal(Tokenizer.EncodeUnpadded("fish & chips"), Tokenizer.EncodeUnpadded("fish &amp;amp; chips")); // unescaped twice
        Assert.Equal(Tokenizer.EncodeUnpadded("fi"), Tokenizer.EncodeUnpadded("\ufb01"));          // ligature
        Assert.Equal(Tokenizer.EncodeUnpadded("cat 1"), Tokenizer.EncodeUnpadded("\uff23\uff21\uff34\u3000\uff11")); // full width
    }

    [Fact]
    public void SpecialTokensInTextMapToTheirIds()
    {
        Assert.Equal(new[] { Bos, 3306, Eos }, Tokenizer.EncodeUnpadded("<|startoftext|>hello<|endoftext|>"));
        // Split out before the word pattern, as Hugging Face's CLIPTokenizer does: "," stays its own word (267 = ",</w>").
        Assert.Equal(new[] { 320, 267, Eos }, Tokenizer.EncodeUnpadded("a,<|endoftext|>"));
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        string dir = TestPaths.NewTempDir("tokenizer");
        try
        {
            var e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("vocab.json", e.Message);
            File.Copy(Path.Combine(TokenizerDir, "vocab.json"), Path.Combine(dir, "vocab.json"));
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("merges.txt", e.Message);
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(Path.Combine(dir, "absent")));
            Assert.Contains("does not exist", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MalformedFilesAreNamed()
    {
        string dir = TestPaths.NewTempDir("tokenizer");
        try
        {
            File.WriteAllText(Path.Combine(dir, "vocab.json"), "[1, 2");
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\ni n\n");
            var e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("vocab.json", e.Message);

            File.WriteAllText(Path.Combine(dir, "vocab.json"), "[1, 2]");
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("holds Array instead of a token -> id object", e.Message);

            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"i\": 0, \"n\": \"one\"}");
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("token 'n' maps to \"one\", not an integer id", e.Message);

            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"i\": 0, \"n\": 1, \"in\": 2}");
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("<|startoftext|>", e.Message);

            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\ni n x\n");
            e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
            Assert.Contains("merges.txt line 2", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertIds(string text, int[] expected, int[] actual)
    {
        Assert.Equal(77, actual.Length);
        int first = Enumerable.Range(0, 77).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(first < 0,
            $"text \"{text}\": first mismatch at position {first}: expected {(first >= 0 ? expected[first] : 0)}, got {(first >= 0 ? actual[first] : 0)}\n" +
            $"expected {string.Join(' ', expected.Take(24))} ...\nactual   {string.Join(' ', actual.Take(24))} ...");
    }
}
